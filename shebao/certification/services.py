"""生存认证 and 死亡减员 for every paying scheme (ZG, NB, BZ, TB), built on the engine:

- ``certification_record``: one certification; a person suspended for 未提供生存证明 is resumed from
  the month after the scheme's latest computed regular run, the withheld months paid as one 补发 at
  the amounts in effect in each month (``benefits.enrollment_resume``); when no run withheld a month
  yet (the certification came inside the suspension's first month) the suspension is cancelled
  (``benefits.suspension_cancel``: no gap). Other reasons (判刑收监 …) are left to their own rule.
  The service other apps call (the warehouse's "evidence of life" is method ``data``/数据比对).
- ``certification_sweep``: on day D everyone past grace (due = last certification, or the start of
  payment, + the scheme's cycle; grace to the end of the due month) is suspended for 未提供生存证明
  from the month after the scheme's latest computed regular run, or D's month if later — ONE
  set-based statement (``sql/sweep.sql``); running it again the same day suspends nobody.
- ``certification_import``: a file of 身份证号, 姓名, 认证日期 (csv UTF-8/GB18030 or xlsx, through
  ``common.safefile``); bad rows reported and not written, the good rows in one transaction,
  re-importing the same file changes nothing.
- ``person_death``: 死亡减员 of every scheme the person is in, through the engine's termination
  settlement (``payroll.settlement.enrollment_terminate_settle``): payment ends after the death
  month, what was paid for later months is netted first against pending 补发 (扣回), the rest 待追回.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from shebao.benefits.models import Enrollment, PaymentStatus, Suspension, SuspensionReason
from shebao.benefits.months import add_months, format_month, month_of
from shebao.benefits.services import BenefitError, enrollment_resume, suspension_cancel
from shebao.certification.models import Certification, Method, SchemeCycle
from shebao.common.audit import audit_record, audit_record_many
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.common.money import ZERO
from shebao.common.safefile import FileRefused, Limits, read_table
from shebao.payroll.models import PayrollRun
from shebao.payroll.services import PayrollError
from shebao.payroll.settlement import Settlement, enrollment_terminate_settle
from shebao.registry.models import Person

NO_CERT = "no_cert"
DEFAULT_CYCLE = 12
SQL_DIR = Path(__file__).resolve().parent / "sql"

# the names a user (or a file's channel) gives a method → its code
METHOD_NAMES: dict[str, str] = {
    "经办机构": Method.OFFICE, "社区上门": Method.COMMUNITY, "手机": Method.MOBILE, "人脸识别": Method.MOBILE,
    "手机/人脸识别": Method.MOBILE, "自助终端": Method.TERMINAL, "银行": Method.BANK, "数据比对": Method.DATA,
    "其他": Method.OTHER,
}
METHOD_NAMES.update({m.value: m.value for m in Method})


class CertificationError(Exception):
    """A refused certification, sweep, import or death; ``str()`` is the Chinese message."""


def method_code(value: str) -> str:
    code = METHOD_NAMES.get(str(value or "").strip())
    if code is None:
        raise CertificationError(f"认证方式“{value}”不正确，应为：经办机构、社区上门、手机、自助终端、银行、数据比对、其他")
    return str(code)


def cycle_months(scheme_id: int) -> int:
    row = SchemeCycle.objects.filter(scheme_id=scheme_id).values_list("months", flat=True).first()
    return row or DEFAULT_CYCLE


def latest_regular_period(scheme_id: int) -> dt.date | None:
    """The period of the scheme's latest computed regular run (any state: computed is computed)."""
    return PayrollRun.objects.filter(scheme_id=scheme_id, kind=PayrollRun.Kind.REGULAR).aggregate(
        p=Max("period"))["p"]


def due_date(*, last_certified: dt.date | None, start_month: dt.date, months: int) -> dt.date:
    """Last certification (or the start of payment) + the cycle, the day kept (clamped to the month's end)."""
    base = last_certified or start_month
    first = add_months(month_of(base), months)
    day = base.day
    while True:
        try:
            return first.replace(day=day)
        except ValueError:
            day -= 1


def grace_end(due: dt.date) -> dt.date:
    """The last day a person due on ``due`` is still paid without a certification: the due month's end."""
    return add_months(month_of(due), 1) - dt.timedelta(days=1)


# --------------------------------------------------------------------------------------------------
# one certification


@dataclass
class Resumed:
    enrollment: Enrollment
    how: str  # "cancelled" (no gap) or "resumed"
    from_month: dt.date
    arrears: Decimal = ZERO
    months: list[dt.date] = field(default_factory=list)


@dataclass
class RecordResult:
    certification: Certification
    created: bool
    resumed: list[Resumed] = field(default_factory=list)


def _check_date(person: Person, on: dt.date) -> None:
    if not isinstance(on, dt.date):
        raise CertificationError("请填写认证日期")
    if on > timezone.localdate():
        raise CertificationError(f"认证日期 {on:%Y-%m-%d} 不能晚于今天")
    if person.death_date is not None:
        raise CertificationError(f"{person.name} 已于 {person.death_date:%Y-%m-%d} 死亡，不能认证")
    if on < person.birth_date:
        raise CertificationError(f"认证日期 {on:%Y-%m-%d} 早于出生日期")


# an attachment (photo or scan of the evidence): what its first bytes must be, per extension
ATTACHMENT_KINDS: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)), "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)), "pdf": ("application/pdf", (b"%PDF-",)),
}
ATTACHMENT_MAX = 5 * 1024 * 1024
_NAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\/:*?<>|;%\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]')


@dataclass
class AttachmentInfo:
    name: str  # the uploader's file name made safe (shown, and given back in Content-Disposition)
    ext: str  # the stored file's extension, from the content
    content_type: str


def attachment_safe_name(file_name: str, ext: str) -> str:
    """The uploader's file name as it may be shown and sent back: the last path part, without control,
    format, quote, slash, percent or other characters a header or a file system reads specially, at
    most 100 characters, ending in ``.ext``."""
    import unicodedata

    base = unicodedata.normalize("NFC", str(file_name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _NAME_UNSAFE.sub("", stem).strip(" .-") or "附件"
    return f"{stem[:100 - len(ext) - 1]}.{ext}"


def attachment_check(file_name: str, head: bytes, size: int) -> AttachmentInfo:
    """An attachment's name, size and first bytes checked: jpg, png or pdf whose content is what the name
    says, not empty, at most 5 MB. Refused with ``CertificationError`` (Chinese)."""
    base = str(file_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    ext = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    if ext not in ATTACHMENT_KINDS:
        raise CertificationError("附件只能是 jpg、png 或 pdf 文件")
    if size <= 0:
        raise CertificationError("附件是空文件")
    if size > ATTACHMENT_MAX:
        raise CertificationError("附件不能超过 5 MB")
    content_type, magics = ATTACHMENT_KINDS[ext]
    if not any(head.startswith(m) for m in magics):
        raise CertificationError(f"附件内容不是有效的 {'jpg' if ext == 'jpeg' else ext} 文件")
    ext = "jpg" if ext == "jpeg" else ext
    return AttachmentInfo(attachment_safe_name(base, ext), ext, content_type)


def _attachment_prepare(attachment):
    """Check an uploaded file (or any binary file object with a ``name``) and give it a random stored
    name (``<hex>.<ext>``): the uploader's name never reaches the file system. (file, info) or (None, None)."""
    if not attachment:
        return None, None
    import uuid

    from django.core.files import File

    if not isinstance(attachment, File):
        attachment = File(attachment, name=getattr(attachment, "name", ""))
    head = attachment.read(16)
    attachment.seek(0)
    info = attachment_check(attachment.name, head, attachment.size)
    attachment.name = f"{uuid.uuid4().hex}.{info.ext}"
    return attachment, info


def certification_record(person: Person, on: dt.date, method: str, user, *, source: str = "", note: str = "",
                         place: str = "", attachment=None) -> RecordResult:
    """Record that ``person`` was alive on ``on`` (method: a code of ``Method`` or its Chinese name, e.g.
    ``"数据比对"``). A second record of the same person and day changes nothing (``created`` False).
    A suspension for 未提供生存证明 ends with it (see the module). ``attachment`` (an uploaded file) is
    checked by ``attachment_check`` and stored under a random name. One transaction, audited."""
    method = method_code(method)
    if len(note or "") > 200 or len(place or "") > 100 or len(source or "") > 200:
        raise CertificationError("备注、地点或来源过长（备注 200 字、地点 100 字、来源 200 字以内）")
    attachment, info = _attachment_prepare(attachment)
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        _check_date(person, on)
        existing = Certification.objects.filter(person=person, certified_on=on).first()
        if existing is not None:
            return RecordResult(existing, False)
        try:
            with transaction.atomic():
                cert = Certification.objects.create(person=person, certified_on=on, method=method, place=place or "",
                                                    note=note or "", source=source or "", operator=user,
                                                    attachment=attachment or "",
                                                    attachment_name=info.name if info else "",
                                                    attachment_type=info.content_type if info else "")
        except IntegrityError:  # pragma: no cover - the person's row lock serialises the same day
            return RecordResult(Certification.objects.get(person=person, certified_on=on), False)
        audit_record(user=user, action="certification_record", obj=cert, person_id=person.pk,
                     summary=f"{person.name} 生存认证 {on:%Y-%m-%d}（{cert.get_method_display()}）",
                     after={"certified_on": on, "method": method, "place": place, "source": source,
                            **({"attachment": cert.attachment.name, "attachment_name": info.name} if info else {})},
                     reason=note)
        resumed = _resume_after(person=person, on=on, user=user)
    return RecordResult(cert, True, resumed)


def _resume_after(*, person: Person, on: dt.date, user) -> list[Resumed]:
    out = []
    open_suspensions = (Suspension.objects.filter(enrollment__person=person, to_month__isnull=True,
                                                  reason__code=NO_CERT, enrollment__payment_status="suspended")
                        .select_related("enrollment", "enrollment__scheme"))
    for suspension in open_suspensions:
        enrollment = suspension.enrollment
        latest = latest_regular_period(enrollment.scheme_id)
        start = add_months(latest, 1) if latest else suspension.from_month
        note = f"{on:%Y-%m-%d} 生存认证"
        try:
            if start <= suspension.from_month:
                suspension_cancel(enrollment=enrollment, user=user, note=note)
                out.append(Resumed(enrollment, "cancelled", suspension.from_month))
            else:
                result = enrollment_resume(enrollment=enrollment, from_month=start, user=user, note=note)
                out.append(Resumed(enrollment, "resumed", start,
                                   result.arrears.total if result.arrears else ZERO, result.months))
        except BenefitError as exc:
            raise CertificationError(str(exc)) from None
    return out


# --------------------------------------------------------------------------------------------------
# the sweep


@dataclass
class SweepResult:
    on: dt.date
    suspended: int
    rows: list[tuple[int, int, dt.date]]  # (enrollment id, person id, from month)


def certification_sweep(*, on: dt.date, user) -> SweepResult:
    """Suspend everyone past grace on ``on`` (see the module): one statement; audited per enrollment and
    once for the sweep, in the same transaction."""
    if on > timezone.localdate():
        raise CertificationError(f"清理日期 {on:%Y-%m-%d} 不能晚于今天")
    reason = SuspensionReason.objects.filter(code=NO_CERT).first()
    if reason is None:  # pragma: no cover - seeded by benefits 0002
        raise CertificationError("暂停原因“未提供生存证明”不存在")
    sql = (SQL_DIR / "sweep.sql").read_text(encoding="utf-8")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"on": on, "month": month_of(on), "reason": reason.pk, "pays": reason.pays_on_resume,
                                 "user": user.pk, "cycle": DEFAULT_CYCLE, "note": f"{on:%Y-%m-%d} 生存认证到期清理"})
            rows = cursor.fetchall()
        events = [{"user": user, "action": "suspend", "object_type": "benefits.enrollment", "object_id": eid,
                   "person_id": pid, "summary": f"{name} {format_month(start)} 起暂停：{reason.name}（生存认证逾期）",
                   "before": {"payment_status": PaymentStatus.ACTIVE},
                   "after": {"payment_status": PaymentStatus.SUSPENDED, "from_month": start, "reason": NO_CERT,
                             "pays_on_resume": reason.pays_on_resume}, "reason": "生存认证到期清理"}
                  for eid, pid, start, name in rows]
        events.append({"user": user, "action": "certification_sweep", "object_type": "certification.sweep",
                       "object_id": f"{on:%Y-%m-%d}", "summary": f"{on:%Y-%m-%d} 生存认证到期清理：暂停 {len(rows)} 人次",
                       "after": {"on": on, "suspended": len(rows)}})
        audit_record_many(events)
    return SweepResult(on, len(rows), [(e, p, s) for e, p, s, _ in rows])


# --------------------------------------------------------------------------------------------------
# import


@dataclass
class ImportRow:
    line: int
    id_number: str
    name: str
    certified_on: dt.date | None
    person_id: int | None = None
    error: str = ""
    existing: bool = False  # the same person and day is already on record: nothing to write


@dataclass
class ImportResult:
    rows: list[ImportRow]
    method: str
    dry_run: bool
    created: int = 0
    resumed: int = 0

    @property
    def bad(self) -> list[ImportRow]:
        return [r for r in self.rows if r.error]

    @property
    def good(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.error]

    @property
    def unchanged(self) -> int:
        return sum(1 for r in self.rows if not r.error and r.existing)


COLUMNS = ("身份证号", "姓名", "认证日期")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
IMPORT_LIMITS = Limits(max_bytes=20 * 1024 * 1024, max_rows=200_000)


def _parse_date(text: str) -> dt.date:
    m = _DATE.match(text.strip()[:10] if re.match(r"^\d{4}-\d{2}-\d{2}[ T]00:00(:00)?$", text.strip())
                    else text.strip())
    if not m:
        raise ValueError(f"认证日期“{text}”格式不正确，应为 YYYY-MM-DD")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError(f"认证日期“{text}”不是有效日期") from None


def certification_import_check(*, file_name: str, data: bytes) -> list[ImportRow]:
    """Read and check a file (nothing written): each row with its person or its reason."""
    try:
        table = read_table(file_name, data, IMPORT_LIMITS)
    except FileRefused as exc:
        raise CertificationError(str(exc)) from None
    header = [c.strip() for c in table[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CertificationError(f"文件缺少列：{'、'.join(missing)}（应有 身份证号、姓名、认证日期）")
    ix = [header.index(c) for c in COLUMNS]
    today = timezone.localdate()
    rows: list[ImportRow] = []
    numbers: set[str] = set()
    for n, raw in enumerate(table[1:], start=2):
        cells = [raw[i].strip() if i < len(raw) else "" for i in ix]
        if not any(cells):
            continue
        row = ImportRow(n, cells[0], cells[1], None)
        rows.append(row)
        try:
            row.id_number = parse_id_number(cells[0]).number
        except IdNumberError as exc:
            row.error = str(exc)
            continue
        numbers.add(row.id_number)
        if not row.name:
            row.error = "姓名不能为空"
            continue
        try:
            row.certified_on = _parse_date(cells[2])
        except ValueError as exc:
            row.error = str(exc)
            continue
        if row.certified_on > today:
            row.error = f"认证日期 {row.certified_on:%Y-%m-%d} 晚于今天"
    persons = {}
    if numbers:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id_number, id, name, death_date, birth_date FROM registry_person "
                           "WHERE id_number = ANY(%s)", [list(numbers)])
            persons = {r[0]: r[1:] for r in cursor.fetchall()}
    seen: dict[tuple[int, dt.date], int] = {}
    for row in rows:
        if row.error:
            continue
        found = persons.get(row.id_number)
        if found is None:
            row.error = "查无此人（身份证号未登记）"
            continue
        pid, name, death, born = found
        if name != row.name:
            row.error = f"姓名与登记不符（登记为 {name}）"
            continue
        if death is not None:
            row.error = f"该人员已于 {death:%Y-%m-%d} 死亡"
            continue
        if row.certified_on < born:
            row.error = "认证日期早于出生日期"
            continue
        key = (pid, row.certified_on)
        if key in seen:
            row.error = f"与第 {seen[key]} 行重复"
            continue
        seen[key] = row.line
        row.person_id = pid
    if seen:
        with connection.cursor() as cursor:
            cursor.execute("SELECT c.person_id, c.certified_on FROM certification_certification c "
                           "JOIN unnest(%s::bigint[], %s::date[]) AS f(pid, d) ON c.person_id = f.pid "
                           "AND c.certified_on = f.d",
                           [[k[0] for k in seen], [k[1] for k in seen]])
            on_record = set(cursor.fetchall())
        for row in rows:
            if not row.error and (row.person_id, row.certified_on) in on_record:
                row.existing = True
    return rows


def certification_import(*, file_name: str, data: bytes, method: str, user, dry_run: bool = False,
                         source: str = "") -> ImportResult:
    """Import a file of certifications (see the module): the good rows in one transaction, set-based
    (one INSERT … ON CONFLICT DO NOTHING); rows already on record change nothing; persons suspended for
    未提供生存证明 are resumed as ``certification_record`` does."""
    method = method_code(method)
    rows = certification_import_check(file_name=file_name, data=data)
    result = ImportResult(rows, method, dry_run)
    todo = [r for r in rows if not r.error and not r.existing]
    if dry_run or not todo:
        return result
    source = (source or f"导入 {file_name}")[:200]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO certification_certification (person_id, certified_on, method, place, note, source, "
                "attachment, operator_id, created_at) "
                "SELECT f.pid, f.d, %s, '', '', %s, '', %s, now() FROM unnest(%s::bigint[], %s::date[]) AS f(pid, d) "
                "ON CONFLICT (person_id, certified_on) DO NOTHING RETURNING id, person_id, certified_on",
                [method, source, user.pk, [r.person_id for r in todo], [r.certified_on for r in todo]])
            created = cursor.fetchall()
        # one audit event for the file: the records themselves are immutable and carry their operator,
        # source and time; what each resume changes is audited by the benefits services below
        ids = sorted(cid for cid, _, _ in created)
        events = [{"user": user, "action": "certification_import", "object_type": "certification.import",
                   "object_id": file_name[:60],
                   "summary": f"导入生存认证 {file_name}（{Method(method).label}）：新增 {len(created)} 条，"
                              f"已有 {result.unchanged} 行，错误 {len(result.bad)} 行",
                   "after": {"created": len(created), "bad": len(result.bad), "unchanged": result.unchanged,
                             "method": method, "source": source, "sha256": hashlib.sha256(data).hexdigest(),
                             "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None}}]
        audit_record_many(events)
        result.created = len(created)
        # the few persons suspended for 未提供生存证明 among them: resumed one by one
        latest = {}
        for cid, pid, on in created:
            _ = cid
            latest[pid] = max(on, latest.get(pid, on))
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT e.person_id FROM benefits_suspension s "
                           "JOIN benefits_enrollment e ON e.id = s.enrollment_id "
                           "JOIN benefits_suspensionreason r ON r.id = s.reason_id "
                           "WHERE s.to_month IS NULL AND r.code = %s AND e.person_id = ANY(%s::bigint[])",
                           [NO_CERT, list(latest)])
            suspended = {row[0] for row in cursor.fetchall()}
        for pid in sorted(suspended):
            person = Person.objects.select_for_update().get(pk=pid)
            result.resumed += len(_resume_after(person=person, on=latest[pid], user=user))
    return result


# --------------------------------------------------------------------------------------------------
# death


@dataclass
class DeathResult:
    person: Person
    settlements: list[tuple[Enrollment, Settlement]]
    overpayment: Decimal  # item money paid for months after the death month
    recovered_from_owed: Decimal  # netted against pending 补发 (扣回)
    to_recover: Decimal  # 待追回
    to_pay: Decimal  # still owed (paid by a settlement line to the heir)


def person_death(*, person: Person, on: dt.date, user, source: str = "", note: str = "", heir=None) -> DeathResult:
    """死亡减员: record the death and end every scheme the person is in, each settled by the engine's
    termination settlement. Money still owed after the netting needs ``heir`` (a person or payee).
    NB's 死亡结算 (the heir's guarantee months) is its own step afterwards. All or nothing."""
    if not isinstance(on, dt.date):
        raise CertificationError("请填写死亡日期")
    if on > timezone.localdate():
        raise CertificationError(f"死亡日期 {on:%Y-%m-%d} 不能晚于今天")
    if on < person.birth_date:
        raise CertificationError("死亡日期不能早于出生日期")
    text = "；".join(t for t in [f"来源：{source}" if source else "", note] if t)[:200] or "死亡减员"
    settlements = []
    try:
        with transaction.atomic():
            person = Person.objects.select_for_update().get(pk=person.pk)
            if person.death_date is not None:
                raise CertificationError(f"{person.name} 已登记死亡（{person.death_date:%Y-%m-%d}）")
            enrollments = list(Enrollment.objects.filter(person=person, payment_status__in=[
                PaymentStatus.ACTIVE, PaymentStatus.SUSPENDED]).select_related("scheme").order_by("scheme__sort"))
            for enrollment in enrollments:
                settlements.append((enrollment, enrollment_terminate_settle(
                    enrollment=enrollment, on=on, reason="death", user=user, heir=heir, note=text)))
            person.refresh_from_db()
            if person.death_date != on:
                from shebao.registry.services import RegistryError, person_update

                try:
                    person_update(user=user, person=person, death_date=on, reason=text)
                except RegistryError as exc:
                    raise CertificationError(str(exc)) from None
    except PayrollError as exc:
        raise CertificationError(str(exc)) from None
    overpayment = sum((s.termination.overpaid for _, s in settlements if s.termination), ZERO)
    recovered = sum((min(s.arrears + s.extra, s.deductions) for _, s in settlements), ZERO)
    to_recover = sum((-s.net for _, s in settlements if s.net < 0), ZERO)
    to_pay = sum((s.net for _, s in settlements if s.net > 0), ZERO)
    return DeathResult(person, settlements, overpayment, recovered, to_recover, to_pay)


# --------------------------------------------------------------------------------------------------
# communities, contacts, community workers

COMMUNITY_FIELDS = ["address", "contact_name", "phone", "mobile", "note"]
_PHONE = re.compile(r"^[0-9+\-() ]{0,20}$")


def _check_phone(value: str, label: str) -> str:
    value = (value or "").strip()
    if not _PHONE.match(value):
        raise CertificationError(f"{label}“{value}”格式不正确（只能包含数字、空格和 + - ( )）")
    return value


def community_save(*, region, user, **changes):
    """Save a 村社区's address, contact person and phones; audited with before/after."""
    from shebao.certification.models import CommunityInfo
    from shebao.common.audit import diff, snapshot

    if region.level != "community":
        raise CertificationError(f"{region.name} 不是村社区")
    unknown = set(changes) - set(COMMUNITY_FIELDS)
    if unknown:
        raise CertificationError(f"不能修改的字段：{', '.join(sorted(unknown))}")
    for key in ("phone", "mobile"):
        if key in changes:
            changes[key] = _check_phone(changes[key], "电话" if key == "phone" else "手机")
    limits = {"address": 200, "contact_name": 50, "note": 200}
    for key, n in limits.items():
        if len((changes.get(key) or "").strip()) > n:
            raise CertificationError(f"{key} 超过 {n} 字")
    with transaction.atomic():
        info, _ = CommunityInfo.objects.select_for_update().get_or_create(region=region)
        before = snapshot(info, COMMUNITY_FIELDS)
        for key, value in changes.items():
            setattr(info, key, (value or "").strip())
        b, a = diff(before, snapshot(info, COMMUNITY_FIELDS))
        if a:
            info.save()
            audit_record(user=user, action="update", obj=info, summary=f"村社区 {region.name} 信息变更",
                         before=b, after=a)
    return info


def contact_add(*, person: Person, user, name: str, relation: str, phone: str, relation_note: str = ""):
    """Add a 家属/代理人 contact to a person; audited."""
    from shebao.certification.models import PersonContact
    from shebao.common.identity import name_error

    name = (name or "").strip()
    if error := name_error(name):
        raise CertificationError(error)
    if relation not in PersonContact.Relation.values:
        raise CertificationError("关系应为 家属 或 代理人")
    phone = _check_phone(phone, "电话")
    if not phone:
        raise CertificationError("请填写联系人电话")
    with transaction.atomic():
        contact = PersonContact.objects.create(person=person, name=name, relation=relation, phone=phone,
                                               relation_note=(relation_note or "").strip()[:20])
        audit_record(user=user, action="create", obj=contact, person_id=person.pk,
                     summary=f"{person.name} 新增联系人 {name}（{contact.get_relation_display()}）",
                     after={"name": name, "relation": relation, "phone": phone})
    return contact


def contact_deactivate(*, contact, user):
    from shebao.certification.models import PersonContact

    with transaction.atomic():
        changed = PersonContact.objects.filter(pk=contact.pk, active=True).update(active=False)
        if not changed:
            raise CertificationError("该联系人已停用")
        audit_record(user=user, action="update", obj=contact, person_id=contact.person_id,
                     summary=f"停用联系人 {contact.name}", before={"active": True}, after={"active": False})


def community_worker_assign(*, worker, communities: list, actor, replace: bool = False) -> None:
    """Make ``worker`` a 社区专管员 of ``communities`` (村社区 regions): the role 社区专管员 and those
    communities in their regions (the policy layer narrows their towns to them). ``replace``: the
    communities become exactly these (the user page's multi-select; others held are removed), else they
    are added. Audited with before/after; nothing changed writes nothing."""
    from django.contrib.auth.models import Group

    from shebao.accounts.models import Role, User

    if (not communities and not replace) or any(c.level != "community" for c in communities):
        raise CertificationError("请选择村社区（不能是镇街道）")
    if worker.all_regions and communities:
        raise CertificationError(f"用户 {worker.username} 为全市范围，不能限定到村社区")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=worker.pk)
        group, _ = Group.objects.get_or_create(name=Role.COMMUNITY)
        held = set(locked.regions.filter(level="community").values_list("pk", flat=True))
        wanted = {c.pk for c in communities}
        had_role = locked.groups.filter(pk=group.pk).exists()
        added = wanted - held
        removed = (held - wanted) if replace else set()
        if had_role and not added and not removed:
            return
        locked.groups.add(group)
        if added:
            locked.regions.add(*added)
        if removed:
            locked.regions.remove(*removed)
        names = "、".join(c.name for c in sorted(communities, key=lambda c: (c.parent_id or 0, c.sort, c.pk)))
        audit_record(user=actor, action="update", obj=locked,
                     summary=f"{worker.username} 任社区专管员：{names or '（未选村社区）'}",
                     before={"role": Role.COMMUNITY if had_role else None, "communities": sorted(held)},
                     after={"role": Role.COMMUNITY, "communities": sorted((held | added) - removed)},
                     username="" if actor else "system")
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache", "_policy_region_scope"):
        worker.__dict__.pop(cache, None)


# --------------------------------------------------------------------------------------------------
# 人员维护: a person's 社会化管理 data

SOCIAL_FIELDS = ["visit_address", "living", "living_place", "visit_note"]
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_UNSEEN = object()


def _plain_text(value, label: str, limit: int) -> str:
    import unicodedata

    value = str(value or "").strip()
    if len(value) > limit:
        raise CertificationError(f"{label}过长（最多 {limit} 个字）")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise CertificationError(f"{label}含有不可见的控制字符")
    return value


def person_social_save(*, person: Person, user, community=_UNSEEN, mobile=_UNSEEN, phone=_UNSEEN,
                       visit_address: str = "", living: str = "home", living_place: str = "",
                       visit_note: str = ""):
    """人员维护: save a person's 村社区 and phones (``registry.person_update``, audited there) and their
    社会化管理 data (``SocialProfile``: 走访地址, 居住状况, 居住地或机构, 走访备注; audited with before/after),
    all in one transaction. ``community`` must be a 村社区 of the person's 镇街道 (or None); a person
    away from home (异地、境外、养老机构、长期住院) needs the place. Nothing changed writes nothing."""
    from shebao.certification.models import SocialProfile
    from shebao.common.audit import diff, snapshot
    from shebao.registry.services import RegistryError, person_update

    values = {"visit_address": _plain_text(visit_address, "走访地址", 200),
              "living": str(living or ""), "living_place": _plain_text(living_place, "居住地或机构", 100),
              "visit_note": _plain_text(visit_note, "走访备注", 200)}
    if values["living"] not in SocialProfile.Living.values:
        raise CertificationError("居住状况不正确")
    if values["living"] != SocialProfile.Living.HOME and not values["living_place"]:
        raise CertificationError(f"居住状况为“{SocialProfile.Living(values['living']).label}”时，请填写居住地或机构")
    registry: dict = {}
    if community is not _UNSEEN:
        if community is not None and (community.level != "community" or community.parent_id != person.town_id):
            raise CertificationError(f"{community.name} 不是 {person.town.name} 的村社区")
        registry["community"] = community
    if mobile is not _UNSEEN:
        mobile = str(mobile or "").strip()
        if mobile and not _MOBILE.match(mobile):
            raise CertificationError(f"手机号码“{mobile}”格式不正确（11 位，以 1 开头）")
        registry["mobile"] = mobile
    if phone is not _UNSEEN:
        registry["phone"] = _check_phone(phone, "固定电话")
    with transaction.atomic():
        locked = Person.objects.select_for_update().get(pk=person.pk)
        if locked.death_date is not None:
            raise CertificationError(f"{locked.name} 已于 {locked.death_date:%Y-%m-%d} 死亡，不再维护")
        if registry:
            try:
                person_update(user=user, person=locked, reason="人员维护（社会化管理）", **registry)
            except RegistryError as exc:
                raise CertificationError(str(exc)) from None
        profile = SocialProfile.objects.select_for_update().filter(person=locked).first()
        before = (snapshot(profile, SOCIAL_FIELDS) if profile else
                  {k: SocialProfile.Living.HOME if k == "living" else "" for k in SOCIAL_FIELDS})
        b, a = diff(before, values)
        if a:
            if profile is None:
                profile = SocialProfile(person=locked)
            for key, value in values.items():
                setattr(profile, key, value)
            profile.updated_by = user
            profile.save()
            audit_record(user=user, action="update", obj=profile, person_id=locked.pk,
                         summary=f"{locked.name} 社会化管理信息变更", before=b, after=a)
    return profile
