"""Bank and return files are stored as they are (STORAGE EXTERNAL: out of line, not compressed).

PostgreSQL compresses a large value with pglz before it stores it (lz4 is not in every build we run on:
the embedded server has only pglz). For an export's 6.4 MB file of 80,000 lines that was 60–110 ms of
the server's CPU inside the export's transaction, and the same again for each return imported — for a
saving of a few MB per file on disk. Only values written from now on are affected."""

from django.db import migrations

TABLES = ("bank_bankfile", "bank_returnfile")


class Migration(migrations.Migration):

    dependencies = [
        ("bank", "0008_channel_auto_deliver"),
    ]

    operations = [
        migrations.RunSQL([f"ALTER TABLE {t} ALTER COLUMN content SET STORAGE EXTERNAL" for t in TABLES],
                          reverse_sql=[f"ALTER TABLE {t} ALTER COLUMN content SET STORAGE EXTENDED" for t in TABLES]),
    ]
