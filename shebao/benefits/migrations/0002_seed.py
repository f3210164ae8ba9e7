from django.db import migrations

SCHEMES = [("ZG", "自管人员", 1), ("NB", "老农保", 2), ("BZ", "养老保障", 3), ("TB", "土保补贴", 4)]
ITEMS = {
    "ZG": [("basic", "基本养老金", True, True), ("extra", "统筹外补贴", True, False), ("living", "生活补贴", True, False)],
    "NB": [("basic", "养老金", True, True)],
    "BZ": [("basic", "养老保障金", True, True)],
    "TB": [("basic", "土保补贴", True, True)],
}
# code, name, pays_on_resume, terminates
REASONS = [
    ("no_cert", "未提供生存证明", True, False),
    ("prison", "判刑收监", False, False),
    ("missing", "下落不明", True, False),
    ("abroad", "出国(境)定居", False, False),
    ("other", "其他", False, False),
    ("death", "死亡", False, True),
    ("transfer", "转出", False, True),
]


def seed(apps, schema_editor):
    Scheme = apps.get_model("benefits", "Scheme")
    BenefitItem = apps.get_model("benefits", "BenefitItem")
    SuspensionReason = apps.get_model("benefits", "SuspensionReason")
    for code, name, sort in SCHEMES:
        scheme, _ = Scheme.objects.get_or_create(code=code, defaults={"name": name, "sort": sort})
        for i, (icode, iname, recurring, basic) in enumerate(ITEMS[code], start=1):
            BenefitItem.objects.get_or_create(
                scheme=scheme, code=icode,
                defaults={"name": iname, "recurring": recurring, "is_basic": basic, "sort": i},
            )
    for i, (code, name, pays, terminates) in enumerate(REASONS, start=1):
        SuspensionReason.objects.get_or_create(
            code=code, defaults={"name": name, "pays_on_resume": pays, "terminates": terminates, "sort": i}
        )


class Migration(migrations.Migration):
    dependencies = [("benefits", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
