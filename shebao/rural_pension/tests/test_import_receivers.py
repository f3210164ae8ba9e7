"""Legacy receivers (状态 领取) are enrolled in scheme NB by the import: from the month after their last
legacy 养老金 payout, at the last payout's amount, so the NB monthly payroll pays them and never a
month the legacy system paid; the dead are not enrolled; a re-run enrols nobody twice."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from shebao.benefits.models import BenefitAmount, Enrollment, PaymentStatus, Scheme, StatusChange
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine
from shebao.payroll.services import payroll_run_compute
from shebao.registry.tests.factories import id_number
from shebao.rural_pension.legacy_import import rural_import
from shebao.rural_pension.models import ImportRejection, Payout, RuralAccount
from shebao.rural_pension.tests.factories import make_person, make_user

D = Decimal
pytestmark = pytest.mark.django_db

ALIVE = id_number(dt.date(1960, 4, 2), seq=11)  # 领取, payouts 2025-10 … 2025-12
NO_PENSION = id_number(dt.date(1959, 8, 9), seq=12)  # 领取, no payout at all
PAYER = id_number(dt.date(1970, 1, 5), seq=13)  # 缴费


@pytest.fixture
def clerk(db):
    return make_user("nb_imp_clerk")


@pytest.fixture
def dead(db):
    """A registered person who died in 2025, a legacy receiver in the files."""
    person = make_person("沈已故", birth=dt.date(1950, 2, 3), account=None)
    person.death_date = dt.date(2025, 11, 20)
    person.save(update_fields=["death_date"])
    return person


def _write(dir_: Path, name: str, lines: list[str]) -> None:
    (dir_ / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _persons(dir_: Path, dead) -> None:
    _write(dir_, "persons.csv", [
        "身份证号,姓名,性别,出生日期,镇街道,村,参保日期,状态,开户银行,银行账号",
        f"{ALIVE},王领取,男,1960-04-02,浒山街道,,1993-01-15,领取,中国工商银行,6222020000001111",
        f"{NO_PENSION},李领取,男,1959-08-09,浒山街道,,1993-01-15,领取,,",
        f"{PAYER},赵缴费,男,1970-01-05,浒山街道,,1993-01-15,缴费,,",
        f"{dead.id_number},沈已故,,,浒山街道,,1993-01-15,领取,,",
    ])


def _payouts(dir_: Path, dead, extra: list[str] = ()) -> None:
    _write(dir_, "payouts.csv", [
        "身份证号,年月,类别,金额",
        f"{ALIVE},202510,养老金,300.00",
        f"{ALIVE},202511,养老金,345.67",
        f"{ALIVE},202512,养老金,345.67",
        f"{dead.id_number},202509,养老金,88.10",
        *extra,
    ])


def _account(number: str) -> RuralAccount:
    return RuralAccount.objects.select_related("enrollment").get(person__id_number=number)


def test_receivers_are_paid_by_nb_from_the_month_after_the_legacy_payouts(tmp_path, clerk, dead):
    _persons(tmp_path, dead)
    _payouts(tmp_path, dead)
    events = AuditEvent.objects.count()

    dry = rural_import(directory=tmp_path, user=clerk, dry_run=True)
    assert dry.created["enrollments"] == 1
    assert not Enrollment.objects.exists() and AuditEvent.objects.count() == events  # the dry run kept nothing

    result = rural_import(directory=tmp_path, user=clerk)
    assert result.rejected_count == 0, [r.as_text() for r in result.rejected]
    assert result.created["enrollments"] == 1
    assert result.receivers.skipped == {"dead": 1, "no_pension": 1, "in_nb": 0}

    alive = _account(ALIVE)
    assert (alive.benefit_start_month, alive.monthly_benefit) == (dt.date(2025, 10, 1), D("345.67"))
    enrollment = alive.enrollment
    assert (enrollment.scheme.code, enrollment.person_id, enrollment.start_month) == ("NB", alive.person_id,
                                                                                      dt.date(2026, 1, 1))
    amount = BenefitAmount.objects.get(enrollment=enrollment)
    assert (amount.item.code, amount.amount, amount.from_month, amount.to_month) == ("basic", D("345.67"),
                                                                                     dt.date(2026, 1, 1), None)
    change = StatusChange.objects.get(enrollment=enrollment)
    assert (change.from_status, change.to_status, change.effective_month, change.note) == (
        "", PaymentStatus.ACTIVE, dt.date(2026, 1, 1), "纳入")
    # the others: not enrolled (dead; no legacy pension to take the amount from; not a receiver)
    for number in (NO_PENSION, PAYER, dead.id_number):
        assert _account(number).enrollment_id is None
    assert Enrollment.objects.count() == 1
    # audited in the import's transaction: the enrollment as the benefits app records it, and the links
    created = AuditEvent.objects.get(action="create", object_type="benefits.enrollment")
    assert created.person_id == alive.person_id and created.after["items"] == {"basic": "345.67"}
    link = AuditEvent.objects.get(action="rural_receivers_enrol")
    assert link.after["accounts"] == [[alive.pk, enrollment.pk]]
    assert link.after["skipped"] == {"dead": 1, "no_pension": 1, "in_nb": 0}
    assert link.object_id == str(result.batch.pk)

    # the NB monthly payroll: not 2025-12 (the legacy system paid it), 2026-01 at the exact amount
    nb = Scheme.objects.get(code="NB")
    december = payroll_run_compute(scheme=nb, period="2025-12", user=clerk)
    assert not PayrollLine.objects.filter(run=december).exists()
    january = payroll_run_compute(scheme=nb, period="2026-01", user=clerk)
    line = PayrollLine.objects.get(run=january)
    assert (line.person_id, line.gross, line.deductions, line.net) == (alive.person_id, D("345.67"), 0,
                                                                       D("345.67"))

    # the same files again: nobody is enrolled twice, nothing changes
    again = rural_import(directory=tmp_path, user=clerk)
    assert again.created["enrollments"] == 0 and not again.changed
    assert Enrollment.objects.count() == 1 and _account(ALIVE).enrollment_id == enrollment.pk


def test_a_legacy_pension_for_a_month_nb_pays_is_rejected(tmp_path, clerk, dead):
    _persons(tmp_path, dead)
    _payouts(tmp_path, dead)
    rural_import(directory=tmp_path, user=clerk)
    payouts = Payout.objects.count()
    _payouts(tmp_path, dead, extra=[f"{ALIVE},202601,养老金,345.67", f"{ALIVE},202601,其他,10.00"])
    result = rural_import(directory=tmp_path, user=clerk)
    rejection = ImportRejection.objects.get(batch=result.batch, file="payouts.csv")
    assert rejection.line_no == 6
    assert "2026-01 起由老农保月度发放（NB）支付，原系统 2026-01 的养老金不能再导入" in rejection.reason
    recon = next(r for r in result.reconciliation if r.file == "payouts.csv")
    assert (recon.rows_read, recon.rows_new, recon.rows_unchanged, recon.rows_rejected) == (6, 1, 4, 1)
    assert (recon.amount_rejected, recon.amount_new) == (D("345.67"), D("10.00"))
    assert Payout.objects.count() == payouts + 1  # only the 其他 row
    assert not Payout.objects.filter(account=_account(ALIVE), kind="pension", month=dt.date(2026, 1, 1)).exists()


def test_payouts_in_a_later_batch_enrol_the_receiver_then(tmp_path, clerk, dead):
    _persons(tmp_path, dead)
    first = rural_import(directory=tmp_path, user=clerk)
    assert first.created["enrollments"] == 0
    assert first.receivers.skipped == {"dead": 1, "no_pension": 2, "in_nb": 0}
    (tmp_path / "persons.csv").unlink()
    _payouts(tmp_path, dead)
    second = rural_import(directory=tmp_path, user=clerk)
    assert second.created["enrollments"] == 1
    alive = _account(ALIVE)
    assert (alive.monthly_benefit, alive.enrollment.start_month) == (D("345.67"), dt.date(2026, 1, 1))


def test_a_person_already_in_nb_is_not_enrolled_again(tmp_path, clerk, dead):
    from shebao.benefits.services import enrollment_create
    from shebao.registry.models import Person

    _persons(tmp_path, dead)
    rural_import(directory=tmp_path, user=clerk)  # persons only: nobody has a pension payout yet
    person = Person.objects.get(id_number=ALIVE)
    enrollment_create(person=person, scheme=Scheme.objects.get(code="NB"), start_month="2025-06", user=clerk,
                      items={"basic": "100.00"})
    (tmp_path / "persons.csv").unlink()
    _payouts(tmp_path, dead)
    result = rural_import(directory=tmp_path, user=clerk)
    assert result.created["enrollments"] == 0 and result.receivers.skipped["in_nb"] == 1
    assert Enrollment.objects.filter(person=person).count() == 1 and _account(ALIVE).enrollment_id is None


def test_receivers_enrolled_in_chunks_each_linked_to_their_own_enrollment(monkeypatch, tmp_path, clerk, dead):
    from shebao.rural_pension import legacy_import

    monkeypatch.setattr(legacy_import, "ENROL_CHUNK", 1)
    second = id_number(dt.date(1961, 6, 7), seq=14)
    _persons(tmp_path, dead)
    with (tmp_path / "persons.csv").open("a", encoding="utf-8") as f:
        f.write(f"{second},钱领取,男,1961-06-07,观海卫镇,,1993-02-01,领取,,\n")
    _payouts(tmp_path, dead, extra=[f"{second},202403,养老金,56.78"])
    result = rural_import(directory=tmp_path, user=clerk)
    assert result.created["enrollments"] == 2
    for number, start, amount in ((ALIVE, dt.date(2026, 1, 1), D("345.67")), (second, dt.date(2024, 4, 1), D("56.78"))):
        account = _account(number)
        assert (account.enrollment.person_id, account.enrollment.start_month) == (account.person_id, start)
        assert BenefitAmount.objects.get(enrollment=account.enrollment).amount == amount
    link = AuditEvent.objects.get(action="rural_receivers_enrol")
    assert sorted(link.after["accounts"]) == sorted([[_account(n).pk, _account(n).enrollment_id] for n in (ALIVE, second)])
    assert link.after["start_months"] == {"2024-04": 1, "2026-01": 1}
