from django.db import migrations


def create_roles(apps, schema_editor):
    # Permissions are created after migrations (post_migrate); `shebao setup` and user_create call
    # roles_sync() to attach them. Here only the groups are made so they exist from the start.
    Group = apps.get_model("auth", "Group")
    for code in ["clerk", "reviewer", "finance", "it_admin", "sys_admin"]:
        Group.objects.get_or_create(name=code)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
