"""Writes of the 回流库 besides landing and the dictionary (``landing``, ``dictionary``): deciding a
finding (confirm / dismiss with a note, accept evidence of life as a certification), audit rules and
saved queries."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from shebao.common import hooks
from shebao.common.audit import audit_record
from shebao.warehouse import ddl
from shebao.warehouse.models import AuditRule, Finding, SavedQuery, WhTable


class FindingError(ValueError):
    """Chinese."""


def _decide(finding: Finding, *, user, state: str, note: str, certified: bool = False) -> Finding:
    note = (note or "").strip()
    if state == Finding.State.DISMISSED and not note:
        raise FindingError("排除须填写说明")
    now = timezone.now()
    n = Finding.objects.filter(pk=finding.pk, state=Finding.State.OPEN).update(
        state=state, note=note[:300], decided_by=user, decided_at=now, certified=certified)
    if n != 1:
        raise FindingError("该审核结果已处理过")
    finding.refresh_from_db()
    audit_record(user=user, action=f"warehouse.finding_{state}", obj=finding, person_id=finding.person_id,
                 summary=f"审核结果（{finding.rule.name}）{finding.get_state_display()}：{finding.detail}"[:500],
                 reason=note)
    return finding


def finding_confirm(*, finding: Finding, user, note: str = "") -> Finding:
    """确认. A confirmed death finding starts the certification app's death flow when it is installed."""
    with transaction.atomic():
        finding = _decide(finding, user=user, state=Finding.State.CONFIRMED, note=note)
        starter = hooks.provided("death_flow_starter")
        if finding.rule.kind == AuditRule.Kind.DEATH and starter is not None and finding.person_id:
            try:
                starter(finding.person, finding.event_date, user, source="回流库", note=note or finding.detail)
            except hooks.HookRefused as exc:
                raise FindingError(f"死亡减员未能完成，审核结果未确认：{exc}") from None
    return finding


def finding_dismiss(*, finding: Finding, user, note: str) -> Finding:
    with transaction.atomic():
        return _decide(finding, user=user, state=Finding.State.DISMISSED, note=note)


def finding_accept_certification(*, finding: Finding, user, note: str = "") -> Finding:
    """Accept a 生存迹象 finding as a certification of its person on the activity's date (method 数据比对),
    through the certification app's recorder (``common.hooks``); once: a decided finding is refused."""
    if finding.rule.kind != AuditRule.Kind.LIFE:
        raise FindingError("只有生存迹象的审核结果可以记为认证")
    recorder = hooks.provided("certification_recorder")
    if recorder is None:
        raise FindingError("生存认证功能尚未启用，暂不能记为认证")
    if finding.person_id is None or finding.event_date is None:
        raise FindingError("该结果没有对应的本地人员或活动日期")
    with transaction.atomic():
        finding = _decide(finding, user=user, state=Finding.State.CONFIRMED, note=note, certified=True)
        try:
            recorder(finding.person, finding.event_date, method="数据比对", user=user,
                     source=finding.detail[:100], note=note or finding.detail)
        except hooks.HookRefused as exc:
            raise FindingError(f"未能记为认证：{exc}") from None
    return finding


def rule_create(*, user, name: str, kind: str, table: WhTable | None = None, column: str = "",
                ref_table: WhTable | None = None, ref_column: str = "", sql_text: str = "") -> AuditRule:
    name = (name or "").strip()
    if not name:
        raise FindingError("请填写规则名称")
    if kind not in AuditRule.Kind.values:
        raise FindingError("规则类型不正确")
    if kind in AuditRule.BUILT_IN:
        if table is None:
            raise FindingError("内置规则须指定表和字段")
        column = ddl.ident(column, "字段")
        if not table.columns.filter(name=column).exists():
            raise FindingError(f"表 {table.name} 没有字段 {column}")
        if kind == AuditRule.Kind.REFERENCE:
            ref_column = ddl.ident(ref_column, "引用字段")
            if ref_table is None or not ref_table.columns.filter(name=ref_column).exists():
                raise FindingError("引用的表或字段不存在")
    if kind == AuditRule.Kind.SQL and not sql_text.strip():
        raise FindingError("自定义规则须填写 SQL")
    with transaction.atomic():
        rule = AuditRule.objects.create(name=name[:100], kind=kind, table=table, column=column, ref_table=ref_table,
                                        ref_column=ref_column, sql=sql_text, created_by=user)
        audit_record(user=user, action="warehouse.rule_create", obj=rule, summary=f"新增审核规则：{rule.name}")
    return rule


def saved_query_save(*, user, name: str, description: str = "", sql_text: str = "", params: list | None = None,
                     grouping: dict | None = None) -> SavedQuery:
    name = (name or "").strip()
    if not name:
        raise FindingError("请填写查询名称")
    with transaction.atomic():
        query, _ = SavedQuery.objects.update_or_create(
            name=name[:100], defaults={"description": description[:300], "sql": sql_text, "params": params or [],
                                       "grouping": grouping or {}, "created_by": user})
        audit_record(user=user, action="warehouse.query_save", obj=query, summary=f"保存查询：{query.name}")
    return query


def month_of(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value.strip(), "%Y-%m").date()
    except (ValueError, AttributeError):
        return None


def saved_query_define(*, user, name: str, sql_text: str, description: str = "", labels: dict | None = None,
                       roles: list[str] | None = None, query: SavedQuery | None = None) -> SavedQuery:
    """Create (or change) a saved SQL query for business users: its name, SQL (``%(名称)s`` parameters,
    each with a label from ``labels``), description and the roles that may run it (none: everyone with
    回流库查询). The SQL is checked first as the read-only role (``console.explain``). Audited."""
    from shebao.accounts.models import Role
    from shebao.warehouse.console import ConsoleError, explain, query_params

    name = (name or "").strip()
    if not name:
        raise FindingError("请填写查询名称")
    if len(name) > 100:
        raise FindingError("查询名称不超过 100 个字符")
    if SavedQuery.objects.filter(name=name).exclude(pk=getattr(query, "pk", None)).exists():
        raise FindingError(f"查询名称“{name}”已存在")
    unknown = [r for r in roles or [] if r not in Role.values]
    if unknown:
        raise FindingError(f"角色 {'、'.join(unknown)} 不存在")
    sql_text = (sql_text or "").strip().rstrip(";").strip()
    try:
        explain(sql_text)
    except ConsoleError as exc:
        raise FindingError(str(exc)) from None
    labels = labels or {}
    params = [{"name": p, "label": str(labels.get(p) or p)[:50]} for p in query_params(sql_text)]
    with transaction.atomic():
        before = None
        if query is None:
            query = SavedQuery(created_by=user)
        else:
            query = SavedQuery.objects.select_for_update().get(pk=query.pk)
            before = {"name": query.name, "sql": query.sql, "description": query.description,
                      "params": query.params, "roles": query.roles}
        query.name, query.sql, query.description = name, sql_text, (description or "").strip()[:300]
        query.params, query.roles, query.grouping = params, sorted(set(roles or [])), {}
        query.save()
        audit_record(user=user, action="warehouse.query_define", obj=query, before=before,
                     after={"name": query.name, "sql": query.sql, "description": query.description,
                            "params": query.params, "roles": query.roles},
                     summary=f"{'修改' if before else '新增'}保存的查询：{query.name}")
    return query
