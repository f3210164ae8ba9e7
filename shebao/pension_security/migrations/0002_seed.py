"""Seed data of 养老保障: the 生活补助 item of scheme BZ (the seeded 养老保障金 is the 养老金 after
conversion), the 退保 termination reason, two categories (conversion ages men 60, women 55; refund =
paid in − received, floor 0) and their standards from 2020-01. All of it is data (rows of the tables;
no edit page yet)."""

import datetime as dt
from decimal import Decimal

from django.db import migrations

CATEGORIES = [
    # code, name, sort, subsidy (生活补助), pension (养老金)
    ("land", "被征地人员养老保障", 1, "320.00", "860.00"),
    ("elder", "老年农民生活补助", 2, "240.00", "620.00"),
]


def seed(apps, schema_editor):
    Scheme = apps.get_model("benefits", "Scheme")
    BenefitItem = apps.get_model("benefits", "BenefitItem")
    SuspensionReason = apps.get_model("benefits", "SuspensionReason")
    Category = apps.get_model("pension_security", "Category")
    Standard = apps.get_model("pension_security", "CategoryStandard")
    scheme = Scheme.objects.get(code="BZ")
    pension = BenefitItem.objects.get(scheme=scheme, code="basic")
    living, _ = BenefitItem.objects.get_or_create(scheme=scheme, code="living", defaults={
        "name": "生活补助", "recurring": True, "is_basic": False, "sort": 2})
    SuspensionReason.objects.get_or_create(code="withdrawal", defaults={
        "name": "退保", "pays_on_resume": False, "terminates": True, "sort": 9})
    for code, name, sort, subsidy, monthly in CATEGORIES:
        category, _ = Category.objects.get_or_create(code=code, defaults={
            "name": name, "sort": sort, "conversion_age_male": 60, "conversion_age_female": 55})
        Standard.objects.get_or_create(category=category, phase="subsidy", from_month=dt.date(2020, 1, 1),
                                       defaults={"item": living, "amount": Decimal(subsidy)})
        Standard.objects.get_or_create(category=category, phase="pension", from_month=dt.date(2020, 1, 1),
                                       defaults={"item": pension, "amount": Decimal(monthly)})


class Migration(migrations.Migration):
    dependencies = [("pension_security", "0001_initial"), ("benefits", "0003_seed_exit_other")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
