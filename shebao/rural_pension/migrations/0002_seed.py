import datetime as dt
from decimal import Decimal

from django.db import migrations


def seed(apps, schema_editor):
    BenefitCoefficient = apps.get_model("rural_pension", "BenefitCoefficient")
    BenefitCoefficient.objects.get_or_create(
        from_month=dt.date(1992, 1, 1),
        defaults={"coefficient": Decimal("0.008631526"), "note": "交费领取计算表（演示参数，请按实际计算表维护）"},
    )


class Migration(migrations.Migration):
    dependencies = [("rural_pension", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
