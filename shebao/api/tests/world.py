"""The data the work routers' tests (and the authorization matrix rows of these routes) read, built with
the services the pages use:

- 张三 of 浒山街道 (home) and 李四 of 附海镇 (foreign), both 自管人员 since 2025-01 with 基本 2000.00
  + 补贴 150.00 a month, both paid at ICBC; 李四 has a 多发追回 扣减 of 300.00 taken at most 100.00 a
  month;
- the ZG run of 2026-02 computed by ``maker``, approved by ``checker`` and exported (one ICBC file of
  two lines: 张三 2150.00, 李四 2050.00, total 4200.00); ``return_ok`` is the bank's answer paying
  both;
- the ZG run of 2026-03 computed by ``maker`` and not approved: 张三 2150.00; 李四 2150.00 − 100.00 =
  2050.00; totals 应发 4300.00, 扣减 100.00, 实发 4200.00;
- 王阿大 of 附海镇, a 老农保 account with the hand-computed flows of ``rural_pension.tests`` (closing
  2023 = 2640.21, quote on 2024-06-15 = 3001.45)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.test import Client

from shebao.accounts.services import api_token_create
from shebao.accounts.tests.factories import id_number, make_person, make_user
from shebao.bank.models import BankFile
from shebao.bank.selectors import bank_template_get
from shebao.bank.services import bank_export
from shebao.bank.tests.helpers import bank_answer
from shebao.benefits.models import Enrollment, Scheme
from shebao.benefits.services import adjustment_create, enrollment_create
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.registry.models import Person
from shebao.registry.services import bank_account_set
from shebao.rural_pension.models import RuralAccount
from shebao.rural_pension.services import rural_years_recompute
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, set_rates

HOME_TOWN = "浒山街道"
FOREIGN_TOWN = "附海镇"
ZHANG_ID = id_number(dt.date(1950, 1, 4), "123")  # 张三, home
LI_ID = id_number(dt.date(1951, 2, 5), "246")  # 李四, foreign
WANG_ID = id_number(dt.date(1962, 3, 5), "135")  # 王阿大, foreign, 老农保
ZHANG_ACCOUNT = "6222021234567890"
LI_ACCOUNT = "6222020000000002"
WANG_ACCOUNT = "6228480000003333"


@dataclass
class World:
    maker: object
    checker: object
    zhang: Person
    li: Person
    wang: Person
    run_exported: PayrollRun
    run_computed: PayrollRun
    bank_file: BankFile
    return_ok: bytes
    nb_account: RuralAccount

    def line(self, run: PayrollRun, person: Person) -> PayrollLine:
        return PayrollLine.objects.get(run=run, person=person)

    @property
    def foreign_line(self) -> PayrollLine:
        return self.line(self.run_computed, self.li)

    @property
    def home_line(self) -> PayrollLine:
        return self.line(self.run_computed, self.zhang)


def _person(number: str, name: str, town: str, account: str, bank: str = "ICBC") -> Person:
    person = make_person(number, name=name, town_name=town)
    bank_account_set(user=None, person=person, bank=bank, account_number=account, holder_name=name,
                     valid_from=dt.date(2020, 1, 1))
    return Person.objects.get(pk=person.pk)


def _enroll(person: Person, user) -> Enrollment:
    return enrollment_create(person=person, scheme=Scheme.objects.get(code="ZG"), start_month="2025-01", user=user,
                             service_years=0, items={"basic": "2000.00", "extra": "150.00"})


def build_world() -> World:
    zg = Scheme.objects.get(code="ZG")
    maker = make_user("w_maker", roles=("clerk",), all_regions=True)
    checker = make_user("w_checker", roles=("reviewer",), all_regions=True)
    zhang = _person(ZHANG_ID, "张三", HOME_TOWN, ZHANG_ACCOUNT)
    li = _person(LI_ID, "李四", FOREIGN_TOWN, LI_ACCOUNT)
    _enroll(zhang, maker)
    e_li = _enroll(li, maker)
    adjustment_create(enrollment=e_li, kind="deduction", total="300.00", monthly_cap="100.00", reason="多发追回",
                      source="2025-12 死亡后多发", user=maker)
    run_exported = payroll_run_compute(scheme=zg, period=dt.date(2026, 2, 1), user=maker)
    payroll_run_approve(run=run_exported, user=checker)
    [bank_file] = bank_export(runs=[run_exported.pk], template=bank_template_get("standard"), user=maker,
                              on=dt.date(2026, 2, 20))
    run_exported.refresh_from_db()
    run_computed = payroll_run_compute(scheme=zg, period=dt.date(2026, 3, 1), user=maker)
    set_rates()
    wang = _person(WANG_ID, "王阿大", FOREIGN_TOWN, WANG_ACCOUNT, bank="ABC")
    nb_account = make_account(wang, flows=HAND_FLOWS)
    rural_years_recompute(account_ids=[nb_account.pk])
    return World(maker=maker, checker=checker, zhang=zhang, li=li, wang=wang, run_exported=run_exported,
                 run_computed=run_computed, bank_file=BankFile.objects.get(pk=bank_file.pk),
                 return_ok=bank_answer(bank_file), nb_account=nb_account)


def bearer(user) -> Client:
    """A script's client: every request carries ``Authorization: Bearer <a new token of user>``."""
    key = api_token_create(user=user, name="测试脚本")
    return Client(headers={"Authorization": f"Bearer {key}"})
