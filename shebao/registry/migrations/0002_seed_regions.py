from django.db import migrations


def seed(apps, schema_editor):
    from shebao.registry.regions_data import seed_regions

    seed_regions(apps.get_model("registry", "Region"))


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
