from django.db import migrations

# 减员 for a reason other than death or transfer (e.g. 取消待遇资格): ends payment after the last month.
REASON = {"code": "exit_other", "name": "其他减员", "pays_on_resume": False, "terminates": True, "sort": 8}


def seed(apps, schema_editor):
    SuspensionReason = apps.get_model("benefits", "SuspensionReason")
    defaults = {k: v for k, v in REASON.items() if k != "code"}
    SuspensionReason.objects.get_or_create(code=REASON["code"], defaults=defaults)


class Migration(migrations.Migration):
    dependencies = [("benefits", "0002_seed")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
