"""What each role may do: Django groups named by role code, holding these permissions."""

from shebao.accounts.models import Role

# "app_label.codename" of the permissions each role holds. Later subsystems add theirs here.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CLERK: ["registry.add_person", "registry.change_person", "registry.view_person",
                 "registry.add_bankaccount", "registry.change_bankaccount"],
    Role.REVIEWER: ["registry.view_person", "accounts.review"],
    Role.FINANCE: ["registry.view_person", "accounts.finance_review"],
    Role.IT_ADMIN: ["registry.view_person", "accounts.it_ops", "accounts.view_audit"],
    Role.SYS_ADMIN: ["accounts.manage_users", "accounts.view_audit", "registry.view_person"],
}
