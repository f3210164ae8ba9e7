"""Seed the shipped bank templates (standard, fixed_fen, xlsx) from ``shebao.bank.formats.builtin``.
A file keeps its own copy of the definition it was written with (``BankFile.definition``)."""

from django.db import migrations

from shebao.bank.formats.builtin import BUILTIN_TEMPLATES


def seed(apps, schema_editor):
    BankTemplate = apps.get_model("bank", "BankTemplate")
    for code, definition in BUILTIN_TEMPLATES.items():
        BankTemplate.objects.update_or_create(
            code=code, defaults={"name": definition["name"], "definition": definition, "builtin": True},
        )


def unseed(apps, schema_editor):
    apps.get_model("bank", "BankTemplate").objects.filter(builtin=True, files__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("bank", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
