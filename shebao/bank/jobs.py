"""Background jobs of the bank interface (run by the worker; started from the pages with
``job_start_once``, run in-process by ``shebao bank export|import-return`` with ``job_run_here``):

- ``bank_export``: params {"runs": [id, …], "template": code, "bank": code or null, "on": "YYYY-MM-DD"
  or null, "username": str, "banks": [[code, label, count, total], …] (optional, only to name the
  stages)} → ``bank_export`` (no ``out_dir``: a command writes the files itself after the commit, so
  no file ever exists for a transaction that rolled back);
- ``bank_return_check``: the preview of a return file — ``bank_return_check`` (the import's own
  whole-file checks, writing nothing); its result is what the confirm step shows. 30 s at 800,000
  lines, so it is a job too;
- ``bank_return_import``: → ``bank_return_import`` of the file's bytes.

Both take params {"path": str, "filename": str, "digest": sha256 or "", "template": code or null,
"stashed": bool}. A page's upload is kept under ``MEDIA_ROOT/bank_returns`` from the upload to the
import (``stashed``: removed once the import has read it, or when the check refuses it); a job
refuses cleanly when the file is gone or no longer the one uploaded (its sha256).

Who may (checked when the job runs, in the worker too): ``payroll.export_run`` and 全市范围 (a file
holds every town), in the scheme of every run the file or the export holds (``User.schemes``). A
command without ``--as`` (user None) is the console operator.

Progress is by stage: the services call their ``progress`` with a stage's key as it starts (one
"file:<bank code>" per file) and ``Stages`` (``shebao.common.jobs``) names it. A refusal becomes a ``JobError`` with the service's Chinese message and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from shebao.bank.formats import BankFileError
from shebao.bank.selectors import bank_file_scheme_codes, bank_template_get
from shebao.bank.services import (
    BankError,
    bank_export,
    bank_return_bank_file,
    bank_return_check,
    bank_return_import,
)
from shebao.common.jobs import JobError, JobOutcome, Stage, Stages, register_job
from shebao.common.money import ZERO, format_yuan
from shebao.common.policy import rule, schemes_of
from shebao.payroll.jobs import AUDIT, check_scheme
from shebao.payroll.selectors import payroll_run_risk_counts
from shebao.payroll.services import PayrollError

EXPORT = "bank_export"
RETURN_CHECK = "bank_return_check"
RETURN_IMPORT = "bank_return_import"
GONE = "上传的文件已失效，请重新选择文件"

EXPORT_RULE = rule("payroll.export_run", county=True, note="报盘：经办，全市范围，须有所含批次的险种")
RETURN_RULE = rule("payroll.export_run", county=True, note="回盘：经办，全市范围，须有该报盘文件所含批次的险种")


def _check_schemes(user, the_rule, codes) -> None:
    for code in sorted(codes):
        check_scheme(user, the_rule, code)



def export_stages(banks: list | None) -> list[Stage]:
    """One stage per file (the files are made in bank-code order, as the service does)."""
    stages = [Stage("锁定结算批次，读取待发明细")]
    if banks:
        for code, label, count, total in sorted(banks):
            stages.append(Stage(f"生成并保存{label}报盘文件（{count:,} 笔，{format_yuan(total)} 元）", f"file:{code}"))
    else:
        stages.append(Stage("生成并保存报盘文件", "file:"))
    stages.append(Stage("标记明细已报盘，更新批次状态", "mark_sent"))
    return stages


CHECK_STAGES = (
    Stage("读取回盘文件，整份解析和校验"),
    Stage("逐笔核对报盘明细（序号、账号、金额）", "match"),
)
RETURN_STAGES = (
    *CHECK_STAGES,
    Stage("写回盘记录", "record"),
    Stage("更新发放状态（成功/失败）", "results"),
    AUDIT,
)


def export_key(run_id: int) -> str:
    return f"bank:export:run:{run_id}"


def return_key(digest: str) -> str:
    return f"bank:return:{digest}"


def _template(code: str | None):
    if not code:
        return None
    try:
        return bank_template_get(code)
    except LookupError as exc:
        raise JobError(str(exc)) from None


@register_job(EXPORT, title="生成报盘文件", rule=EXPORT_RULE)
def bank_export_job(*, params, progress, user) -> JobOutcome:
    from shebao.payroll.models import PayrollRun

    ids = sorted({int(i) for i in params["runs"]})
    _check_schemes(user, EXPORT_RULE, set(PayrollRun.objects.filter(pk__in=ids).values_list("scheme__code", flat=True)))
    template = _template(params["template"])
    on = dt.date.fromisoformat(params["on"]) if params.get("on") else None
    stages = Stages(progress, export_stages(params.get("banks")))
    try:
        files = bank_export(runs=ids, template=template, user=user, bank=params.get("bank") or None, on=on,
                            username=params.get("username", ""), progress=stages)
    except (BankError, BankFileError, PayrollError) as exc:
        raise JobError(str(exc)) from exc
    listed = "；".join(f"{f.batch_no}（{f.line_count} 笔，{format_yuan(f.total)} 元）" for f in files)
    # the runs' risky lines held out of their files (this export's and any earlier one's of the runs)
    risks = [payroll_run_risk_counts(run=r) for r in PayrollRun.objects.filter(pk__in=ids)]
    held = sum(r["held_out"] for r in risks)
    held_total = sum((r["held_out_total"] or ZERO for r in risks), ZERO)
    message = f"已生成报盘文件：{listed}"
    if held:
        message += f"。风险明细暂缓未报盘 {held} 笔 {format_yuan(held_total)} 元（失败待发）"
    return JobOutcome(
        message=message,
        result={"files": [{"id": f.pk, "batch_no": f.batch_no, "bank": f.bank, "count": f.line_count,
                           "total": str(f.total)} for f in files], "runs": ids,
                "held": held, "held_total": str(held_total)},
    )


def _read(params) -> bytes:
    path = Path(params["path"])
    try:
        data = path.read_bytes()
    except OSError:
        raise JobError(GONE if params.get("stashed") else f"文件不存在：{path}") from None
    if params.get("digest") and hashlib.sha256(data).hexdigest() != params["digest"]:
        raise JobError(GONE)
    return data


def _unstash(params) -> None:
    if params.get("stashed"):
        Path(params["path"]).unlink(missing_ok=True)


def _check_file_schemes(user, data: bytes, template) -> None:
    """The return's payment file is of runs in the user's schemes (found by its batch number only;
    an unknown file is refused by the service's own checks)."""
    if user is None or schemes_of(user) is None:  # the console, or a user of every scheme: nothing to read
        return
    try:
        bank_file = bank_return_bank_file(data=data, template=template)
    except BankFileError:
        return
    _check_schemes(user, RETURN_RULE, bank_file_scheme_codes(bank_file))


@register_job(RETURN_CHECK, title="检查回盘文件", rule=RETURN_RULE)
def bank_return_check_job(*, params, progress, user) -> JobOutcome:
    data = _read(params)
    try:
        _check_file_schemes(user, data, _template(params.get("template")))
    except JobError:
        _unstash(params)  # a refused file is not kept
        raise
    try:
        check = bank_return_check(data=data, template=_template(params.get("template")),
                                  progress=Stages(progress, CHECK_STAGES))
    except (BankFileError, BankError) as exc:
        _unstash(params)  # a refused file is not kept
        raise JobError(str(exc)) from exc
    parsed, bank_file = check.parsed, check.bank_file
    failed = [r for r in parsed.lines if not r.ok]
    return JobOutcome(
        message=(f"{params.get('filename') or ''} 是报盘文件 {bank_file.batch_no} 的回盘：共 {parsed.count:,} 笔 "
                 f"{format_yuan(parsed.total)} 元；成功 {check.ok_count:,} 笔 {format_yuan(check.ok_total)} 元，"
                 f"失败 {check.failed_count:,} 笔 {format_yuan(check.failed_total)} 元。尚未导入，请确认。").strip(),
        result={"bank_file_id": bank_file.pk, "batch_no": bank_file.batch_no, "count": parsed.count,
                "total": str(parsed.total), "ok_count": check.ok_count, "ok_total": str(check.ok_total),
                "failed_count": check.failed_count, "failed_total": str(check.failed_total),
                "not_yet_returned": check.not_yet_returned,
                "failed_lines": [{"seq": r.seq, "holder_name": r.holder_name, "amount": str(r.amount),
                                  "reason": r.reason} for r in failed[:50]]},
    )


@register_job(RETURN_IMPORT, title="导入回盘文件", rule=RETURN_RULE)
def bank_return_import_job(*, params, progress, user) -> JobOutcome:
    try:
        data = _read(params)
        template = _template(params.get("template"))
        _check_file_schemes(user, data, template)
        try:
            result = bank_return_import(data=data, filename=params.get("filename") or Path(params["path"]).name,
                                        user=user, template=template, progress=Stages(progress, RETURN_STAGES))
        except (BankFileError, BankError, PayrollError) as exc:
            raise JobError(str(exc)) from exc
    finally:
        _unstash(params)
    rf = result.return_file
    message = f"已导入回盘 {rf.bank_file.batch_no}：{result.note}" if result.created else result.note
    return JobOutcome(message=message, result={
        "return_file_id": rf.pk, "bank_file_id": rf.bank_file_id, "batch_no": rf.bank_file.batch_no,
        "created": result.created, "note": result.note, "failed_count": rf.failed_count,
        "runs": {str(k): {"state": v["state"], "paid": v["paid"], "failed": v["failed"]}
                 for k, v in result.runs.items()},
    })
