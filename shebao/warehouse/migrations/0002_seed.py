"""Seed: the sources 省 and 宁波, the common 人社 data elements with the common codes, and the
cross-check rules (死亡后仍发放, 重复领取, 姓名不一致, 生存迹象). Idempotent."""

from django.db import migrations

ELEMENTS = [
    ("AAC001", "个人编号", "VARCHAR2(20)", "", "person_code"),
    ("AAC002", "公民身份号码", "VARCHAR2(18)", "", "id_number"),
    ("AAC003", "姓名", "VARCHAR2(50)", "", "name"),
    ("AAC004", "性别", "CHAR(1)", "AAC004", "sex"),
    ("AAC006", "出生日期", "DATE", "", "birth_date"),
    ("AAE140", "险种类型", "VARCHAR2(3)", "AAE140", "insurance"),
    ("AAC008", "参保状态", "CHAR(1)", "AAC008", "status"),
    ("AAE116", "待遇发放状态", "CHAR(1)", "AAE116", "pay_status"),
    ("AAE002", "发放年月", "NUMBER(6)", "", "month"),
    ("AAE019", "金额", "NUMBER(14,2)", "", "amount"),
    ("AAC060", "死亡日期", "DATE", "", "death_date"),
]
CODES = [
    ("AAC004", "1", "男"), ("AAC004", "2", "女"), ("AAC004", "9", "未说明"),
    ("AAE140", "110", "企业职工基本养老保险"), ("AAE140", "120", "机关事业单位养老保险"),
    ("AAE140", "170", "城乡居民基本养老保险"), ("AAE140", "210", "失业保险"),
    ("AAE140", "310", "职工基本医疗保险"), ("AAE140", "390", "城乡居民基本医疗保险"), ("AAE140", "410", "工伤保险"),
    ("AAC008", "1", "正常参保"), ("AAC008", "2", "暂停参保"), ("AAC008", "4", "终止参保"),
    ("AAE116", "1", "正常发放"), ("AAE116", "2", "暂停发放"), ("AAE116", "4", "终止发放"),
]
CROSS = [("死亡后仍发放", "death"), ("重复领取", "double"), ("同一身份证号姓名不一致", "name"),
         ("生存迹象（静默认证）", "life")]


def seed(apps, schema_editor):
    Source = apps.get_model("warehouse", "Source")
    Element = apps.get_model("warehouse", "Element")
    CodeValue = apps.get_model("warehouse", "CodeValue")
    AuditRule = apps.get_model("warehouse", "AuditRule")
    for name, code in (("省", "sheng"), ("宁波", "ningbo")):
        Source.objects.get_or_create(name=name, defaults={"code": code})
    for code, name, type_, cat, role in ELEMENTS:
        Element.objects.update_or_create(code=code, defaults={"name": name, "type": type_, "code_category": cat,
                                                              "role": role})
    for cat, value, meaning in CODES:
        CodeValue.objects.update_or_create(source=None, category=cat, value=value, defaults={"meaning": meaning})
    for name, kind in CROSS:
        if not AuditRule.objects.filter(kind=kind).exists():
            AuditRule.objects.create(name=name, kind=kind)


class Migration(migrations.Migration):
    dependencies = [("warehouse", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
