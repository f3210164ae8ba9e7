"""The left menu, as data. Subsystems are groups in the agency's order (SPEC); each entry names a URL
or, while its page is not built, leads to the one honest 建设中 page (``web:wip``).

Later apps fill in their pages from ``AppConfig.ready()``::

    from shebao.web import menu
    menu.set_url("zg.persons", "self_managed:person_list")            # an existing entry is built
    menu.add_entry("zg", "zg.overpaid", _("多发追回"), url_name="self_managed:overpaid",
                   perm="self_managed.view_overpayment", order=75)      # a new entry

``build_menu(request)`` gives what the templates draw: only the entries the user may open, each URL
reversed (an entry whose URL name does not resolve falls back to its 建设中 page, so a missing view
never breaks the menu), and the active group/entry found from the request path.

Whether an entry is shown is asked of the policy layer (``shebao.common.policy``), never decided here:
the entry's own rule (``rule``, or ``perm`` with ``scheme``: an NB-only clerk does not see 自管人员
entries) AND the rule of the page it leads to (``view.policy``, put there by ``web.guards.page``), so a
menu never offers a link that answers 403. An entry registered with neither is a 建设中 page, open to
anyone signed in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.translation import gettext_lazy as _

from shebao.common import policy
from shebao.common.policy import SIGNED_IN, Rule


@dataclass
class MenuEntry:
    key: str  # unique, "<group>.<name>", also the 建设中 page's slug
    label: str
    url_name: str | None = None  # None → 建设中
    url_kwargs: dict = field(default_factory=dict)
    perm: str | None = None  # shown only to users with this permission
    order: int = 100
    note: str = ""  # what the page will do; shown on the 建设中 page
    scheme: str | None = None  # the scheme the entry works in ("ZG", "NB"): hidden from users without it
    rule: Rule | None = None  # instead of perm: the entry's whole rule

    def __setattr__(self, name, value) -> None:
        super().__setattr__(name, value)
        _changed()  # an entry changed in place (a test, a late set_url): the cached menus start over

    def own_rule(self) -> Rule:
        """The entry's own rule (the page's is checked besides, see ``entry_visible``)."""
        if self.rule is not None:
            return self.rule
        if self.perm:
            return Rule(perms=(self.perm,), scheme=self.scheme)
        return SIGNED_IN


@dataclass
class MenuGroup:
    key: str
    label: str
    order: int
    number: str = ""  # the subsystem's number in SPEC ("1".."11"), "" for shell groups
    icon: str = ""
    entries: list[MenuEntry] = field(default_factory=list)

    def entry(self, key: str) -> MenuEntry | None:
        return next((e for e in self.entries if e.key == key), None)


@dataclass
class ResolvedEntry:
    key: str
    label: str
    url: str
    built: bool
    active: bool = False


@dataclass
class ResolvedGroup:
    key: str
    label: str
    number: str
    entries: list[ResolvedEntry]
    active: bool = False


_GROUPS: dict[str, MenuGroup] = {}
_VERSION = [0]  # bumped by every change to the menu, so the per-process caches below start over


def _changed() -> None:
    _VERSION[0] += 1


def add_group(key: str, label, *, order: int, number: str = "") -> MenuGroup:
    if key in _GROUPS:
        raise ValueError(f"menu group {key!r} already exists")
    group = MenuGroup(key=key, label=label, order=order, number=number)
    _GROUPS[key] = group
    _changed()
    return group


def add_entry(group_key: str, key: str, label, *, url_name: str | None = None, url_kwargs: dict | None = None,
              perm: str | None = None, order: int | None = None, note: str = "", scheme: str | None = None,
              rule: Rule | None = None) -> MenuEntry:
    group = _GROUPS[group_key]
    if find_entry(key) is not None:
        raise ValueError(f"menu entry {key!r} already exists")
    entry = MenuEntry(key=key, label=label, url_name=url_name, url_kwargs=url_kwargs or {}, perm=perm,
                      order=order if order is not None else (len(group.entries) + 1) * 10, note=note,
                      scheme=scheme, rule=rule)
    group.entries.append(entry)
    group.entries.sort(key=lambda e: e.order)
    _changed()
    return entry


def set_url(key: str, url_name: str, *, perm: str | None = None, url_kwargs: dict | None = None,
            scheme: str | None = None, rule: Rule | None = None) -> MenuEntry:
    """Point an existing (建设中) entry at its real page."""
    entry = find_entry(key)
    if entry is None:
        raise KeyError(f"no menu entry {key!r}")
    entry.url_name = url_name
    entry.url_kwargs = url_kwargs or {}
    if perm is not None:
        entry.perm = perm
    if scheme is not None:
        entry.scheme = scheme
    if rule is not None:
        entry.rule = rule
    _changed()
    return entry


def groups() -> list[MenuGroup]:
    return sorted(_GROUPS.values(), key=lambda g: g.order)


def find_entry(key: str) -> MenuEntry | None:
    for group in _GROUPS.values():
        entry = group.entry(key)
        if entry is not None:
            return entry
    return None


def find_group_of(key: str) -> MenuGroup | None:
    return next((g for g in _GROUPS.values() if g.entry(key) is not None), None)


def wip_url(key: str) -> str:
    return reverse("web:wip", kwargs={"key": key})


def entry_url(entry: MenuEntry) -> tuple[str, bool]:
    """(url, built): the entry's page, or its 建设中 page when it has none or it does not resolve."""
    if entry.url_name:
        try:
            return reverse(entry.url_name, kwargs=entry.url_kwargs or None), True
        except NoReverseMatch:
            pass
    return wip_url(entry.key), False


def _page_allows(user, url: str, entry: MenuEntry) -> bool:
    """Whether the page at ``url`` lets ``user`` in: its ``page`` rule (in the entry's scheme, or the
    scheme its URL names)."""
    try:
        view = resolve(url.split("?")[0]).func
    except Resolver404:
        return True
    rule = getattr(view, "policy", None)
    if rule is not None:
        kwarg = getattr(view, "policy_scheme_kwarg", None)
        scheme = entry.scheme or (entry.url_kwargs.get(kwarg) if kwarg else None)
        return policy.allows(user, rule, scheme=scheme)
    return True  # no page lacks a rule (tests/authz/test_completeness.py)


def entry_visible(user, entry: MenuEntry) -> bool:
    """Shown only when the policy lets ``user`` open it: the entry's own rule and its page's rule."""
    if not policy.allows(user, entry.own_rule(), scheme=entry.scheme):
        return False
    url, built = entry_url(entry)
    return not built or _page_allows(user, url, entry)


# What a user sees of the menu depends only on what the policy layer looks at (active, superuser, the
# permissions, the schemes, 全市范围) and the language: the visible entries and their URLs are worked out
# once per such profile and process (resolving ~100 URLs and rules took more time than the page's own
# queries) and reused; only the active entry is marked per request. Kept for a few minutes at most, a
# bounded number of profiles.
_PROFILE_TTL = 300.0
_PROFILE_MAX = 256
_profiles: dict[tuple, tuple[float, list[ResolvedGroup]]] = {}
_html: dict[tuple, str] = {}


def _profile_key(user) -> tuple:
    from django.utils.translation import get_language

    perms = frozenset() if user.is_superuser else frozenset(user.get_all_permissions())
    return (_VERSION[0], get_language(), bool(user.is_active), bool(user.is_superuser), perms,
            bool(getattr(user, "all_schemes", True)), tuple(sorted(getattr(user, "schemes", None) or ())),
            bool(getattr(user, "all_regions", False)))


def _visible_groups(user) -> list[ResolvedGroup]:
    result: list[ResolvedGroup] = []
    for group in groups():
        entries = []
        for entry in group.entries:
            if not entry_visible(user, entry):
                continue
            url, built = entry_url(entry)
            entries.append(ResolvedEntry(key=entry.key, label=entry.label, url=url, built=built))
        if entries:
            result.append(ResolvedGroup(key=group.key, label=group.label, number=group.number, entries=entries))
    return result


def _profile_groups(user, key: tuple) -> list[ResolvedGroup]:
    now = time.monotonic()
    cached = _profiles.get(key)
    if cached is not None and now - cached[0] < _PROFILE_TTL:
        return cached[1]
    if len(_profiles) >= _PROFILE_MAX:
        _profiles.clear()
        _html.clear()
    groups_ = _visible_groups(user)
    _profiles[key] = (now, groups_)
    return groups_


def _find_active(shared: list[ResolvedGroup], path: str) -> tuple[ResolvedGroup | None, ResolvedEntry | None]:
    """The group and entry of the current page: the longest entry URL that prefixes the path ("/" only
    matches itself)."""
    best: tuple[int, ResolvedEntry | None, ResolvedGroup | None] = (-1, None, None)
    for group in shared:
        for entry in group.entries:
            url_path = entry.url.split("?")[0]
            matches = path == url_path or (url_path != "/" and path.startswith(url_path))
            if matches and len(url_path) > best[0]:
                best = (len(url_path), entry, group)
    return best[2], best[1]


def _shell_state(request) -> tuple[tuple, list[ResolvedGroup], ResolvedGroup | None, ResolvedEntry | None]:
    """(profile key, the profile's shared menu, active group, active entry), once per request."""
    state = getattr(request, "_shell_menu_state", None)
    if state is None:
        key = _profile_key(request.user)
        shared = _profile_groups(request.user, key)
        state = (key, shared, *_find_active(shared, request.path))
        request._shell_menu_state = state
    return state


def build_menu(request) -> list[ResolvedGroup]:
    """The menu groups ``request.user`` may open, the entry of the current page (the longest entry URL
    that prefixes the path) and its group marked ``active``. Fresh objects: a caller may change them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    key, shared, active_group, active_entry = _shell_state(request)
    result: list[ResolvedGroup] = []
    for group in shared:
        rg = ResolvedGroup(key=group.key, label=group.label, number=group.number, active=group is active_group,
                           entries=[ResolvedEntry(key=e.key, label=e.label, url=e.url, built=e.built,
                                                  active=e is active_entry) for e in group.entries])
        result.append(rg)
    request._shell_menu_key = (key, active_entry.key if active_entry is not None else "")
    return result


def menu_html(request, built: list[ResolvedGroup] | None = None) -> str:
    """The side menu's HTML (``web/partials/sidemenu.html``), rendered once per profile, language and
    active entry and process (see ``build_menu``); the menu is copied and rendered only when missing."""
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    key, _shared, _group, active_entry = _shell_state(request)
    html_key = (key, active_entry.key if active_entry is not None else "")
    html = _html.get(html_key)
    if html is None:
        html = render_to_string("web/partials/sidemenu.html",
                                {"shell_menu": list(built) if built is not None else build_menu(request)})
        _html[html_key] = html
    return mark_safe(html)  # rendered by the template engine (escaped there)


def shell_trail(request) -> list[tuple[str, str]]:
    """``active_trail`` of the request's page, found in the profile's shared menu (no copy of it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    _key, _shared, group, entry = _shell_state(request)
    if group is None:
        return []
    trail = [(str(group.label), "")]
    if entry is not None:
        if str(entry.label) == str(group.label):
            trail = []
        trail.append((str(entry.label), entry.url))
    return trail


def active_trail(menu: list[ResolvedGroup]) -> list[tuple[str, str]]:
    """Breadcrumb items [(label, url)] for the active group and entry, if any."""
    for group in menu:
        if group.active:
            entry = next((e for e in group.entries if e.active), None)
            trail = [(str(group.label), "")]
            if entry is not None:
                if str(entry.label) == str(group.label):
                    trail = []
                trail.append((str(entry.label), entry.url))
            return trail
    return []


# ---------------------------------------------------------------------------------------------
# The menu as the agency knows it. Entries without url_name are not built yet (建设中).

def _seed() -> None:
    add_group("person", _("人员查询"), order=0)
    add_entry("person", "person.search", _("人员查询"), url_name="registry:person_list", order=10)
    add_entry("person", "person.create", _("新增人员"), url_name="registry:person_create",
              perm="registry.add_person", order=20)

    subsystems = [
        ("zg", "1", _("自管人员管理支付"), [
            ("persons", _("人员管理"), _("增员、减员（死亡、转出、其他），维护基本信息和支付账户")),
            ("benefits", _("待遇管理"), _("发放状态（正常/暂停/恢复/终止）、待遇项目与金额、补发和扣减")),
            ("raise", _("批量调待"), _("按规则批量调整待遇，含追溯补发")),
            ("payroll", _("月度结算"), _("月度结算与审核")),
            ("bankfile", _("报盘"), _("生成银行代发文件")),
            ("oneoff", _("零星发放"), _("零星发放批量导出")),
            ("stats", _("统计"), _("月末人数和金额统计")),
            ("query", _("综合查询"), _("人员信息和全部发放历史")),
            ("roster", _("花名册"), _("花名册导入导出、认证记录")),
            ("flex", _("灵活支付和收入"), _("一次性支付；追回多发、退回款等收入")),
        ]),
        ("shgl", "2", _("自管人员社会化管理"), [
            ("persons", _("人员维护"), _("增减人员、维护基本信息")),
            ("community", _("社区与联系人"), _("人员所属社区、联系人和电话")),
            ("certification", _("生存认证"), _("当前生存状态、认证历史和到期日")),
            ("due", _("到期提醒"), _("未来 N 天内应认证的人员")),
        ]),
        ("nb", "3", _("老农保管理支付"), [
            ("query", _("查询"), _("参保、缴费、退保、支付、待遇享受")),
            ("edit", _("信息修改"), _("基本信息修改")),
            ("accounts", _("个人年账户明细"), _("按年的期初、缴费、支付、利率、利息、期末")),
            ("refund", _("退款"), _("计算并结算退款，打印结算单")),
            ("rollback", _("退款回退"), _("回退本月的退款")),
            ("rates", _("记账利率"), _("维护每年的记账利率")),
        ]),
        ("bz", "4", _("养老保障人员管理支付"), [
            ("persons", _("人员信息"), _("人员、类别、缴费记录、支付账户；花名册导入导出")),
            ("approval", _("待遇核准"), _("经办申报，另一人核准或退回")),
            ("conversion", _("到龄转换"), _("到龄由生活补助转为养老金")),
            ("suspension", _("暂停恢复"), _("暂停、恢复发放，生存认证暂停")),
            ("adjust", _("补发扣发"), _("补发和扣减")),
            ("raise", _("增资"), _("按规则文件批量增资，含追溯补发")),
            ("payroll", _("应付实付与报盘发放"), _("每人每月应付、实付、尚欠")),
            ("settlement", _("退保清算"), _("退保或死亡：缴费减已领，打印结算单")),
            ("reports", _("报表"), _("按类别、状态、镇街道；转换和清算")),
        ]),
        ("tb", "5", _("土保补贴"), [
            ("persons", _("人员数据"), _("土保补贴人员、补贴类别、征地信息和支付账户")),
            ("import", _("人员导入"), _("按文件导入，先预览，有错误整个文件不导入")),
            ("categories", _("补贴类别与标准"), _("每个类别的年补贴金额和享受条件（认定日的状态和年龄）")),
            ("roster", _("年度发放明细"), _("年度发放、审核、导出明细")),
            ("bankfile", _("报盘与回盘"), _("银行文件、回盘导入、失败记录二次报盘")),
        ]),
        ("ts", "6", _("社会保险特殊业务"), [
            ("payees", _("收款方登记"), _("户名、开户行、账号")),
            ("expenditure", _("支出"), ""),
            ("income", _("收入"), ""),
            ("review", _("财务复核"), _("到账确认与复核")),
        ]),
        ("bank", "7", _("银行专线接口"), [
            ("files", _("报盘文件"), _("已发送的全部文件")),
            ("returns", _("回盘导入"), ""),
            ("lines", _("回盘明细查询"), ""),
            ("reissue", _("失败重发"), _("二次报盘，直至发放成功")),
            ("templates", _("银行模板"), _("各银行文件格式")),
        ]),
        ("maint", "8", _("数据维护"), [
            ("corrections", _("错误数据修改"), _("带原因和审核的数据更正")),
            ("batch", _("批量数据处理"), _("按文件批量更新，先预览")),
            ("queries", _("临时数据统计"), _("保存的查询")),
            ("compare", _("数据比对"), ""),
            ("convert", _("数据转换"), _("按保存的格式转换文件")),
        ]),
        ("legacy", "9", _("原遗留养老系统"), [
            ("query", _("历史数据查询"), _("2008 年及以前旧系统数据的查询和核对")),
        ]),
        ("wh", "10", _("省宁波回流数据库"), [
            ("dictionary", _("数据字典"), _("表、字段、注释、代码值")),
            ("loads", _("数据装载"), ""),
            ("rules", _("审核规则"), _("按本地规则审核、分组、汇总")),
            ("query", _("查询统计"), ""),
        ]),
        ("ops", "11", _("互联网络和安全"), [
            ("links", _("链路监测"), _("省、部、宁波应用的链路")),
            ("inspection", _("巡检"), _("设备、应用、数据库巡检")),
            ("backups", _("备份"), ""),
            ("security", _("安全"), ""),
        ]),
    ]
    # the scheme of the entries that work in one (the scheme's own apps say it again when they register
    # their pages); 月度结算, 报盘, 零星发放 and 统计 serve every scheme
    one_scheme = {"shgl": "ZG", "nb": "NB", "bz": "BZ"}
    zg_own = {"persons", "benefits", "raise", "query", "roster", "flex"}
    for order, (gkey, number, label, entries) in enumerate(subsystems, start=1):
        add_group(gkey, label, order=order * 10, number=number)
        for eorder, (ekey, elabel, note) in enumerate(entries, start=1):
            scheme = one_scheme.get(gkey) or ("ZG" if gkey == "zg" and ekey in zg_own else None)
            add_entry(gkey, f"{gkey}.{ekey}", elabel, order=eorder * 10, note=note, scheme=scheme)

    add_group("admin", _("系统管理"), order=1000)
    add_entry("admin", "admin.users", _("用户管理"), url_name="accounts:user_list",
              perm="accounts.manage_users", order=10, note=_("用户、角色、管辖范围"))
    add_entry("admin", "admin.audit", _("审计日志"), url_name="audit:list", perm="accounts.view_audit", order=20)
    add_entry("admin", "admin.periodic", _("定时任务"), url_name="jobs:periodic", perm="accounts.it_ops", order=30,
              note=_("后台定时运行的任务及其运行记录"))


_seed()
