"""``shebao bank export|import-return|reissue|write-off|templates``: the bank interface from the command
line (cron). Thin: parse, call one service, print the result (``--json`` for scripts). Export and
import-return run the same job handlers as the pages (``shebao.bank.jobs``) in this process, with
their progress by stage on stderr; stdout (the text or --json) is unchanged.

Who may (``--as``, checked before anything is read or written; each rule is declared below):
export and import-return need ``payroll.export_run`` and 全市范围 (a file holds every town), reissue
``payroll.compute_run`` and 全市范围, write-off ``accounts.review`` with the line's person in the
user's towns; each in the scheme of the runs it touches. ``export`` without ``--as`` is the operator
at the console (cron), as before; ``templates`` takes no ``--as``."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.bank import selectors
from shebao.bank.jobs import EXPORT, EXPORT_RULE, RETURN_IMPORT, RETURN_RULE
from shebao.bank.models import BankFile, ReturnFile
from shebao.bank.services import BankError, bank_file_write, bank_line_write_off, bank_reissue
from shebao.common import policy
from shebao.common.jobs import JobError, job_run_here
from shebao.common.policy import CONSOLE, rule

command_rule("bank export", EXPORT_RULE)  # without --as: the console operator (cron), as before
command_rule("bank import-return", RETURN_RULE)
REISSUE_RULE = command_rule("bank reissue", rule(
    "payroll.compute_run", county=True, note="经办（二次报盘），全市范围，须有该批次的险种"))
WRITE_OFF_RULE = command_rule("bank write-off", rule(
    "accounts.review", note="审核员；该笔的人员须在其管辖镇街道，须有该批次的险种"))
command_rule("bank templates", CONSOLE)


def _acting(as_user, the_rule, runs) -> object:
    """The --as user once they pass ``the_rule`` in the scheme of every run."""
    user = None
    for code in sorted({r.scheme.code for r in runs}) or [None]:
        user = acting_user(as_user, the_rule, scheme=code)
    return user


def _run(run_id: str):
    from shebao.payroll.models import PayrollRun

    run = PayrollRun.objects.select_related("scheme").filter(pk=int(run_id)).first() if run_id.isdigit() else None
    if run is None:
        raise CommandError(f"结算批次 {run_id} 不存在")
    return run


class Command(BaseCommand):
    help = "银行专线接口：export 报盘；import-return 导入回盘；reissue 二次报盘；write-off 核销；templates 模板列表"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", title="子命令", required=True)
        export = sub.add_parser("export", help="为已审核的结算批次生成报盘文件（每个开户银行一个文件）")
        export.add_argument("runs", nargs="+", metavar="RUN", help="结算批次编号")
        export.add_argument("--template", required=True, help="银行模板代码，如 standard")
        export.add_argument("--out", required=True, help="报盘文件写入的目录")
        export.add_argument("--bank", help="只报该开户银行的明细（银行代码，如 ICBC）")
        export.add_argument("--date", help="报盘日期 YYYY-MM-DD（默认今天）")
        export.add_argument("--as", dest="as_user", help="经办人用户名（记入审计日志）")
        export.add_argument("--json", action="store_true")
        imp = sub.add_parser("import-return", help="导入银行回盘文件（整份校验，有错则拒绝且不做任何更改）")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument("--as", dest="as_user", required=True, help="导入人用户名")
        imp.add_argument("--template", help="回盘文件的模板代码（默认按批次号自动识别）")
        imp.add_argument("--json", action="store_true")
        reissue = sub.add_parser("reissue", help="为结算批次的失败明细生成二次报盘批次（账户更正后）")
        reissue.add_argument("run", metavar="RUN")
        reissue.add_argument("--as", dest="as_user", required=True)
        reissue.add_argument("--json", action="store_true")
        wo = sub.add_parser("write-off", help="核销一笔失败明细（审核员，须填原因）")
        wo.add_argument("line", metavar="LINE", help="结算明细编号")
        wo.add_argument("--reason", required=True)
        wo.add_argument("--as", dest="as_user", required=True)
        templates = sub.add_parser("templates", help="列出银行模板")
        templates.add_argument("--json", action="store_true")

    def handle(self, *args, subcommand: str, **options):
        getattr(self, "_" + subcommand.replace("-", "_"))(**options)

    def _out(self, options, data: dict, text: str) -> None:
        if options.get("json"):
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(text)

    def _export(self, *, runs, template, out, bank, date, as_user, **options):
        import datetime as dt

        chosen = [_run(r) for r in runs]
        user = _acting(as_user, EXPORT_RULE, chosen)
        try:
            tpl = selectors.bank_template_get(template)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        try:
            on = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"日期格式应为 YYYY-MM-DD：{date}") from None
        params = {"runs": [r.pk for r in chosen], "template": tpl.code, "bank": bank,
                  "on": on.isoformat() if on else None, "username": "" if user else f"cli:{getpass.getuser()}"}
        try:
            outcome = job_run_here(EXPORT, params, user=user)
        except JobError as exc:
            raise CommandError(str(exc)) from None
        files = list(BankFile.objects.filter(pk__in=[f["id"] for f in outcome.result["files"]]).order_by("batch_no"))
        for f in files:  # after the commit, as the service does with out_dir
            bank_file_write(bank_file=f, out_dir=out)
        rows = [{"id": f.pk, "batch_no": f.batch_no, "bank": f.bank, "template": tpl.code,
                 "path": str(Path(out).resolve() / f.file_name), "count": f.line_count, "total": str(f.total),
                 "sha256": f.sha256, "runs": sorted(f.runs.values_list("pk", flat=True))} for f in files]
        text = "\n".join(f"{r['batch_no']}  {r['bank']}  {r['count']} 笔  {r['total']} 元  {r['path']}  "
                         f"sha256={r['sha256']}" for r in rows)
        self._out(options, {"files": rows, "count": sum(r["count"] for r in rows),
                            "total": str(sum(f.total for f in files))}, text)

    def _import_return(self, *, file, as_user, template, **options):
        user = acting_user(as_user, RETURN_RULE)  # the file's schemes: checked by the job once it is read
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"文件不存在：{file}")
        if template:
            try:
                selectors.bank_template_get(template)
            except LookupError as exc:
                raise CommandError(str(exc)) from None
        try:
            outcome = job_run_here(RETURN_IMPORT, {"path": str(path), "filename": path.name,
                                                   "template": template or None}, user=user)
        except JobError as exc:
            if options.get("json"):  # the service's refusal names each line
                errors = [{"line": n, "reason": r} for n, r in getattr(exc.__cause__, "errors", [(None, str(exc))])]
                self.stdout.write(json.dumps({"refused": True, "message": str(exc), "errors": errors},
                                             ensure_ascii=False, indent=2))
            raise CommandError(str(exc), returncode=2) from None
        result = outcome.result
        rf = ReturnFile.objects.select_related("bank_file").get(pk=result["return_file_id"])
        data = {"id": rf.pk, "bank_file_id": rf.bank_file_id, "batch_no": rf.bank_file.batch_no,
                "created": result["created"], "note": result["note"], "count": rf.line_count,
                "ok_count": rf.ok_count, "ok_total": str(rf.ok_total), "failed_count": rf.failed_count,
                "failed_total": str(rf.failed_total), "sha256": rf.sha256, "runs": result["runs"]}
        self._out(options, data, f"回盘 #{rf.pk}（批次 {data['batch_no']}）：{result['note']}")

    def _reissue(self, *, run, as_user, **options):
        try:
            target = _run(run)
            result = bank_reissue(run=target, user=_acting(as_user, REISSUE_RULE, [target]))
        except BankError as exc:
            raise CommandError(str(exc)) from None
        new = result.run
        data = {"run_id": new.pk, "parent_run_id": new.parent_run_id, "count": new.line_count,
                "total": str(new.net), "same_account": [
                    {"seq": s, "name": n, "account_number": a} for s, n, a in result.same_account]}
        text = f"二次报盘批次 #{new.pk}：{new.line_count} 笔 {new.net} 元，待审核后报盘"
        if result.same_account:
            text += f"\n注意：{len(result.same_account)} 笔仍发往原失败账户：" + "、".join(
                f"第{s}笔 {n}" for s, n, _ in result.same_account[:20])
        self._out(options, data, text)

    def _write_off(self, *, line, reason, as_user, **options):
        from shebao.payroll.models import PayrollLine

        target = (PayrollLine.objects.select_related("run__scheme", "person").filter(pk=int(line)).first()
                  if line.isdigit() else None)
        if target is None:
            raise CommandError(f"结算明细 {line} 不存在")
        user = acting_user(as_user, WRITE_OFF_RULE, scheme=target.run.scheme.code)
        reason_denied = policy.denial(user, WRITE_OFF_RULE, town_id=target.person.town_id,
                                      community_id=target.person.community_id, check_town=True)
        if reason_denied is not None:
            raise CommandError(f"用户 {as_user}：{reason_denied}")
        try:
            done = bank_line_write_off(line=target, user=user, reason=reason)
        except BankError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"已核销：批次 #{done.run_id} 第 {done.seq} 笔 {done.name} {done.net} 元")

    def _templates(self, **options):
        rows = [{"code": t.code, "name": t.name, "format": t.definition.get("format"),
                 "encoding": t.definition.get("encoding", "GB18030"), "builtin": t.builtin}
                for t in selectors.bank_template_list()]
        self._out(options, {"templates": rows},
                  "\n".join(f"{r['code']:<12} {r['format']:<10} {r['encoding']:<8} {r['name']}" for r in rows))
