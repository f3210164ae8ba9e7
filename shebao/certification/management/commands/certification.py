"""shebao certification sweep --on DATE --as USER [--json]
shebao certification import FILE --method METHOD --as USER [--dry-run] [--json]

生存认证: the sweep (suspend whoever is past grace on DATE) and the import of a file of certifications
(columns 身份证号, 姓名, 认证日期; csv UTF-8/GB18030 or xlsx). See ``shebao.certification.services``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.certification.permissions import IMPORT_RULE, SWEEP_RULE
from shebao.certification.services import CertificationError, certification_import, certification_sweep

SWEEP = command_rule("certification sweep", SWEEP_RULE)
IMPORT = command_rule("certification import", IMPORT_RULE)
MAX_SHOWN = 500


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"日期“{value}”格式不正确，应为 YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "生存认证：到期清理（暂停逾期未认证人员）、批量导入认证记录"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sw = sub.add_parser("sweep", help="暂停在该日已过认证宽限期的人员（重复执行不会重复暂停）")
        sw.add_argument("--on", required=True, help="清理日期 YYYY-MM-DD")
        sw.add_argument("--as", dest="as_user", required=True, help="经办人用户名")
        sw.add_argument("--json", action="store_true", help="以 JSON 输出结果")
        imp = sub.add_parser("import", help="导入认证记录文件（身份证号、姓名、认证日期）")
        imp.add_argument("file")
        imp.add_argument("--method", required=True,
                         help="认证方式：经办机构、社区上门、手机、自助终端、银行、数据比对、其他")
        imp.add_argument("--as", dest="as_user", required=True, help="经办人用户名")
        imp.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        imp.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args, **opts):
        if opts["action"] == "sweep":
            return self._sweep(opts)
        return self._import(opts)

    def _sweep(self, opts) -> None:
        user = acting_user(opts["as_user"], SWEEP)
        on = _date(opts["on"])
        try:
            result = certification_sweep(on=on, user=user)
        except CertificationError as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps({
                "on": on.isoformat(), "suspended": result.suspended,
                "enrollments": [{"enrollment": e, "person": p, "from_month": f"{m:%Y-%m}"} for e, p, m in result.rows],
            }, ensure_ascii=False))
            return
        self.stdout.write(f"{on:%Y-%m-%d} 生存认证到期清理：暂停 {result.suspended} 人次")

    def _import(self, opts) -> None:
        user = acting_user(opts["as_user"], IMPORT)
        path = Path(opts["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"无法读取文件：{exc}") from None
        try:
            result = certification_import(file_name=path.name, data=data, method=opts["method"], user=user,
                                          dry_run=opts["dry_run"])
        except CertificationError as exc:
            raise CommandError(str(exc)) from None
        bad = result.bad
        if opts["json"]:
            self.stdout.write(json.dumps({
                "rows": len(result.rows), "good": len(result.good), "created": result.created,
                "unchanged": result.unchanged, "resumed": result.resumed, "dry_run": result.dry_run,
                "rejected": len(bad),
                "errors": [{"line": r.line, "id_number": r.id_number, "name": r.name, "reason": r.error} for r in bad],
            }, ensure_ascii=False))
            return
        for r in bad[:MAX_SHOWN]:
            self.stdout.write(f"第 {r.line} 行 {r.name}：{r.error}")
        if len(bad) > MAX_SHOWN:
            self.stdout.write(f"……另有 {len(bad) - MAX_SHOWN} 行错误未显示")
        if result.dry_run:
            self.stdout.write(f"检查完成（未写入）：共 {len(result.rows)} 行，可导入 {len(result.good) - result.unchanged} 行，"
                              f"已有记录 {result.unchanged} 行，错误 {len(bad)} 行")
            return
        self.stdout.write(f"导入完成：共 {len(result.rows)} 行，新增 {result.created} 条，已有记录 {result.unchanged} 行，"
                          f"错误 {len(bad)} 行（未写入），恢复发放 {result.resumed} 人次")
