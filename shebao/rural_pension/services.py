"""Writes of 老农保: information changes, the credited-rate table and the yearly-table cache, refund
quote / settle / rollback with the 结算单, the monthly benefit (start of receipt, payouts from the NB
payroll, the 120-month guarantee, death settlements with the heir).

Every service is keyword-only, runs in one transaction, validates before it writes, and writes its
audit record in the same transaction. Money is Decimal yuan rounded ROUND_HALF_UP at the points the
SPEC names. The legacy import lives in ``legacy_import``; the PDF in ``statement``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from shebao.benefits.months import format_month, month_of, months_between, parse_month
from shebao.common.audit import audit_record, diff, snapshot
from shebao.common.masking import Masker
from shebao.common.money import amount_in_words, quantize, to_decimal
from shebao.common.sqlfiles import local_settings, sql_parts
from shebao.registry.models import Person, Region
from shebao.rural_pension.interest import Quote, RateMissing, refund_quote
from shebao.rural_pension.models import (
    OPEN_STATUSES,
    AccountStatus,
    BenefitCoefficient,
    ContributionKind,
    CreditedRate,
    DocumentCounter,
    Payout,
    PayoutKind,
    RuralAccount,
    RuralDocument,
)
from shebao.rural_pension.payment import PaymentError, nb_payment_cancel, nb_payment_create
from shebao.rural_pension.rules import (
    account_closed_refusal,
    death_refusal,
    death_settle_refusal,
    refund_refusal,
)
from shebao.rural_pension.selectors import GUARANTEE_MONTHS, account_flows_and_rates, coefficient_for

PENSION_AGE = 60
ACCOUNT_FIELDS = ["status", "closed_on", "town", "community", "enrolled_on", "legacy_bank",
                  "legacy_account_number", "note", "heir", "enrollment", "benefit_start_month", "benefit_base",
                  "coefficient", "monthly_benefit"]
EDITABLE_FIELDS = ["town", "community", "enrolled_on", "legacy_bank", "legacy_account_number", "note", "status"]


class RuralError(Exception):
    """A refused 老农保 action; ``str()`` is the message for the user (Chinese)."""


def _lock(account: RuralAccount) -> RuralAccount:
    return RuralAccount.objects.select_for_update().select_related("person", "town").get(pk=account.pk)


def _label(account: RuralAccount) -> str:
    return f"{account.person.name}（{account.person.id_number[-4:]}）"


# --------------------------------------------------------------------------------------------------
# 信息修改


def rural_account_update(*, user, account: RuralAccount, reason: str, person_changes: dict | None = None,
                         **changes) -> RuralAccount:
    """信息修改: change the account's own facts (town, village, 参保日期, the legacy bank snapshot, note,
    status 缴费 ↔ 中断缴费) and, through the registry, the person's basic information; with a reason,
    audited with before → after. Closed accounts (已退保/已终止) are not changed."""
    reason = (reason or "").strip()
    if not reason:
        raise RuralError("请填写修改原因")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise RuralError(f"不能修改的字段：{', '.join(sorted(unknown))}")
    with transaction.atomic():
        account = _lock(account)
        if account.status not in OPEN_STATUSES:
            raise RuralError(f"账户{account.get_status_display()}，不能修改")
        before = snapshot(account, ACCOUNT_FIELDS)
        if "status" in changes:
            new = changes["status"]
            allowed = {AccountStatus.PAYING, AccountStatus.SUSPENDED}
            if new != account.status and (new not in allowed or account.status not in allowed):
                raise RuralError("信息修改只能在“缴费”和“中断缴费”之间变更状态；领取、退保、死亡请办理相应业务")
        for key, value in changes.items():
            setattr(account, key, value.strip() if isinstance(value, str) else value)
        town, community = account.town, account.community
        if town.level != Region.Level.TOWN:
            raise RuralError(f"{town.name} 不是镇街道")
        if community is not None and community.parent_id != town.pk:
            raise RuralError(f"{community.name} 不属于 {town.name}")
        if account.enrolled_on and account.enrolled_on > timezone.localdate():
            raise RuralError("参保日期不能晚于今天")
        if person_changes:
            from shebao.registry.services import RegistryError, person_update

            try:
                person_update(user=user, person=account.person, reason=reason, **person_changes)
            except RegistryError as exc:
                raise RuralError(str(exc)) from None
        b, a = diff(before, snapshot(account, ACCOUNT_FIELDS))
        if a:
            account.save()
            audit_record(user=user, action="update", obj=account, person_id=account.person_id,
                         summary=f"老农保信息修改 {_label(account)}", before=b, after=a, reason=reason)
    return account


# --------------------------------------------------------------------------------------------------
# credited rates and the yearly-table cache


def credited_rate_set(*, user, year: int, rate, reason: str = "", recompute: bool = True) -> CreditedRate:
    """Set a year's 记账利率 (a fraction, at most 4 decimals, 0 ≤ r < 1). Audited; the cached yearly
    tables of every account are recomputed from that year on in the same transaction, over the stored
    per-year sums (``rural_years_rerate``; quotes never use the cache)."""
    try:
        value = to_decimal(rate)
    except ValueError as exc:
        raise RuralError(f"利率：{exc}") from None
    if value != value.quantize(Decimal("0.0001")) or not (0 <= value < 1):
        raise RuralError(f"记账利率 {rate} 应为 0 到 1 之间、最多 4 位小数的小数（如 0.0250 表示 2.5%）")
    if not 1980 <= int(year) <= 2200:
        raise RuralError(f"年度 {year} 无效")
    with transaction.atomic():
        existing = CreditedRate.objects.select_for_update().filter(year=year).first()
        before = {"year": year, "rate": existing.rate} if existing else None
        if existing and existing.rate == value:
            return existing
        obj, _ = CreditedRate.objects.update_or_create(
            year=year, defaults={"rate": value, "note": reason[:200], "updated_by": user})
        audit_record(user=user, action="update" if existing else "create", obj=obj,
                     summary=f"{year} 年度记账利率 {value}", before=before, after={"year": year, "rate": value},
                     reason=reason)
        if recompute:
            rural_years_rerate(from_year=int(year))
    return obj


def benefit_coefficient_set(*, user, from_month, coefficient, reason: str) -> BenefitCoefficient:
    """Set the 计发系数 (交费领取计算表) in force from a month on: a fraction above 0 and below 1, at most
    9 decimals; with a reason, audited. Only a start of receipt from that month on uses it: a monthly
    benefit already started is fixed and does not change. Setting the value already there changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise RuralError("请填写原因")
    try:
        month = parse_month(from_month)
    except ValueError as exc:
        raise RuralError(f"起始年月：{exc}") from None
    if not 1980 <= month.year <= 2200:
        raise RuralError(f"起始年月 {format_month(month)} 无效")
    try:
        value = Decimal(str(coefficient).strip())
    except (InvalidOperation, ValueError):
        raise RuralError(f"计发系数“{coefficient}”不是数字") from None
    if not value.is_finite() or not (0 < value < 1) or value != value.quantize(Decimal("0.000000001")):
        raise RuralError(f"计发系数 {coefficient} 应为大于 0、小于 1、最多 9 位小数的小数（如 0.008631526）")
    with transaction.atomic():
        existing = BenefitCoefficient.objects.select_for_update().filter(from_month=month).first()
        if existing is not None and existing.coefficient == value:
            return existing
        before = {"from_month": format_month(month), "coefficient": existing.coefficient} if existing else None
        obj, _ = BenefitCoefficient.objects.update_or_create(
            from_month=month, defaults={"coefficient": value, "note": reason[:200]})
        audit_record(user=user, action="update" if existing else "create", obj=obj,
                     summary=f"计发系数 {format_month(month)} 起 {value}", before=before,
                     after={"from_month": format_month(month), "coefficient": value}, reason=reason)
    return obj


# The yearly tables, set-based, by the rule of ``interest``: the statements and their notes are in
# ``sql/years.sql`` (the sums per account and year, then the recursive walk over them).
_YEARS = sql_parts("shebao.rural_pension", "years.sql")
_SQL_SUMS, _SQL_WALK = _YEARS["sums"], _YEARS["walk"]
_KINDS = {"personal": ContributionKind.PERSONAL.value, "collective": ContributionKind.COLLECTIVE.value,
          "other": ContributionKind.OTHER.value}


# a walk over many accounts: hash the sums once (the planner, seeing a small work table, would probe the
# index 2.3 million times instead), no parallel workers on a 2-core server
_BULK = {"work_mem": "256MB", "enable_nestloop": "off", "enable_mergejoin": "off",
         "max_parallel_workers_per_gather": "0"}
_BULK_IDS = 2000  # from this many accounts on, a partial walk is planned as a bulk one


def _lock_cache(cursor) -> None:
    """One writer of the sums and yearly tables at a time, to the end of the transaction (readers go on):
    a rate change re-walking every account from a year and a refund refreshing one account would
    otherwise build from each other's half-written rows (or insert the same account-year twice)."""
    cursor.execute("LOCK TABLE rural_pension_accountyear, rural_pension_accountyearflow IN SHARE ROW EXCLUSIVE MODE")


def _where(*conditions: str) -> str:
    return " AND ".join(c for c in conditions if c) or "true"


def _walk_all(cursor) -> int:
    """Every account's yearly table from its first year: the table emptied, refilled, its two indexes
    built once after the load (faster than maintaining them row by row: −10 % CPU, −22 % WAL)."""
    cursor.execute("TRUNCATE rural_pension_accountyear")
    cursor.execute("ALTER TABLE rural_pension_accountyear DROP CONSTRAINT accountyear_unique")
    cursor.execute("ALTER TABLE rural_pension_accountyear DROP CONSTRAINT rural_pension_accountyear_pkey")
    sums = "rural_pension_accountyearflow"
    seed = f"SELECT account_id, min(year) - 1 AS year, 0 AS closing FROM {sums} GROUP BY account_id"
    cursor.execute(_SQL_WALK.format(seed=seed, sums=sums))
    written = cursor.rowcount
    cursor.execute("ALTER TABLE rural_pension_accountyear ADD CONSTRAINT rural_pension_accountyear_pkey PRIMARY KEY (id)")
    cursor.execute("ALTER TABLE rural_pension_accountyear ADD CONSTRAINT accountyear_unique UNIQUE (account_id, year)")
    return written


def _walk(cursor, *, ids: list[int] | None, from_year: int | None) -> int:
    """The yearly tables of the accounts ``ids`` (None: all) from ``from_year`` on (None: from their
    first year), over the stored sums. From a year Y on, an account continues from its stored closing of
    Y − 1, and the accounts whose first flow is in Y or later start at 0 (the rows before Y are kept)."""
    by_id = "account_id = ANY(%(ids)s)" if ids is not None else ""
    params = {"ids": ids, "from_year": from_year}
    if from_year is None:
        seed = f"SELECT account_id, min(year) - 1, 0 FROM rural_pension_accountyearflow WHERE {_where(by_id)} " \
               "GROUP BY account_id"
        sums = f"(SELECT * FROM rural_pension_accountyearflow WHERE {_where(by_id)})"
    else:
        seed = f"""
            SELECT account_id, year, closing FROM rural_pension_accountyear WHERE {_where(by_id, "year = %(from_year)s - 1")}
            UNION ALL
            SELECT account_id, y0 - 1, 0 FROM (
                SELECT account_id, min(year) AS y0 FROM rural_pension_accountyearflow WHERE {_where(by_id)}
                GROUP BY account_id
            ) f WHERE y0 >= %(from_year)s"""
        sums = f"(SELECT * FROM rural_pension_accountyearflow WHERE {_where(by_id, 'year >= %(from_year)s')})"
    cursor.execute(f"DELETE FROM rural_pension_accountyear WHERE "
                   f"{_where(by_id, 'year >= %(from_year)s' if from_year is not None else '')}", params)
    cursor.execute(_SQL_WALK.format(seed=seed, sums=sums), params)
    return cursor.rowcount


def rural_years_refresh(*, account_ids: list[int] | None = None, from_year: int | None = None) -> int:
    """THE call for every writer of flows (``Contribution`` / ``Payout``: import, refund settle and
    rollback, death settlement, pension payouts, …), in its transaction after the write: rebuild the
    stored per-year sums (``AccountYearFlow``) of the given accounts (None: all) from their flows, then
    their yearly tables (``AccountYear``). ``from_year``: the writer touched no month before that year —
    only the sums and rows from that year on are rebuilt (the monthly pension payouts of 18,000 accounts
    read one year of flows instead of thirty). Set-based; idempotent. Returns the account-years written."""
    ids = None if account_ids is None else sorted({int(i) for i in account_ids})
    if ids == []:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_cache(cursor)
        if ids is None and from_year is None:  # everything: empty and refill, the index built after
            with local_settings(cursor, **_BULK):
                cursor.execute("TRUNCATE rural_pension_accountyearflow")
                cursor.execute("ALTER TABLE rural_pension_accountyearflow DROP CONSTRAINT "
                               "rural_pension_accountyearflow_pkey")
                cursor.execute(_SQL_SUMS.format(where="true"), _KINDS)
                cursor.execute("ALTER TABLE rural_pension_accountyearflow ADD CONSTRAINT "
                               "rural_pension_accountyearflow_pkey PRIMARY KEY (account_id, year)")
                cursor.execute("ANALYZE rural_pension_accountyearflow")
                return _walk_all(cursor)
        by_id = "account_id = ANY(%(ids)s)" if ids is not None else ""
        params = {"ids": ids, "from_year": from_year,
                  "from_month": dt.date(from_year, 1, 1) if from_year is not None else None, **_KINDS}
        bulk = _BULK if ids is None or len(ids) >= _BULK_IDS else {"work_mem": "64MB"}
        with local_settings(cursor, **bulk):
            cursor.execute(f"DELETE FROM rural_pension_accountyearflow WHERE "
                           f"{_where(by_id, 'year >= %(from_year)s' if from_year is not None else '')}", params)
            cursor.execute(_SQL_SUMS.format(
                where=_where(by_id, "month >= %(from_month)s" if from_year is not None else "")), params)
            return _walk(cursor, ids=ids, from_year=from_year)


def rural_years_recompute(*, account_ids: list[int] | None = None) -> int:
    """Rebuild the yearly tables of the given accounts, or of all, from the raw flows (the stored sums
    included): ``rural_years_refresh`` under the name the import, the demo, the job and the command use."""
    return rural_years_refresh(account_ids=account_ids)


def rural_years_rerate(*, from_year: int | None = None) -> int:
    """After a rate change: every account's yearly table walked again over the stored per-year sums
    (the flows are not read), from ``from_year`` on (the rows before it do not depend on that rate and
    are kept), or from each account's first year. Returns the account-years written."""
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_cache(cursor)
        cursor.execute("SELECT NOT EXISTS (SELECT 1 FROM rural_pension_accountyearflow) "
                       "AND (EXISTS (SELECT 1 FROM rural_pension_contribution) "
                       "OR EXISTS (SELECT 1 FROM rural_pension_payout))")
        if cursor.fetchone()[0]:  # sums never built (a database loaded without them): from the flows
            return rural_years_refresh()
        with local_settings(cursor, **_BULK):
            if from_year is not None:
                cursor.execute("SELECT count(*) FILTER (WHERE year >= %s), count(*) FROM rural_pension_accountyear",
                               [from_year])
                later, total = cursor.fetchone()
                if not total or later * 2 > total:  # most rows change (or none to start from): refill all
                    from_year = None
            if from_year is None:
                return _walk_all(cursor)
            return _walk(cursor, ids=None, from_year=from_year)


# --------------------------------------------------------------------------------------------------
# refund: quote, settle, rollback


def _quote(account: RuralAccount, on: dt.date) -> Quote:
    flows, rates = account_flows_and_rates(account)  # one round trip; by month
    if flows and (flows[-1].year, flows[-1].month) > (on.year, on.month):
        f = next(f for f in flows if (f.year, f.month) > (on.year, on.month))
        raise RuralError(f"账户在 {on:%Y-%m-%d} 之后还有{'支付' if f.kind == 'payout' else '缴费'}记录"
                         f"（{f.year}-{f.month:02d}），不能按该日期计算")
    try:
        return refund_quote(flows, rates, on=on)
    except RateMissing as exc:
        raise RuralError(str(exc)) from None


def rural_refund_quote(*, account: RuralAccount, on: dt.date) -> Quote:
    """退款试算 on date D: the yearly rows (full years before D's year; D's year with interest on the
    opening for month(D) − 1 months and on each earlier flow for month(D) − m months, over 12, rounded
    to the cent; D's month's flows without interest) and the balance, which the refund pays. Refused
    for an account already refunded or closed (``rules.account_closed_refusal``), and when a year needs a
    rate that is missing."""
    if refusal := account_closed_refusal(account):
        raise RuralError(refusal)
    return _quote(account, on)


def _next_number(on: dt.date) -> str:
    counter, _ = DocumentCounter.objects.select_for_update().get_or_create(year=on.year)
    DocumentCounter.objects.filter(pk=counter.pk).update(last=F("last") + 1)
    counter.refresh_from_db()
    return f"NB{on.year}-{counter.last:06d}"


def _pay_method(value: str) -> str:
    if value not in RuralDocument.PayMethod.values:
        raise RuralError(f"支付方式 {value} 无效（bank 银行代发 或 cash 现金）")
    return value


def _settle(*, account: RuralAccount, kind: str, payee: Person, on: dt.date, amount: Decimal, pay_method: str,
            user, table: dict, before: dict, payout_kind: str, memo: str) -> RuralDocument:
    """Write the document, the payout and the payment (inside the caller's transaction)."""
    month = month_of(on)
    if Payout.objects.filter(account=account, month=month, kind=payout_kind).exists():
        raise RuralError(f"{_label(account)} 在 {format_month(month)} 已有{PayoutKind(payout_kind).label}支付记录")
    ref = None
    if pay_method == RuralDocument.PayMethod.BANK:
        try:
            ref = nb_payment_create(person=payee, amount=amount, memo=memo, user=user, period=month)
        except PaymentError as exc:
            raise RuralError(str(exc)) from None
    doc = RuralDocument.objects.create(
        number=_next_number(on), kind=kind, account=account, payee=payee, on_date=on, amount=amount,
        pay_method=pay_method, payroll_run_id=ref.run_id if ref else None,
        payroll_line_id=ref.line_id if ref else None, table=table, account_before=before, operator=user,
    )
    Payout.objects.create(account=account, month=month, kind=payout_kind, amount=amount, document=doc)
    return doc


def rural_refund_settle(*, account: RuralAccount, on: dt.date, pay_method: str, user,
                        expected_amount=None) -> RuralDocument:
    """退款结算: pay the balance on D (the quote) by bank (a line in the NB payment flow: a one-off run
    to approve and send) or cash; the account is settled to zero (a 退保 payout of the balance in D's
    month) and closed (已退保); a numbered 结算单 keeps the yearly table. ``expected_amount`` (what the
    user confirmed) must still be the quote. Refused by ``rules.refund_refusal`` (the pages show the same
    reasons): an account already refunded or closed, a receiving account, nothing to pay, a bank payment
    without a bank account."""
    pay_method = _pay_method(pay_method)
    if on > timezone.localdate():
        raise RuralError("结算日期不能晚于今天")
    try:
        with transaction.atomic():
            account = _lock(account)
            if refusal := refund_refusal(account):
                raise RuralError(refusal)
            quote = rural_refund_quote(account=account, on=on)
            if refusal := refund_refusal(account, amount=quote.amount, pay_method=pay_method):
                raise RuralError(refusal)
            if expected_amount is not None and quantize(expected_amount) != quote.amount:
                raise RuralError(f"退款金额已变化（确认时 {quantize(expected_amount)}，现为 {quote.amount}），请重新试算")
            before = snapshot(account, ACCOUNT_FIELDS)
            doc = _settle(account=account, kind=RuralDocument.Kind.REFUND, payee=account.person, on=on,
                          amount=quote.amount, pay_method=pay_method, user=user, table=quote.as_dict(),
                          before=before, payout_kind=PayoutKind.REFUND, memo="老农保退保")
            changed = RuralAccount.objects.filter(pk=account.pk, status=account.status).update(
                status=AccountStatus.REFUNDED, closed_on=on)
            if not changed:  # pragma: no cover - the row is locked
                raise RuralError("账户状态已变化，请刷新后重试")
            rural_years_recompute(account_ids=[account.pk])
            audit_record(user=user, action="rural_refund", obj=doc, person_id=account.person_id,
                         summary=f"老农保退保 {_label(account)} {quote.amount}（{doc.number}，"
                                 f"{doc.get_pay_method_display()}）",
                         before=before, after={"status": AccountStatus.REFUNDED, "closed_on": on,
                                               "document": doc.number, "amount": quote.amount,
                                               "pay_method": pay_method, "payroll_run": doc.payroll_run_id})
    except IntegrityError as exc:
        if "ruraldocument_one_settled_per_account" in str(exc):
            raise RuralError(f"{_label(account)} 已有结算单，不能重复退款") from None
        raise
    return doc


def rural_refund_rollback(*, document: RuralDocument, user, reason: str, today: dt.date | None = None) -> RuralDocument:
    """退款回退: undo a settlement made in the current calendar month whose money has not been sent to a
    bank (the NB one-off line still 待发 and in no bank file; cash any time within the month). The
    payout is removed, the account gets back exactly its state before, the payment line is withdrawn,
    the document is kept as 已回退 (its number is never reused). Refused otherwise, saying why."""
    today = today or timezone.localdate()
    reason = (reason or "").strip()
    if not reason:
        raise RuralError("请填写回退原因")
    with transaction.atomic():
        doc = RuralDocument.objects.select_for_update(of=("self",)).select_related("account", "account__person").get(pk=document.pk)
        if doc.state != RuralDocument.State.SETTLED:
            raise RuralError(f"结算单 {doc.number} 已回退，不能再次回退")
        if doc.kind != RuralDocument.Kind.REFUND:  # a death settlement also recorded the death and ended the benefit
            raise RuralError(f"结算单 {doc.number} 是{doc.get_kind_display()}，不能按退款回退")
        made = timezone.localtime(doc.created_at).date()
        if (made.year, made.month) != (today.year, today.month):
            raise RuralError(f"结算单 {doc.number} 于 {made:%Y-%m-%d} 办理，只能在当月（{made:%Y年%m月}）回退，"
                             f"跨月不能回退")
        if doc.pay_method == RuralDocument.PayMethod.BANK:
            try:
                nb_payment_cancel(run_id=doc.payroll_run_id, line_id=doc.payroll_line_id, user=user, reason=reason)
            except PaymentError as exc:
                raise RuralError(f"结算单 {doc.number} 不能回退：{exc}") from None
        account = _lock(doc.account)
        current = snapshot(account, ACCOUNT_FIELDS)
        Payout.objects.filter(document=doc).delete()
        restore = {k: doc.account_before.get(k) for k in ("status", "closed_on", "heir_id")}
        RuralAccount.objects.filter(pk=account.pk).update(
            status=restore["status"],
            closed_on=dt.date.fromisoformat(restore["closed_on"]) if restore["closed_on"] else None,
            heir_id=restore["heir_id"])
        RuralDocument.objects.filter(pk=doc.pk, state=RuralDocument.State.SETTLED).update(
            state=RuralDocument.State.ROLLED_BACK, rolled_back_by=user, rolled_back_at=timezone.now(),
            rollback_reason=reason[:200])
        rural_years_recompute(account_ids=[account.pk])
        doc.refresh_from_db()
        audit_record(user=user, action="rural_rollback", obj=doc, person_id=account.person_id,
                     summary=f"老农保退款回退 {doc.number} {_label(account)} {doc.amount}",
                     before={"account": current, "document_state": RuralDocument.State.SETTLED},
                     after={"account": restore, "document_state": doc.state}, reason=reason)
    return doc


def rural_document_pdf(*, document: RuralDocument, user, masker: Masker, reprint: bool = False) -> bytes:
    """The 结算单 as PDF (A4); the person's numbers masked per ``masker`` (the viewer's right).

    The first print is the original (``printed_count`` 0 → 1, audited 打印结算单). Looking at it again
    is not a print: the PDF is marked 副本 and nothing is counted (a browser's viewer fetches a PDF more
    than once; every fetch was counted as a 补打). A reprint is only what the clerk asks for
    (``reprint=True``: the 补打 button, its once-token claimed by the view): counted, audited
    打印结算单（补打）, marked 补打."""
    from django.conf import settings

    from shebao.rural_pension.statement import render_statement

    with transaction.atomic():
        doc = RuralDocument.objects.select_for_update(of=("self",)).select_related(
            "account", "account__person", "account__town", "account__community", "payee", "operator").get(pk=document.pk)
        original = doc.printed_count == 0
        counted = original or reprint
        if counted:
            RuralDocument.objects.filter(pk=doc.pk).update(printed_count=F("printed_count") + 1)
            audit_record(user=user, action="rural_print", obj=doc, person_id=doc.account.person_id,
                         summary=f"打印结算单 {doc.number}{'' if original else '（补打）'}",
                         after={"printed_count": doc.printed_count + 1})
    return render_statement(doc, masker=masker, reprint=counted and not original, copy=not counted,
                            agency=settings.SHEBAO_AGENCY_NAME, words=amount_in_words(doc.amount))


# --------------------------------------------------------------------------------------------------
# monthly benefit (scheme NB through the payroll engine)


def pension_month(person: Person) -> dt.date:
    """The month the person turns 60 (a 29 February birthday counts as 1 March)."""
    born = person.birth_date
    try:
        birthday = born.replace(year=born.year + PENSION_AGE)
    except ValueError:  # 29 February
        birthday = dt.date(born.year + PENSION_AGE, 3, 1)
    return month_of(birthday)


@dataclass(frozen=True)
class BenefitQuote:
    """What 开始领取 from ``start`` would fix: the accumulation on the first day of ``start`` (the quote
    rule, with its yearly rows), the coefficient in force for ``start`` and the monthly benefit."""

    start: dt.date
    accumulation: Decimal
    coefficient: Decimal
    monthly: Decimal
    quote: Quote


def _benefit_quote(account: RuralAccount, start: dt.date) -> BenefitQuote:
    person = account.person
    if account.status not in (AccountStatus.PAYING, AccountStatus.SUSPENDED):
        raise RuralError(f"{_label(account)} 的账户{account.get_status_display()}，不能开始领取")
    if start < pension_month(person):
        raise RuralError(f"{_label(account)} {format_month(pension_month(person))} 才年满 {PENSION_AGE} 周岁，"
                         f"不能从 {format_month(start)} 开始领取")
    if person.death_date and person.death_date < start:
        raise RuralError(f"{_label(account)} 已于 {person.death_date:%Y-%m-%d} 死亡")
    quote = _quote(account, start)
    coefficient = coefficient_for(start)
    if coefficient is None:
        raise RuralError(f"{format_month(start)} 没有适用的计发系数，请先维护交费领取计算表")
    monthly = quantize(quote.amount * coefficient)
    if monthly <= 0:
        raise RuralError(f"{_label(account)} 的账户积累额为 {quote.amount}，月养老金为 0，不能开始领取")
    return BenefitQuote(start, quote.amount, coefficient, monthly, quote)


def rural_benefit_quote(*, account: RuralAccount, start_month) -> BenefitQuote:
    """开始领取 试算: what ``rural_benefit_start`` would fix for ``start_month``, refused for the same
    reasons, writing nothing."""
    try:
        start = parse_month(start_month)
    except ValueError as exc:
        raise RuralError(f"开始领取年月：{exc}") from None
    return _benefit_quote(account, start)


def _benefit_arrears_for_computed_months(*, enrollment, person: Person, start: dt.date, monthly: Decimal,
                                         user) -> None:
    """A start of receipt in a month whose NB regular run is already computed (a late application, a
    back-dated start) would never pay those months: the payroll only computes the coming months. Each
    such month (through the death month, if any) becomes one 补发 of monthly × months, paid whole by the
    next regular run."""
    from shebao.benefits.services import adjustment_create
    from shebao.payroll.selectors import payroll_runs

    months = sorted(set(payroll_runs(scheme=enrollment.scheme).filter(kind="regular", period__gte=start)
                        .values_list("period", flat=True)))
    if person.death_date:
        months = [m for m in months if m <= month_of(person.death_date)]
    if not months:
        return
    span = format_month(months[0]) + (f"—{format_month(months[-1])}" if len(months) > 1 else "")
    adjustment_create(enrollment=enrollment, kind="arrears", total=quantize(monthly * len(months)), user=user,
                      reason=f"开始领取前已结算月份补发：{span}，{len(months)} 个月 × {monthly}",
                      source="老农保开始领取")


def rural_benefit_start(*, account: RuralAccount, start_month, user, note: str = "",
                        expected_monthly=None) -> RuralAccount:
    """开始领取 from pension age (60): the monthly benefit is fixed once, at the start of receipt, as
    round_half_up(accumulation × coefficient, cent), where the accumulation is the balance on the first
    day of the start month (the quote rule) and the coefficient the one in force for that month
    (``BenefitCoefficient``). The person is enrolled in scheme NB with that amount (item 养老金), which
    the monthly payroll pays; the account becomes 领取. ``expected_monthly`` (what the user confirmed)
    must still be the amount. Months from the start whose NB run is already computed are paid as one 补发
    (``_benefit_arrears_for_computed_months``)."""
    from shebao.benefits.services import BenefitError, enrollment_create, scheme_get

    start = parse_month(start_month)
    with transaction.atomic():
        account = _lock(account)
        person = account.person
        fixed = _benefit_quote(account, start)
        monthly, coefficient, accumulation = fixed.monthly, fixed.coefficient, fixed.accumulation
        if expected_monthly is not None and quantize(expected_monthly) != monthly:
            raise RuralError(f"月养老金已变化（确认时 {quantize(expected_monthly)}，现为 {monthly}），请重新试算")
        before = snapshot(account, ACCOUNT_FIELDS)
        try:
            enrollment = enrollment_create(person=person, scheme=scheme_get("NB"), start_month=start, user=user,
                                           items={"basic": monthly}, note=note or "老农保按月领取")
            _benefit_arrears_for_computed_months(enrollment=enrollment, person=person, start=start,
                                                 monthly=monthly, user=user)
        except BenefitError as exc:
            raise RuralError(str(exc)) from None
        RuralAccount.objects.filter(pk=account.pk).update(
            status=AccountStatus.RECEIVING, enrollment=enrollment, benefit_start_month=start,
            benefit_base=accumulation, coefficient=coefficient, monthly_benefit=monthly)
        account.refresh_from_db()
        audit_record(user=user, action="rural_benefit_start", obj=account, person_id=person.pk,
                     summary=f"老农保开始领取 {_label(account)}：{format_month(start)} 起每月 {monthly}"
                             f"（积累额 {accumulation} × {coefficient}）",
                     before=before, after=snapshot(account, ACCOUNT_FIELDS), reason=note)
    return account


_SQL_PENSION_PAYOUTS = """
INSERT INTO rural_pension_payout (account_id, month, kind, amount, payroll_line_id, document_id, import_batch_id)
SELECT a.id, r.period, 'pension', l.gross, l.id, NULL, NULL
FROM payroll_payrollrun r
JOIN benefits_scheme s ON s.id = r.scheme_id AND s.code = 'NB'
JOIN payroll_payrollline l ON l.run_id = r.id
JOIN rural_pension_ruralaccount a ON a.person_id = l.person_id AND a.enrollment_id = l.enrollment_id
WHERE r.kind = 'regular' AND r.period = %(period)s AND r.state <> 'computed'
  AND l.status <> 'written_off' AND l.gross > 0
ON CONFLICT (account_id, month, kind) DO NOTHING
"""


def rural_benefit_payouts_record(*, period, user) -> int:
    """The monthly pension the NB payroll pays comes out of the account: for an approved regular NB run
    of period P, each line of a receiving account becomes a 养老金 payout of P (its gross), in one
    INSERT … SELECT. Idempotent (one pension payout per account and month). Returns rows written."""
    month = parse_month(period)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_SQL_PENSION_PAYOUTS, {"period": month})
            written = cursor.rowcount
            cursor.execute("SELECT account_id FROM rural_pension_payout WHERE month = %s AND kind = 'pension' "
                           "AND payroll_line_id IS NOT NULL", [month])
            ids = [r[0] for r in cursor.fetchall()]
        if written:  # only period P's year changed: the sums and rows from that year on
            rural_years_refresh(account_ids=ids, from_year=month.year)
            audit_record(user=user, action="rural_pension_payouts", object_type="rural_pension.payout",
                         object_id=format_month(month),
                         summary=f"老农保 {format_month(month)} 养老金记入个人账户支付 {written} 笔",
                         after={"period": format_month(month), "rows": written})
    return written


# The same payouts, for the lines of one run the bank has just confirmed paid (回盘): the regular NB run
# of the run's period, lines of the enrollments paid by ``paid_run`` (the regular run itself, or a
# re-issue run that paid what had failed). ON CONFLICT: never a second payout of a month.
_SQL_PENSION_PAYOUTS_PAID = """
INSERT INTO rural_pension_payout (account_id, month, kind, amount, payroll_line_id, document_id, import_batch_id)
SELECT a.id, r.period, 'pension', l.gross, l.id, NULL, NULL
FROM payroll_payrollrun r
JOIN benefits_scheme s ON s.id = r.scheme_id AND s.code = 'NB'
JOIN payroll_payrollline l ON l.run_id = r.id
JOIN rural_pension_ruralaccount a ON a.person_id = l.person_id AND a.enrollment_id = l.enrollment_id
WHERE r.kind = 'regular' AND r.period = %(period)s AND r.state <> 'computed'
  AND l.status <> 'written_off' AND l.gross > 0
  AND l.enrollment_id IN (SELECT p.enrollment_id FROM payroll_payrollline p
                          WHERE p.run_id = %(paid_run)s AND p.status = 'paid' AND p.enrollment_id IS NOT NULL)
ON CONFLICT (account_id, month, kind) DO NOTHING
RETURNING account_id
"""


def rural_benefit_payouts_paid(*, run, user) -> int:
    """The NB scheme's ``lines_paid`` hook (registered in ``RuralPensionConfig.ready``): when the return
    file (回盘) marks lines of an NB regular run (or of its re-issue) 已支付, the pensions they paid are
    written into the 老农保 accounts as payouts of the run's month, in the return import's transaction —
    the rule of ``rural_benefit_payouts_record``, for the paid lines only. The command
    ``shebao rural payouts`` stays for months paid before, and finds these already written (ON CONFLICT:
    nothing is written twice). One-off runs (refunds, settlements) are not pensions: skipped."""
    if run.kind not in ("regular", "reissue"):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_SQL_PENSION_PAYOUTS_PAID, {"period": run.period, "paid_run": run.pk})
        ids = sorted({r[0] for r in cursor.fetchall()})
    if ids:
        rural_years_refresh(account_ids=ids, from_year=run.period.year)
        audit_record(user=user, action="rural_pension_payouts", object_type="rural_pension.payout",
                     object_id=format_month(run.period),
                     summary=f"老农保 {format_month(run.period)} 养老金记入个人账户支付 {len(ids)} 笔（回盘，批次 {run.pk}）",
                     after={"period": format_month(run.period), "rows": len(ids), "run": run.pk})
    return len(ids)


def rural_heir_set(*, account: RuralAccount, heir: Person, user, reason: str) -> RuralAccount:
    """Record the heir (代领人): a registered person of their own (their own bank account is what a bank
    payment to them uses), with a reason. Refused for the holder, for a person recorded as dead and for
    a closed account. Setting the heir already recorded changes nothing (and is not audited again)."""
    reason = (reason or "").strip()
    if heir.pk == account.person_id:
        raise RuralError("代领人不能是本人")
    if heir.death_date:
        raise RuralError(f"{heir.name} 已于 {heir.death_date:%Y-%m-%d} 死亡，不能作为代领人")
    if not reason:
        raise RuralError("请填写变更代领人的原因")
    with transaction.atomic():
        account = _lock(account)
        if account.status not in OPEN_STATUSES:
            raise RuralError(f"{_label(account)} 的账户{account.get_status_display()}，不能变更代领人")
        if account.heir_id == heir.pk:
            return account
        before = {"heir": account.heir_id}
        RuralAccount.objects.filter(pk=account.pk).update(heir=heir)
        account.refresh_from_db()
        audit_record(user=user, action="update", obj=account, person_id=account.person_id,
                     summary=f"老农保代领人 {_label(account)} → {heir.name}", before=before,
                     after={"heir": heir.pk}, reason=reason)
    return account


@dataclass
class DeathSettlement:
    account: RuralAccount
    kind: str  # death_balance | death_guarantee | none
    amount: Decimal
    months: int  # guaranteed months left (receivers)
    document: RuralDocument | None


@dataclass(frozen=True)
class DeathQuote:
    """What a death settlement on ``on`` would pay the heir: the whole balance (``quote``, death before
    receipt) or the guaranteed months left × the monthly benefit (``months``, death while receiving)."""

    kind: str  # death_balance | death_guarantee
    amount: Decimal
    months: int
    on: dt.date
    death_date: dt.date
    quote: Quote | None
    table: dict
    blocked: str | None = None  # why it cannot be settled with the registered heir now (rules.death_settle_refusal)


def rural_death_guarantee_left(*, account: RuralAccount, death_date: dt.date) -> int:
    """Guaranteed months not yet due at death: 120 − the months from the start of receipt through the
    death month (the death month is paid; payment ends the month after), never below 0."""
    if not account.benefit_start_month:
        return 0
    due = months_between(account.benefit_start_month, month_of(death_date)) + 1
    return max(0, GUARANTEE_MONTHS - max(0, due))


def _death_quote(account: RuralAccount, death_date: dt.date, on: dt.date) -> DeathQuote:
    person = account.person
    if on > timezone.localdate():
        raise RuralError("结算日期不能晚于今天")
    if death_date > on:
        raise RuralError("死亡日期不能晚于结算日期")
    if refusal := death_refusal(account):
        raise RuralError(refusal)
    if death_date < person.birth_date:
        raise RuralError("死亡日期不能早于出生日期")
    if account.status == AccountStatus.RECEIVING:
        if account.benefit_start_month and month_of(death_date) < account.benefit_start_month:
            raise RuralError("死亡日期早于开始领取年月，请核对")
        months = rural_death_guarantee_left(account=account, death_date=death_date)
        amount = quantize(account.monthly_benefit * months)
        table = {"date": on.isoformat(), "amount": str(amount), "years": [],
                 "guarantee": {"start_month": format_month(account.benefit_start_month),
                               "death_month": format_month(month_of(death_date)),
                               "months_left": months, "monthly": str(account.monthly_benefit)}}
        return DeathQuote(RuralDocument.Kind.DEATH_GUARANTEE, amount, months, on, death_date, None, table)
    quote = _quote(account, on)
    return DeathQuote(RuralDocument.Kind.DEATH_BALANCE, quote.amount, 0, on, death_date, quote, quote.as_dict())


def rural_death_quote(*, account: RuralAccount, death_date: dt.date, on: dt.date | None = None,
                      pay_method: str | None = None) -> DeathQuote:
    """死亡结算 试算: what ``rural_death_settle`` would pay on ``on`` (default today), refused for the
    same reasons, writing nothing. ``blocked``: why the settlement with the account's registered heir,
    paid by ``pay_method``, would be refused (``rules.death_settle_refusal``, which the settle applies)."""
    due = _death_quote(account, death_date, on or timezone.localdate())
    blocked = death_settle_refusal(account, heir=account.heir, amount=due.amount, pay_method=pay_method)
    return replace(due, blocked=blocked)


def rural_death_settle(*, account: RuralAccount, death_date: dt.date, heir: Person, pay_method: str, user,
                       on: dt.date | None = None, expected_amount=None) -> DeathSettlement:
    """死亡结算 with the heir (代领人, a person with their own account):
    - death before receipt → the whole account (the balance on the settlement date D, the quote rule)
      goes to the heir;
    - death while receiving, within the 120-month guarantee → the unpaid guaranteed months
      (``rural_death_guarantee_left``) × the monthly benefit go to the heir; the NB enrollment ends after
      the death month (overpaid months become a 扣减 in benefits);
    - death after the guarantee → nothing is due; the enrollment ends.
    The account is closed (已终止) and the person's death date recorded. ``expected_amount`` (what the
    user confirmed) must still be the amount due."""
    from shebao.benefits.services import BenefitError, enrollment_terminate

    on = on or timezone.localdate()
    pay_method = _pay_method(pay_method)
    if refusal := death_settle_refusal(account, heir=heir, amount=Decimal("0.00"), pay_method=pay_method):
        raise RuralError(refusal)  # the heir itself, before any amount
    if death_date > on:
        raise RuralError("死亡日期不能晚于结算日期")
    with transaction.atomic():
        account = _lock(account)
        person = account.person
        due = _death_quote(account, death_date, on)
        amount, kind, months, table = due.amount, due.kind, due.months, due.table
        if refusal := death_settle_refusal(account, heir=heir, amount=amount, pay_method=pay_method):
            raise RuralError(refusal)
        if expected_amount is not None and quantize(expected_amount) != amount:
            raise RuralError(f"应付金额已变化（确认时 {quantize(expected_amount)}，现为 {amount}），请重新试算")
        before = snapshot(account, ACCOUNT_FIELDS)
        if (account.status == AccountStatus.RECEIVING and account.enrollment_id
                and account.enrollment.payment_status != "terminated"):
            try:
                enrollment_terminate(enrollment=account.enrollment, reason="death", user=user,
                                     death_date=death_date, note="老农保死亡结算")
            except BenefitError as exc:
                raise RuralError(str(exc)) from None
        if person.death_date != death_date:
            from shebao.registry.services import RegistryError, person_update

            try:
                person_update(user=user, person=Person.objects.get(pk=person.pk), death_date=death_date,
                              reason="老农保死亡结算")
            except RegistryError as exc:
                raise RuralError(str(exc)) from None
        document = None
        if amount > 0:
            document = _settle(account=account, kind=kind, payee=heir, on=on, amount=amount, pay_method=pay_method,
                               user=user, table=table, before=before, payout_kind=PayoutKind.OTHER,
                               memo="老农保死亡结算")
        RuralAccount.objects.filter(pk=account.pk).update(status=AccountStatus.TERMINATED, closed_on=on, heir=heir)
        rural_years_recompute(account_ids=[account.pk])
        account.refresh_from_db()
        audit_record(user=user, action="rural_death_settle", obj=account, person_id=person.pk,
                     summary=f"老农保死亡结算 {_label(account)}：{RuralDocument.Kind(kind).label} {amount} 付代领人 "
                             f"{heir.name}" + (f"（{document.number}）" if document else "（无应付金额）"),
                     before=before, after={**snapshot(account, ACCOUNT_FIELDS), "amount": amount,
                                           "months_left": months, "document": document.number if document else None})
    return DeathSettlement(account, kind if amount > 0 else "none", amount, months, document)
