"""The legacy 领取 accounts enrolled in scheme NB (``legacy_receivers_enrol``): after an import, and
from the command ``shebao rural receivers`` for accounts left out."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

from shebao.common.audit import audit_record
from shebao.rural_pension.legacy_checks import ImportFileError
from shebao.rural_pension.models import ImportBatch


@dataclass
class ReceiversEnrolment:
    """What ``legacy_receivers_enrol`` did: enrolled count, and the 领取 accounts it left out by reason
    (dead, no legacy pension to take the amount from, already in NB without the account's link)."""

    enrolled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skipped_text(self) -> str:
        return "，".join(f"{SKIP_LABELS[k]} {v:,} 人" for k, v in self.skipped.items() if v)


ENROL_CHUNK = 2000
SKIP_LABELS = {"dead": "已死亡", "no_pension": "无原系统养老金记录", "in_nb": "已在老农保发放中（未关联账户）"}


def legacy_receivers_enrol(*, user, batch: ImportBatch | None = None, account_ids: list[int] | None = None,
                           reason: str = "", chunk: int | None = None) -> ReceiversEnrolment:
    """Enrol the legacy 领取 accounts in scheme NB so the monthly payroll pays them: each gets an NB
    enrollment whose item 养老金 = the account's monthly benefit, from the month AFTER its last 养老金
    payout (the legacy system paid up to that month: never a month twice), linked as the account's
    enrollment. Candidates: 领取 accounts with no enrollment — of any import batch (``account_ids``
    None) or the given accounts. Left out: a dead person (death date), an account with no pension payout
    or no monthly benefit, a person already in NB. Set-based: ``enrollment_bulk_create`` (status history
    纳入 and one audit event per enrollment, as the benefits app records a new enrollment), one UPDATE
    for the links and one summary audit event, all in the caller's transaction. Idempotent: an enrolled
    account has its enrollment and is no candidate again."""
    from shebao.benefits.months import add_months, format_month
    from shebao.benefits.services import BenefitError, EnrollmentRow, enrollment_bulk_create, scheme_get
    from shebao.registry.models import Person

    scheme = scheme_get("NB")
    where = "a.import_batch_id IS NOT NULL" if account_ids is None else "a.id = ANY(%(ids)s)"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"""
                SELECT a.id, a.person_id, a.monthly_benefit, p.death_date IS NOT NULL,
                       (SELECT max(o.month) FROM rural_pension_payout o WHERE o.account_id = a.id AND o.kind = 'pension'),
                       EXISTS (SELECT 1 FROM benefits_enrollment e WHERE e.person_id = a.person_id
                               AND e.scheme_id = %(nb)s)
                FROM rural_pension_ruralaccount a
                JOIN registry_person p ON p.id = a.person_id
                WHERE a.status = 'receiving' AND a.enrollment_id IS NULL AND {where}
                ORDER BY a.id
                FOR UPDATE OF a""", {"nb": scheme.pk, "ids": list(account_ids or [])})
            candidates = cursor.fetchall()
        done = ReceiversEnrolment(skipped={"dead": 0, "no_pension": 0, "in_nb": 0})
        wanted = []  # (account id, person id, start month, amount)
        for account_id, person_id, monthly, dead, last_month, in_nb in candidates:
            if dead:
                done.skipped["dead"] += 1
            elif last_month is None or monthly is None or monthly <= 0:
                done.skipped["no_pension"] += 1
            elif in_nb:
                done.skipped["in_nb"] += 1
            else:
                wanted.append((account_id, person_id, add_months(last_month, 1), monthly))
        if not wanted:
            return done
        why = reason or (f"老农保导入批次 {batch.pk}：原系统领取人员" if batch else "老农保原系统领取人员")
        pairs: list[tuple[int, int]] = []  # (account id, enrollment id)
        size = chunk or ENROL_CHUNK
        for k in range(0, len(wanted), size):  # in chunks: the ORM objects of one chunk at a time
            part = wanted[k:k + size]
            persons = Person.objects.in_bulk([w[1] for w in part])
            try:
                enrollments = enrollment_bulk_create(
                    scheme=scheme, user=user, reason=why,
                    rows=[EnrollmentRow(person=persons[person_id], start_month=start, items={"basic": amount},
                                        note="老农保原系统领取人员，原系统发放至上月")
                          for _, person_id, start, amount in part])
            except BenefitError as exc:
                raise ImportFileError(f"领取人员纳入老农保月度发放失败：{exc}") from None
            chunk = [(w[0], e.pk) for w, e in zip(part, enrollments, strict=True)]
            with connection.cursor() as cursor:
                cursor.execute("""
                    UPDATE rural_pension_ruralaccount a SET enrollment_id = v.enrollment_id, updated_at = now()
                    FROM unnest(%s::bigint[], %s::bigint[]) AS v(account_id, enrollment_id)
                    WHERE a.id = v.account_id""", [[c[0] for c in chunk], [c[1] for c in chunk]])
            pairs += chunk
        done.enrolled = len(pairs)
        starts: dict[str, int] = {}
        for w in wanted:
            starts[format_month(w[2])] = starts.get(format_month(w[2]), 0) + 1
        audit_record(
            user=user, action="rural_receivers_enrol",
            obj=batch, object_type="" if batch else "rural_pension.ruralaccount",
            summary=f"老农保原系统领取人员纳入月度发放（NB）{done.enrolled:,} 人"
                    + (f"；未纳入：{done.skipped_text()}" if done.skipped_text() else ""),
            after={"enrolled": done.enrolled, "skipped": done.skipped, "start_months": dict(sorted(starts.items())),
                   "accounts": [[account_id, enrollment_id] for account_id, enrollment_id in pairs]},
            reason=why)
    return done

