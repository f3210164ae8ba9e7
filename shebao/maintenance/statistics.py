"""临时数据统计: saved queries as DATA over a whitelist — no SQL from any user.

A source (``SOURCES``) is code: a base queryset already limited to the user's towns (and schemes), the
dimensions it may be grouped by, the measures it may compute and the filters it takes as parameters.
A saved query picks from those; running it is one ``values(*dimensions).annotate(*measures)`` query
(set-based, in the database) inside a READ ONLY transaction with a ``statement_timeout``. Dimensions are
never personal numbers (no 身份证号, account or phone): the results need no masking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import ExtractYear

from shebao.benefits.models import Enrollment, PaymentStatus
from shebao.common import policy
from shebao.payroll.models import PayrollLine
from shebao.registry.models import Person

TIMEOUT_MS = 15_000
MAX_GROUPS = 5000


class StatisticsError(ValueError):
    """``str()`` is the Chinese message."""


@dataclass(frozen=True)
class Dim:
    label: str
    expr: object  # a field path or an expression
    choices: dict | None = None  # stored code → label


@dataclass(frozen=True)
class Param:
    label: str
    kind: str  # "choice", "year", "month"
    apply: Callable[[QuerySet, object], QuerySet]
    choices: Callable[[object], list[tuple[str, str]]] | None = None


@dataclass(frozen=True)
class Source:
    label: str
    base: Callable[[object], QuerySet]
    dims: dict[str, Dim]
    measures: dict[str, tuple[str, object]]  # key → (label, aggregate)
    params: dict[str, Param] = field(default_factory=dict)
    money: frozenset[str] = frozenset()


def _towns(user) -> list[tuple[str, str]]:
    from shebao.registry.selectors import towns_visible

    return [(str(t.pk), t.name) for t in towns_visible(user)]


def _schemes(user) -> list[tuple[str, str]]:
    from shebao.benefits.models import Scheme

    return [(s.code, s.name) for s in Scheme.objects.order_by("sort") if policy.scheme_allowed(user, s.code)]


def _year(field_name: str, op: str):
    def apply(qs, value):
        return qs.filter(**{f"{field_name}__year__{op}": int(value)})
    return apply


def _month(field_name: str):
    def apply(qs, value):
        return qs.filter(**{field_name: value})
    return apply


def _persons(user) -> QuerySet:
    return policy.scope_town(Person.objects.all(), user)


def _enrollments(user) -> QuerySet:
    return policy.scope_scheme(policy.scope_town(Enrollment.objects.all(), user, "person__town_id"), user)


def _lines(user) -> QuerySet:
    qs = PayrollLine.objects.filter(person__isnull=False)
    return policy.scope_scheme(policy.scope_town(qs, user, "person__town_id"), user, "run__scheme__code")


SEX = {"M": "男", "F": "女"}
SOURCES: dict[str, Source] = {
    "persons": Source(
        "人员登记", _persons,
        dims={"town": Dim("镇街道", "town__name"), "sex": Dim("性别", "sex", SEX),
              "birth_year": Dim("出生年份", ExtractYear("birth_date")),
              "dead": Dim("是否已死亡", Q(death_date__isnull=False), {True: "已死亡", False: "健在"})},
        measures={"count": ("人数", Count("id"))},
        params={"town": Param("镇街道", "choice", lambda qs, v: qs.filter(town_id=int(v)), _towns),
                "born_from": Param("出生年份起", "year", _year("birth_date", "gte")),
                "born_to": Param("出生年份止", "year", _year("birth_date", "lte"))},
    ),
    "enrollments": Source(
        "参保（待遇享受）", _enrollments,
        dims={"scheme": Dim("险种", "scheme__name"), "town": Dim("镇街道", "person__town__name"),
              "status": Dim("发放状态", "payment_status", dict(PaymentStatus.choices)),
              "start_year": Dim("开始年份", ExtractYear("start_month")),
              "sex": Dim("性别", "person__sex", SEX)},
        measures={"count": ("人数", Count("id")), "avg_years": ("平均工龄(年)", Avg("service_years"))},
        params={"scheme": Param("险种", "choice", lambda qs, v: qs.filter(scheme__code=v), _schemes),
                "town": Param("镇街道", "choice", lambda qs, v: qs.filter(person__town_id=int(v)), _towns),
                "status": Param("发放状态", "choice", lambda qs, v: qs.filter(payment_status=v),
                                lambda user: list(PaymentStatus.choices))},
    ),
    "payroll_lines": Source(
        "发放明细（人员）", _lines,
        dims={"period": Dim("结算年月", "run__period"), "scheme": Dim("险种", "run__scheme__name"),
              "town": Dim("镇街道", "person__town__name"), "status": Dim("发放结果", "status",
                                                                      dict(PayrollLine.Status.choices)),
              "kind": Dim("结算类型", "run__kind", dict(PayrollLine._meta.get_field("run").related_model.Kind.choices))},
        measures={"count": ("笔数", Count("id")), "gross": ("应发", Sum("gross")), "net": ("实发", Sum("net")),
                  "paid": ("实付", Sum("paid_amount"))},
        params={"scheme": Param("险种", "choice", lambda qs, v: qs.filter(run__scheme__code=v), _schemes),
                "town": Param("镇街道", "choice", lambda qs, v: qs.filter(person__town_id=int(v)), _towns),
                "month_from": Param("结算年月起", "month", _month("run__period__gte")),
                "month_to": Param("结算年月止", "month", _month("run__period__lte"))},
        money=frozenset({"gross", "net", "paid"}),
    ),
}


def check_definition(source: str, dimensions: list[str], measures: list[str], parameters: list[str]) -> None:
    """Every key must be one the source offers; ``StatisticsError`` otherwise."""
    src = SOURCES.get(source)
    if src is None:
        raise StatisticsError(f"数据来源 {source} 不存在")
    for keys, offered, what in ((dimensions, src.dims, "分组"), (measures, src.measures, "统计"),
                                (parameters, src.params, "参数")):
        bad = [k for k in keys if k not in offered]
        if bad:
            raise StatisticsError(f"{src.label}没有{what}：{'、'.join(bad)}")
    if not measures:
        raise StatisticsError("请至少选择一项统计")
    if len(dimensions) > 3:
        raise StatisticsError("分组最多三项")


@dataclass
class Result:
    headers: list[str]
    rows: list[list]
    money_columns: set[int]
    dims: int
    truncated: bool


def _parse_param(p: Param, raw: str, user) -> object:
    raw = raw.strip()
    if p.kind == "year":
        if not (raw.isdigit() and 1880 <= int(raw) <= 2200):
            raise StatisticsError(f"{p.label}应为四位年份")
        return int(raw)
    if p.kind == "month":
        from shebao.benefits.months import MonthError, parse_month

        try:
            return parse_month(raw)
        except MonthError as exc:
            raise StatisticsError(f"{p.label}：{exc}") from None
    allowed = {k for k, _ in (p.choices(user) if p.choices else [])}
    if raw not in allowed:
        raise StatisticsError(f"{p.label}“{raw}”不可选")
    return raw


def run_query(*, user, source: str, dimensions: list[str], measures: list[str], parameters: list[str],
              values: dict[str, str]) -> Result:
    """Run a saved query with the user's scope: parameters left empty do not filter."""
    check_definition(source, dimensions, measures, parameters)
    src = SOURCES[source]
    qs = src.base(user)
    for key in parameters:
        raw = (values.get(key) or "").strip()
        if raw:
            qs = src.params[key].apply(qs, _parse_param(src.params[key], raw, user))
    names = {k: f"d_{k}" for k in dimensions}
    annotations = {}
    for k in dimensions:
        expr = src.dims[k].expr
        if isinstance(expr, Q):
            from django.db.models import BooleanField, ExpressionWrapper

            expr = ExpressionWrapper(expr, output_field=BooleanField())
        elif isinstance(expr, str):
            from django.db.models import F

            expr = F(expr)
        annotations[names[k]] = expr
    qs = qs.annotate(**annotations).values(*names.values()) if dimensions else qs
    aggs = {f"m_{k}": src.measures[k][1] for k in measures}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL transaction_read_only = on")
            cursor.execute(f"SET LOCAL statement_timeout = {int(TIMEOUT_MS)}")
        if dimensions:
            data = list(qs.annotate(**aggs).order_by(*names.values())[:MAX_GROUPS + 1])
        else:
            data = [qs.aggregate(**aggs)]
    truncated = len(data) > MAX_GROUPS
    rows = []
    for d in data[:MAX_GROUPS]:
        row = []
        for k in dimensions:
            v = d[names[k]]
            choices = src.dims[k].choices
            if choices is not None:
                v = choices.get(v, v)
            if isinstance(v, dt.date):
                v = f"{v:%Y-%m}"
            row.append("（空）" if v is None else v)
        for k in measures:
            v = d[f"m_{k}"]
            if isinstance(v, Decimal) and k not in src.money:
                v = v.quantize(Decimal("0.01"))
            row.append(v if v is not None else (Decimal("0.00") if k in src.money else 0))
        rows.append(row)
    headers = [src.dims[k].label for k in dimensions] + [src.measures[k][0] for k in measures]
    money = {len(dimensions) + i for i, k in enumerate(measures) if k in src.money}
    return Result(headers, rows, money, len(dimensions), truncated)
