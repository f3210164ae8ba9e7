"""Every /nb/ form that creates money or a record is safe to submit twice: the same form (one one-time
token) posted twice IN PARALLEL from two clients makes exactly one write, and the second submit is told
so in Chinese (退款结算, 开始领取, 代领人, 死亡结算, 退款回退, 记账利率, 计发系数, 信息修改, the import's dry run
and its commit).

These tests commit (``transaction=True``): each request runs in its own thread with its own database
connection, as two browser tabs would."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.urls import reverse

from shebao.common.models import AuditEvent, Job
from shebao.common.once import REPEATED
from shebao.rural_pension.models import BenefitCoefficient, CreditedRate, RuralAccount, RuralDocument
from shebao.rural_pension.services import rural_heir_set, rural_refund_settle, rural_years_recompute
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, set_rates
from shebao.web.tests.helpers import make_user, post_twice_in_parallel, post_twice_in_turn

pytestmark = pytest.mark.django_db(transaction=True)


def _account():
    set_rates()
    account = make_account(flows=HAND_FLOWS)  # born 1962-03-05; 3001.45 on 2024-06-15
    rural_years_recompute()
    return account


def _audits(account, action=None):
    qs = AuditEvent.objects.filter(object_type="rural_pension.ruralaccount", object_id=str(account.pk))
    return qs.filter(action=action).count() if action else qs.count()


def _refund(clerk):
    account = _account()
    return (reverse("rural:refund_settle", args=[account.pk]),
            {"on": "2024-06-15", "pay": "cash", "amount": "3001.45", "confirm": "1"},
            lambda: list(RuralDocument.objects.filter(account=account).values_list("kind", "amount", "state")),
            [("refund", D("3001.45"), "settled")])


def _benefit(clerk):
    account = _account()
    return (reverse("rural:benefit_confirm", args=[account.pk]),
            {"start": "2024-07", "monthly": "25.95", "note": "", "confirm": "1"},
            lambda: (RuralAccount.objects.filter(pk=account.pk).values_list("status", "monthly_benefit").get(),
                     _audits(account)),
            (("receiving", D("25.95")), 1))


def _heir(clerk):
    account = _account()
    heir = make_person("王小二", birth=dt.date(1988, 4, 2), account="6222020000000077")
    return (reverse("rural:heir", args=[account.pk]), {"heir": heir.pk, "reason": "家属申报", "confirm": "1"},
            lambda: (RuralAccount.objects.get(pk=account.pk).heir_id, _audits(account)),
            (heir.pk, 1))


def _death(clerk):
    account = _account()
    heir = make_person("王小二", birth=dt.date(1988, 4, 2), account="6222020000000077")
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    return (reverse("rural:death_settle", args=[account.pk]),
            {"death_date": "2024-06-01", "on": "2024-06-15", "pay": "cash", "heir": heir.pk, "amount": "3001.45",
             "confirm": "1"},
            lambda: list(RuralDocument.objects.filter(account=account).values_list("amount", "state")),
            [(D("3001.45"), "settled")])


def _rollback(clerk):
    account = _account()
    doc = rural_refund_settle(account=account, on=dt.date(2024, 6, 15), pay_method="cash", user=clerk)
    before = AuditEvent.objects.count()
    return (reverse("rural:document_rollback", args=[doc.number]), {"reason": "录入错误", "confirm": "1"},
            lambda: (RuralDocument.objects.get(pk=doc.pk).state, RuralAccount.objects.get(pk=account.pk).status,
                     AuditEvent.objects.count() - before),
            ("rolled_back", "paying", 1))


def _rates(clerk):
    _account()
    before = AuditEvent.objects.count()
    return (reverse("rural:rates"), {"year": 2022, "rate": "0.0100", "reason": "文件调整", "confirm": "1"},
            lambda: (CreditedRate.objects.get(year=2022).rate, AuditEvent.objects.count() - before),
            (D("0.0100"), 1))


def _coefficients(clerk):
    n = BenefitCoefficient.objects.count()
    return (reverse("rural:coefficients"),
            {"from_month": "2027-01", "coefficient": "0.009", "reason": "文件调整", "confirm": "1"},
            lambda: (BenefitCoefficient.objects.count() - n,
                     str(BenefitCoefficient.objects.get(from_month=dt.date(2027, 1, 1)).coefficient)),
            (1, "0.009000000"))


def _edit(clerk):
    account = _account()
    data = {"name": account.person.name, "town": account.town_id, "community": "", "enrolled_on": "2019-11-01",
            "status": "paying", "residence_address": "", "mobile": "", "legacy_bank": "",
            "legacy_account_number": "", "note": "", "reason": "档案核对", "confirm": "1"}
    return (reverse("rural:account_edit", args=[account.pk]), data,
            lambda: (RuralAccount.objects.get(pk=account.pk).enrolled_on, _audits(account)),
            (dt.date(2019, 11, 1), 1))


def _import_start(clerk):
    from shebao.rural_pension import legacy_import

    samples = str(Path(legacy_import.__file__).parent / "samples")
    return (reverse("rural:import_start"), {"directory": samples},
            lambda: list(Job.objects.filter(kind="rural_import").values_list("params__dry_run", flat=True)),
            [True])


def _import_commit(clerk):
    dry = Job.objects.create(kind="rural_import", title="试运行", state=Job.State.DONE, created_by=clerk,
                             params={"directory": "/nonexistent/legacy", "dry_run": True})
    return (reverse("rural:import_commit", args=[dry.pk]), {"confirm": "1"},
            lambda: list(Job.objects.filter(kind="rural_import").exclude(pk=dry.pk)
                         .values_list("params__dry_run", flat=True)),
            [False])


FORMS = {"refund_settle": (_refund, "clerk"), "benefit_confirm": (_benefit, "clerk"), "heir": (_heir, "clerk"),
         "death_settle": (_death, "clerk"), "rollback": (_rollback, "clerk"), "rates": (_rates, "reviewer"),
         "coefficients": (_coefficients, "reviewer"), "account_edit": (_edit, "clerk"),
         "import_start": (_import_start, "it_admin"), "import_commit": (_import_commit, "it_admin")}


@pytest.mark.parametrize("name", list(FORMS))
def test_the_same_form_posted_twice_in_parallel_writes_once(name, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    setup, role = FORMS[name]
    user = make_user("nb_once", roles=[role], all_regions=True, sensitive=True)
    url, data, written, once_written = setup(user)
    pages = post_twice_in_parallel(user, url, data)
    assert written() == once_written, pages[0][:3000]
    assert all(p.startswith("200\n") for p in pages), [p[:2000] for p in pages]
    told = [p for p in pages if REPEATED in p]
    assert len(told) == 1, [p[:3000] for p in pages]


@pytest.mark.parametrize("name", list(FORMS))
def test_the_same_form_posted_again_after_it_was_done_is_told_it_was_a_repeat(name, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    setup, role = FORMS[name]
    user = make_user("nb_once", roles=[role], all_regions=True, sensitive=True)
    url, data, written, once_written = setup(user)
    first, second = post_twice_in_turn(user, url, data)
    assert written() == once_written, first[:3000]
    assert REPEATED not in first and REPEATED in second, second[:3000]
