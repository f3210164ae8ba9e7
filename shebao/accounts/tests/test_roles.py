"""Role permissions: every permission named in ROLE_PERMISSIONS exists; roles_sync gives users who
already exist a permission added later; payroll and 自管人员 permissions by role."""

import pytest
from django.contrib.auth.models import Group, Permission

from shebao.accounts.models import Role, User
from shebao.accounts.roles import ROLE_PERMISSIONS
from shebao.accounts.services import roles_sync, user_create

pytestmark = pytest.mark.django_db


def _user(username, *roles):
    user = user_create(actor=None, username=username, full_name=username, password="Passw0rd!x", roles=list(roles),
                       all_regions=True, must_change_password=False)
    return User.objects.get(pk=user.pk)


def test_every_role_permission_exists():
    for role, perms in ROLE_PERMISSIONS.items():
        for dotted in perms:
            app_label, codename = dotted.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), (
                role, dotted)


def test_roles_hold_payroll_and_zg_permissions():
    clerk, reviewer, finance = _user("c", "clerk"), _user("r", "reviewer"), _user("f", "finance")
    assert clerk.has_perms(["payroll.view_payrollrun", "payroll.compute_run", "payroll.export_run",
                            "self_managed.view_zg", "self_managed.manage_zg", "self_managed.add_income"])
    assert not clerk.has_perm("accounts.review")
    assert reviewer.has_perms(["payroll.view_payrollrun", "accounts.review", "self_managed.view_zg",
                               "self_managed.view_income"])
    assert not any(reviewer.has_perm(p) for p in ("payroll.compute_run", "payroll.export_run",
                                                  "self_managed.manage_zg", "self_managed.add_income"))
    # finance: reads payroll and 自管人员, records and reviews income; computes, exports and approves nothing
    assert finance.has_perms(["payroll.view_payrollrun", "self_managed.view_zg", "self_managed.view_income",
                              "self_managed.add_income", "accounts.finance_review"])
    assert not any(finance.has_perm(p) for p in ("payroll.compute_run", "payroll.export_run", "accounts.review",
                                                 "self_managed.manage_zg"))


def test_roles_sync_gives_existing_users_a_new_permission():
    clerk = _user("old_clerk", "clerk")
    group = Group.objects.get(name=Role.CLERK)
    group.permissions.remove(Permission.objects.get(content_type__app_label="payroll", codename="compute_run"))
    assert not User.objects.get(pk=clerk.pk).has_perm("payroll.compute_run")  # as before the upgrade
    roles_sync()
    assert User.objects.get(pk=clerk.pk).has_perm("payroll.compute_run")
    # and it is exact: a permission no role names is taken away
    group.permissions.add(Permission.objects.get(content_type__app_label="accounts", codename="manage_users"))
    roles_sync()
    assert not User.objects.get(pk=clerk.pk).has_perm("accounts.manage_users")
