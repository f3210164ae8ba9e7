from django.db import migrations


class Migration(migrations.Migration):
    """The permission to download a bank file (its bytes hold every payee's full 身份证号 and account)."""

    dependencies = [
        ('bank', '0004_line_references_unchecked'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='bankfile',
            options={'ordering': ['-id'], 'permissions': [('download_file', '下载报盘文件（含完整账号）')],
                     'verbose_name': '报盘文件'},
        ),
    ]
