"""What each role may do: Django groups named by role code, holding these permissions.

``roles_sync()`` makes the groups hold exactly these (it runs in ``make run`` and ``shebao setup``
after migrate, so users who already exist get a new permission through their role group)."""

from shebao.accounts.models import Role

REGISTRY_VIEW = "registry.view_person"

# payroll (月度结算) and the bank interface (报盘/回盘). Approving a run and writing a line off is
# ``accounts.review`` (the payroll service checks it: maker-checker).
PAYROLL_VIEW = "payroll.view_payrollrun"  # runs, lines, files sent, returns, month-end figures (read)
PAYROLL_COMPUTE = "payroll.compute_run"  # 结算: compute, recompute, 零星发放, 二次报盘
PAYROLL_EXPORT = "payroll.export_run"  # 报盘 and 回盘 import
BANK_DOWNLOAD = "bank.download_file"  # 下载报盘文件: the file's bytes, every payee's full numbers (audited)
REVIEW = "accounts.review"

# 自管人员 (shebao.self_managed)
ZG_VIEW = "self_managed.view_zg"  # lists, person pages, 综合查询, exports
ZG_MANAGE = "self_managed.manage_zg"  # 经办: enroll, 减员, status, amounts, 补发/扣减, roster, raise, 灵活支付
ZG_INCOME_VIEW = "self_managed.view_income"
ZG_INCOME_ADD = "self_managed.add_income"  # 收入: money coming back (reduces an open 扣减)

# 老农保 (shebao.rural_pension); the legacy import is ``accounts.it_ops``
NB_VIEW = "rural_pension.view_ruralaccount"  # 查询, yearly table, documents
NB_EDIT = "rural_pension.change_ruralaccount"  # 信息修改
NB_REFUND = "rural_pension.add_ruraldocument"  # 退款 (quote, settle, print 结算单)
NB_ROLLBACK = "rural_pension.change_ruraldocument"  # 退款回退
NB_RATES = "rural_pension.change_creditedrate"  # 记账利率 (recomputes every account)

# 数据维护 (shebao.maintenance): a clerk proposes a correction, a reviewer (``REVIEW``) approves it
MAINT_VIEW = "maintenance.view_correctionrequest"
MAINT_PROPOSE = "maintenance.add_correctionrequest"
MAINT_COMPARE = "maintenance.compare_files"  # 数据比对 and 转换 of uploaded files
MAINT_QUERY_RUN = "maintenance.run_query"  # 临时数据统计: run saved queries (own towns and schemes)
MAINT_QUERY_MANAGE = "maintenance.manage_query"  # define them (信息科)
# 社会保险特殊业务 (shebao.finance): the ledger of money outside the payrolls
TS_VIEW = "finance.view_ledger"
TS_MANAGE = "finance.manage_ledger"  # 收支录入/修改/删除, 收款方登记, 经银行支付
TS_ARRIVAL = "finance.confirm_arrival"  # 到账确认
TS_REVIEW = "finance.review_ledger"  # 复核 (another user than the maker) and 红冲
TS_TYPES = "finance.manage_types"  # 业务类型 (data)
# 回流库 (shebao.warehouse): IT keeps the dictionary, loads, rules and the SQL console; clerks read the
# dictionary, run saved queries and work the audit's findings
WH_VIEW = "warehouse.view_wh"
WH_LOAD = "warehouse.load_wh"
WH_AUDIT = "warehouse.audit_wh"
WH_QUERY = "warehouse.query_wh"
WH_CONSOLE = "warehouse.console_wh"
# 原遗留养老系统 archive (shebao.archive): clerks and reviewers look a person up in it; IT loads it
ARCH_VIEW = "archive.view_archive"
ARCH_LOAD = "archive.load_archive"

# "app_label.codename" of the permissions each role holds. Later subsystems add theirs here.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CLERK: [REGISTRY_VIEW, "registry.add_person", "registry.change_person",
                 "registry.add_bankaccount", "registry.change_bankaccount",
                 PAYROLL_VIEW, PAYROLL_COMPUTE, PAYROLL_EXPORT, BANK_DOWNLOAD,
                 ZG_VIEW, ZG_MANAGE, ZG_INCOME_VIEW, ZG_INCOME_ADD,
                 NB_VIEW, NB_EDIT, NB_REFUND, NB_ROLLBACK,
                 MAINT_VIEW, MAINT_PROPOSE, MAINT_COMPARE, MAINT_QUERY_RUN],
    # the rate table changes every account's interest: a reviewer's act, not a clerk's
    Role.REVIEWER: [REGISTRY_VIEW, REVIEW, PAYROLL_VIEW, ZG_VIEW, ZG_INCOME_VIEW, NB_VIEW, NB_RATES,
                    MAINT_VIEW, MAINT_COMPARE, MAINT_QUERY_RUN],
    # finance reads payroll and 自管人员, and records/reviews income
    Role.FINANCE: [REGISTRY_VIEW, "accounts.finance_review", PAYROLL_VIEW, ZG_VIEW, ZG_INCOME_VIEW, ZG_INCOME_ADD,
                    NB_VIEW, MAINT_QUERY_RUN],
    Role.IT_ADMIN: [REGISTRY_VIEW, "accounts.it_ops", "accounts.view_audit", ZG_VIEW, NB_VIEW, MAINT_COMPARE,
                    MAINT_QUERY_RUN, MAINT_QUERY_MANAGE],
    Role.SYS_ADMIN: ["accounts.manage_users", "accounts.view_audit", REGISTRY_VIEW],
}
# 生存认证 (shebao.certification): clerks record certifications and deaths; the county-wide sweep and
# file import are a clerk's too (the rule asks 全市范围 besides); the others read.
CERT_VIEW = "certification.view_certification"
ROLE_PERMISSIONS[Role.CLERK] += [CERT_VIEW, "certification.add_certification", "certification.record_death",
                                 "certification.run_sweep", "certification.manage_community"]
for _role in (Role.REVIEWER, Role.FINANCE, Role.IT_ADMIN):
    ROLE_PERMISSIONS[_role] += [CERT_VIEW]
# 社区专管员: the due list and certifications of the 村社区 held (User.regions holding communities)
ROLE_PERMISSIONS[Role.COMMUNITY] = [CERT_VIEW, "certification.add_certification"]
ROLE_PERMISSIONS[Role.CLERK] += [TS_VIEW, TS_MANAGE]
ROLE_PERMISSIONS[Role.REVIEWER] += [TS_VIEW, TS_REVIEW]
ROLE_PERMISSIONS[Role.FINANCE] += [TS_VIEW, TS_MANAGE, TS_ARRIVAL, TS_REVIEW, TS_TYPES]
ROLE_PERMISSIONS[Role.CLERK] += [WH_VIEW, WH_AUDIT, WH_QUERY]
ROLE_PERMISSIONS[Role.REVIEWER] += [WH_VIEW, WH_QUERY]
ROLE_PERMISSIONS[Role.IT_ADMIN] += [WH_VIEW, WH_LOAD, WH_AUDIT, WH_QUERY, WH_CONSOLE]
ROLE_PERMISSIONS[Role.CLERK] += [ARCH_VIEW]
ROLE_PERMISSIONS[Role.REVIEWER] += [ARCH_VIEW]
ROLE_PERMISSIONS[Role.IT_ADMIN] += [ARCH_VIEW, ARCH_LOAD]
# 土保补贴 (shebao.land_subsidy): clerks keep the persons, the categories and their rules; the others read
TB_VIEW = "land_subsidy.view_tb"  # persons, person pages, yearly rosters (年度发放明细), exports
TB_MANAGE = "land_subsidy.manage_tb"  # 经办: edit, import, categories and amount rules
ROLE_PERMISSIONS[Role.CLERK] += [TB_VIEW, TB_MANAGE]
for _role in (Role.REVIEWER, Role.FINANCE, Role.IT_ADMIN):
    ROLE_PERMISSIONS[_role] += [TB_VIEW]
# 养老保障 (shebao.pension_security): clerks keep the persons and propose benefits; a reviewer approves
# (待遇核准, never the proposer: the database refuses it); the others read
BZ_VIEW = "pension_security.view_bz"
BZ_MANAGE = "pension_security.manage_bz"
# 类别与标准 (conversion ages, refund formula, monthly standards) decide what every new approval and
# conversion pays: a reviewer's act, as the 老农保 rate table is, not the clerk's who proposes
BZ_CATEGORY = "pension_security.manage_bz_category"
ROLE_PERMISSIONS[Role.CLERK] += [BZ_VIEW, BZ_MANAGE]
ROLE_PERMISSIONS[Role.REVIEWER] += [BZ_CATEGORY]
for _role in (Role.REVIEWER, Role.FINANCE, Role.IT_ADMIN):
    ROLE_PERMISSIONS[_role] += [BZ_VIEW]
