"""shebao person death --id ID --date YYYY-MM-DD --as USER [--source TEXT] [--note TEXT] [--heir ID] [--json]

死亡减员 of every scheme the person is in, settled by the engine's termination settlement (the
overpayment netted first against pending 补发, the rest 待追回). NB's 死亡结算 (heir, guarantee) is its own
step afterwards (``shebao rural``/the 老农保 page)."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.certification.permissions import DEATH_RULE, death_denial
from shebao.certification.services import CertificationError, person_death
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.registry.models import Person

DEATH = command_rule("person death", DEATH_RULE)


def _person(raw: str) -> Person:
    try:
        number = parse_id_number(raw).number
    except IdNumberError as exc:
        raise CommandError(str(exc)) from None
    person = Person.objects.filter(id_number=number).first()
    if person is None:
        raise CommandError(f"身份证号 {raw} 未登记")
    return person


class Command(BaseCommand):
    help = "人员：死亡减员"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        d = sub.add_parser("death", help="登记死亡，终止各险种发放并结算多发金额")
        d.add_argument("--id", dest="id_number", required=True, help="身份证号（18 或 15 位）")
        d.add_argument("--date", required=True, help="死亡日期 YYYY-MM-DD")
        d.add_argument("--as", dest="as_user", required=True, help="经办人用户名")
        d.add_argument("--source", default="", help="死亡信息来源（如 火化数据、家属报告）")
        d.add_argument("--note", default="", help="备注")
        d.add_argument("--heir", default="", help="尚有应付款时的继承人（代领人）身份证号")
        d.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args, **opts):
        user = acting_user(opts["as_user"], DEATH)
        try:
            on = dt.date.fromisoformat(opts["date"])
        except ValueError:
            raise CommandError(f"死亡日期“{opts['date']}”格式不正确，应为 YYYY-MM-DD") from None
        person = _person(opts["id_number"])
        reason = death_denial(user, person)
        if reason:
            raise CommandError(f"用户 {user.username}：{reason}")
        heir = _person(opts["heir"]) if opts["heir"] else None
        try:
            result = person_death(person=person, on=on, user=user, source=opts["source"], note=opts["note"], heir=heir)
        except CertificationError as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps({
                "person": person.pk, "death_date": on.isoformat(),
                "overpayment": str(result.overpayment), "recovered_from_owed": str(result.recovered_from_owed),
                "to_recover": str(result.to_recover), "to_pay": str(result.to_pay),
                "schemes": [{"scheme": e.scheme.code, "end_month": f"{s.termination.end_month:%Y-%m}",
                             "overpaid": str(s.termination.overpaid), "net": str(s.net),
                             "run": s.run.pk if s.run else None} for e, s in result.settlements],
            }, ensure_ascii=False))
            return
        self.stdout.write(f"{person.name} 死亡减员（{on:%Y-%m-%d}）：多发 {result.overpayment}，从应补发中扣回 "
                          f"{result.recovered_from_owed}，待追回 {result.to_recover}"
                          + (f"，应付继承人 {result.to_pay}" if result.to_pay else ""))
