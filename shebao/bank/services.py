"""银行专线接口 services: write payment files (报盘), import return files (回盘), re-issue failed lines.

Rules (SPEC "Bank files"):
- A payroll line goes into at most one file (``BankFileLine`` is keyed by its payroll line). Exporting the
  same runs again returns the files already written — the stored bytes, never a second payment.
- One file per bank: the lines of the runs are grouped by the bank of the account they are sent to
  (the snapshot on the payroll line), each bank gets its own file and batch number
  ``YYYYMMDD`` + bank code + ``NNN``. ``bank=`` restricts an export to one bank: the lines in its
  file become 已报盘 at once (``payroll_lines_send``), so that bank's return can be imported
  before the other banks' files are made; a run becomes 已报盘 when every line it has to send is in
  a file (or held out, below).
- Risky lines are held out: before the lines are read, the payroll engine finds each run's risky lines
  again (an account the bank rejected before and not changed since, a 户名 not the person's name, an
  account with a check warning — ``payroll.models.LineRisk``) and those a reviewer has not released
  become 失败 (``风险暂缓，未报盘``) instead of going into the file: owed, re-issued or written off like
  a bank failure. Set-based: one statement finds them, one marks them.
- A return file is accepted only whole: it is read with the template its payment file was written
  with, every line must match a sent line by sequence, account and amount, must not have been
  returned before, and the totals must add up — otherwise it is refused with the line and the reason
  and nothing is written. The same bytes imported twice return the first import and change nothing.
- All batch work is set-based: the lines to send are marked 已报盘 and read back by one UPDATE …
  RETURNING (the payroll service), a file's lines are one INSERT … SELECT, return lines one COPY, the
  payroll outcome one staged UPDATE … FROM; Python only formats and parses the file's bytes."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from shebao.bank.formats import BankFileError, Template, cut_to_bytes
from shebao.bank.models import (
    BankFile,
    BankFileLine,
    BankTemplate,
    BankTemplateVersion,
    ReturnFile,
    ReturnLine,
)
from shebao.common.audit import audit_record
from shebao.common.display import user_display_name
from shebao.common.meanwhile import statement_meanwhile
from shebao.common.money import ZERO
from shebao.common.pgcopy import copy_bytes, copy_rows

_BATCH_LOCK = 7_301_101  # pg_advisory_xact_lock key serialising batch-number allocation


class BankError(Exception):
    """A refused bank action; ``str()`` is the message for the user (Chinese)."""


OnStage = Callable[[str], None]  # a service's ``progress``: called with a stage's key as the stage starts


def _quiet(key: str) -> None:
    """No one watching: the stages pass unseen."""


# --------------------------------------------------------------------------------------------------
# export (报盘)


def _payroll():
    from shebao.payroll import services as payroll_services
    from shebao.payroll.models import PayrollLine, PayrollRun

    return payroll_services, PayrollRun, PayrollLine


def _memo(run, memo: str) -> str:
    if memo:
        return memo
    _, PayrollRun, _ = _payroll()
    label = f"{run.period.year}年{run.period.month}月待遇"
    return label + ("（二次）" if run.kind == PayrollRun.Kind.REISSUE else "")


def _next_batch_no(on: dt.date, bank: str) -> str:
    prefix = f"{on:%Y%m%d}{bank}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_BATCH_LOCK])
    last = (BankFile.objects.filter(batch_no__startswith=prefix).order_by("-batch_no")
            .values_list("batch_no", flat=True).first())
    n = int(last[len(prefix):]) + 1 if last and last[len(prefix):].isdigit() else 1
    return f"{prefix}{n:03d}"


@contextmanager
def _bulk() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a whole file is formatted, parsed or matched.
    Those steps make one small object per line (tuples, Decimals, records — none in a cycle, all freed
    by reference counting); the collector would walk every one of them again and again as they pile
    up, so its cost grows with the square of the file: render/parse 4.9/6.4 s without it, 6.4/10.0 s
    with it for 800,000 lines (0.5/0.7 s either way for 80,000). Re-enabled on the way out."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _store_content(model, pk: int, content: bytes, *, sha256: str | None = None) -> None:
    """Write a file's bytes into ``model.content``: streamed in 1 MB pieces by a binary COPY
    (``common.pgcopy.copy_bytes``) into a temporary table (dropped at commit), then set by one UPDATE in
    the same transaction. Through the
    ORM the bytes become a hex literal inside the SQL text (3.6 s of Python for a 66 MB file, 0.1 s
    for 6.4 MB); as one binary parameter they are still one 66 MB message, which the client library
    sends by shifting the unsent rest of its buffer after every partial write (0.7 s of Python, growing
    with the square of the size). In pieces: 0.03 s of Python; 1.0 s in all at 66 MB, 0.09 s at 6.4 MB.
    ``sha256``: set in the same UPDATE (an export's file, whose digest is known only once it is rendered)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.bank_content_in")
        cursor.execute("CREATE TEMP TABLE bank_content_in (content bytea) ON COMMIT DROP")
        # not compressed here either (as the stored column: migration 0009): the UPDATE copies the value as is
        cursor.execute("ALTER TABLE pg_temp.bank_content_in ALTER COLUMN content SET STORAGE EXTERNAL")
        copy_bytes(cursor, "COPY bank_content_in (content) FROM STDIN (FORMAT binary)", content)
        digest = ", sha256 = %s" if sha256 is not None else ""
        cursor.execute(f"UPDATE {table} SET content = t.content{digest} FROM bank_content_in t WHERE {table}.id = %s",
                       [sha256, pk] if sha256 is not None else [pk])
        if cursor.rowcount != 1:  # pragma: no cover - the row was created just before in this transaction
            raise BankError("文件内容保存失败，请重试")


def _read_content(model, pk: int) -> bytes:
    """A stored file's bytes, read as one binary value (not as hex text: see ``_store_content``)."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f"SELECT content FROM {model._meta.db_table} WHERE id = %s", [pk], binary=True)
        return bytes(cursor.fetchone()[0])


def bank_export(*, runs: list, template: BankTemplate, user, bank: str | None = None,
                out_dir: str | os.PathLike | None = None, on: dt.date | None = None,
                username: str = "", progress: OnStage | None = None) -> list[BankFile]:
    """报盘: write the payment files of approved runs, one file per bank (see the module docstring).
    Returns every file holding these runs' lines, the ones written earlier included, in batch order;
    with ``out_dir`` each file's stored bytes are written there as ``<batch_no>_<template><ext>``.
    ``user`` may be None only for the command line without --as: ``username`` then says who ran it.
    ``progress`` (a job's stages) is called with "file:<bank code>" as each file is started and
    "mark_sent" as the runs' states are brought up to date (their lines were marked 已报盘 as they were
    read, in one statement: ``payroll_lines_send``)."""
    progress = progress or _quiet
    payroll_services, PayrollRun, _ = _payroll()
    run_ids = sorted({getattr(r, "pk", r) for r in runs})
    if not run_ids:
        raise BankError("请指定要报盘的结算批次")
    on = on or timezone.localdate()
    written: dict[int, bytes] = {}  # this call's files: their bytes, for out_dir
    with transaction.atomic(), _bulk():
        # the template as it is now, locked against an edit until the files are written: they name the
        # version they were rendered with (the export already runs one at a time: the batch-number lock)
        template = BankTemplate.objects.select_for_update().get(pk=template.pk)
        if not template.active:
            raise BankError(f"银行模板 {template.code} 已停用")
        version = template_current_version(template)
        engine = Template(version.definition)
        locked = list(PayrollRun.objects.select_for_update().filter(pk__in=run_ids).order_by("pk"))
        missing = sorted(set(run_ids) - {r.pk for r in locked})
        if missing:
            raise BankError(f"结算批次 {', '.join(map(str, missing))} 不存在")
        for run in locked:
            if run.state == PayrollRun.State.COMPUTED:
                raise BankError(f"结算批次 #{run.pk}（{run}）尚未审核，不能报盘")
        approved = [r for r in locked if r.state == PayrollRun.State.APPROVED]
        for run in approved:
            # risky lines (an account the bank rejected before, …) found again now — a return imported
            # since the approval counts — and those not released by a reviewer are held out of the file
            payroll_services.payroll_run_risks_refresh(run=run)
            payroll_services.payroll_lines_hold_out(run=run, user=user, username=username, bank=bank)
        # the lines still to send become 已报盘 and come back in file order in one statement (the payroll
        # service), the files are written from them, then the runs' states follow; one transaction

        def write(rows: list) -> None:
            _refuse_unpayable(rows)
            for bank_code, group in groupby(rows, key=itemgetter(0)):
                progress(f"file:{bank_code}")
                bank_file, content = _write_file(engine, template, version, bank_code, list(group), on, user,
                                                 username)
                written[bank_file.pk] = content
            progress("mark_sent")

        try:
            payroll_services.payroll_lines_send(runs=approved, user=user, bank=bank, write=write,
                                                labels={r.pk: _memo(r, "") for r in approved})
        except payroll_services.PayrollError as exc:  # pragma: no cover - the runs are locked above
            raise BankError(str(exc)) from None
        files = list(BankFile.objects.filter(pk__in=BankFile.runs.through.objects.filter(
            payrollrun_id__in=run_ids).values("bankfile_id")).defer("content").order_by("batch_no"))
    if not files:
        raise BankError("这些结算批次没有需要报盘的明细（实发均为 0，或风险明细已全部暂缓未报盘）")
    if out_dir is not None:
        for f in files:
            bank_file_write(bank_file=f, out_dir=out_dir, content=written.get(f.pk))
    return files


def _refuse_unpayable(rows: list) -> None:
    """No file while a line to send has no account, 户名 or bank (the clerk maintains the accounts first).
    ``rows``: ``payroll_lines_send``'s tuples."""
    if all(map(itemgetter(1), rows)) and all(map(itemgetter(2), rows)) and all(map(itemgetter(0), rows)):
        return  # the usual case, checked a column at a time
    problems = [f"结算批次 #{r[8]} 第 {r[9]} 笔 {r[6]}：没有支付账户（账号或户名为空）"
                for r in rows if not r[1] or not r[2]]
    problems += [f"结算批次 #{r[8]} 第 {r[9]} 笔 {r[6]}：账户未登记开户银行" for r in rows if r[1] and not r[0]]
    if problems:
        more = f"……共 {len(problems)} 笔" if len(problems) > 20 else ""
        raise BankError("报盘被拒绝，请先维护支付账户：" + "；".join(problems[:20]) + more)


# The engine's names for the columns of ``payroll_lines_send``'s tuples (``payroll.services.SENT_COLUMNS``:
# bank, account_number, holder_name, net, id_number, memo, name, id, run_id, seq): the file is rendered
# straight from them, one pass over tuples, no object or dict per line. No "seq": the engine numbers the
# lines 1, 2, … in file order. The last three are not the engine's ("_…"): it reads only what its layout names.
_PAYMENT_COLUMNS = ("bank", "account_no", "holder_name", "amount", "id_number", "memo", "name", "_line", "_run",
                    "_line_seq")
# The file's lines: the payroll lines just marked 已报盘 (whose snapshot the file is rendered from, under the
# run lock), numbered in file order — three integers a line, from the ids in the rendered tuples, joined
# to nothing (what was sent is the payroll line's snapshot: ``models.SENT_SNAPSHOT``). One INSERT … SELECT.
_SQL_FILE_LINES = """
INSERT INTO bank_bankfileline (bank_file_id, seq, payroll_line_id)
SELECT %s, u.seq, u.id FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, seq)
"""


def _render_rows(engine: Template, *, batch_no: str, on, rows: list) -> bytes:
    """The payment file's bytes for ``rows`` (tuples of ``_PAYMENT_COLUMNS``, in file order). One place for
    the export, the preview and ``bank_file_render``, so a file rendered again is the file sent."""
    return engine.render_payment(batch_no=batch_no, date=on, lines=rows, columns=_PAYMENT_COLUMNS)


def _payment_rows(rows, runs: dict) -> list[tuple]:
    """``_PAYMENT_COLUMNS`` tuples from payroll-line tuples (pk, run_id, seq, bank, account_number, holder_name,
    net, id_number, name, memo) in file order; a line without its own 摘要 shows its run's label (as
    ``payroll_lines_send`` does for the export). For the preview and ``bank_file_render``."""
    labels = {pk: _memo(run, "") for pk, run in runs.items()}
    return [(r[3], r[4], r[5], r[6], r[7], r[9] or labels[r[1]], r[8], r[0], r[1], r[2]) for r in rows]


def _write_file(engine: Template, template: BankTemplate, version: BankTemplateVersion, bank_code: str, rows: list,
                on, user, username: str):
    """One bank's file: its record made, its lines written (one INSERT … SELECT of the lines just marked
    已报盘, in file order) by PostgreSQL WHILE this process renders the file from the same rows (the two
    halves on the two cores: ``common.meanwhile``), then the bytes stored with their sha256, audited."""
    batch_no = _next_batch_no(on, bank_code)
    total = sum(map(itemgetter(3), rows), ZERO)
    run_ids = sorted(set(map(itemgetter(8), rows)))
    bank_file = BankFile.objects.create(
        batch_no=batch_no, template=template, definition=version.definition, template_version=version,
        bank=bank_code, file_date=on,
        file_name=f"{batch_no}_{template.code}{engine.extension}", content=b"", sha256="", line_count=len(rows),
        total=total, created_by=user,
        created_by_name=user_display_name(user, fallback=username)[:150],  # the person's name, not the login
    )
    bank_file.runs.set(run_ids)
    ids = "{" + ",".join(map(str, map(itemgetter(7), rows))) + "}"
    with statement_meanwhile(_SQL_FILE_LINES, [bank_file.pk, ids]) as lines:
        try:
            content = _render_rows(engine, batch_no=batch_no, on=on, rows=rows)
        except BankFileError as exc:
            raise BankError(str(exc)) from None  # the lines written meanwhile go with the transaction
        bank_file.sha256 = hashlib.sha256(content).hexdigest()
        lines()  # one row per id, joined to nothing; its error (a line already in a file: the key) raises here
    _store_content(BankFile, bank_file.pk, content, sha256=bank_file.sha256)
    bank_file.content = content
    audit_record(user=user, username=username, action="bank_export", obj=bank_file,
                 summary=f"报盘 {batch_no}：{bank_code} {len(rows)} 笔 {total}",
                 after={"batch_no": batch_no, "bank": bank_code, "count": len(rows), "total": total,
                        "sha256": bank_file.sha256, "template": template.code, "template_version": version.version,
                        "runs": run_ids})
    return bank_file, content


def bank_file_write(*, bank_file: BankFile, out_dir: str | os.PathLike, content: bytes | None = None) -> Path:
    """Write a stored file's bytes into ``out_dir`` (atomically: a temporary name, then renamed).
    ``content``: the bytes when the caller has them (just written); otherwise they are read."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / bank_file.file_name
    tmp = out / f".{bank_file.file_name}.tmp"
    if content is None:
        content = (_read_content(BankFile, bank_file.pk) if "content" in bank_file.get_deferred_fields()
                   else bytes(bank_file.content))
    tmp.write_bytes(content)
    os.replace(tmp, target)
    return target


# --------------------------------------------------------------------------------------------------
# return import (回盘)


@dataclass
class ReturnImport:
    return_file: ReturnFile
    created: bool  # False: the same file was imported before and nothing changed
    note: str = ""
    runs: dict = field(default_factory=dict)  # run id → payroll's result summary


def _candidate_templates(template: BankTemplate | None) -> list[Template]:
    """Layouts a return may be in: the given template, or every active template and every definition a
    file was written with (a template changed since is still read the old way for its old files)."""
    if template is not None:
        return [template.engine()]
    seen, out = set(), []
    definitions = list(BankTemplate.objects.filter(active=True).values_list("definition", flat=True))
    definitions += BankFile.objects.order_by().values_list("definition", flat=True).distinct()
    for d in definitions:
        key = json.dumps(d, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            out.append(Template(d))
        except ValueError:  # a broken definition is no candidate
            continue
    return out


def _find_bank_file(data: bytes, template: BankTemplate | None) -> BankFile:
    """The payment file a return answers, found by the batch number its summary line claims."""
    claimed: list[str] = []
    for engine in _candidate_templates(template):
        batch = engine.peek_batch_no(data)
        if batch:
            claimed.append(batch)
            found = BankFile.objects.defer("content").filter(batch_no=batch).first()
            if found:
                return found
    if claimed:
        raise BankFileError([(None, f"批次号“{claimed[0]}”没有对应的报盘文件（未知批次）")], "回盘文件被拒绝")
    raise BankFileError([(None, "无法从文件中读出批次号：文件不是已发送报盘所用的任何模板格式，或汇总行缺失")],
                        "回盘文件被拒绝")


@dataclass
class ReturnCheck:
    """What a return file would do, found without writing anything (the confirm step)."""

    bank_file: BankFile
    parsed: object  # formats.ParsedFile of ReturnRecord
    ok_count: int
    ok_total: object
    failed_count: int
    failed_total: object
    not_yet_returned: int  # lines of the payment file still waiting after this return


def bank_return_bank_file(*, data: bytes, template: BankTemplate | None = None) -> BankFile:
    """The payment file a return claims to answer (by its batch number only; nothing else checked):
    who may import it depends on it. ``BankFileError`` when there is none."""
    return _find_bank_file(data, template)


def _holder_matches(returned: str, sent: str, engine: Template) -> bool:
    """The return's 户名 is the one sent — or, in a fixed-width layout that cuts it, its cut prefix."""
    returned, sent = returned.strip(), sent.strip()
    if returned == sent:
        return True
    field = next((f for f in engine.returns.detail if f.name == "holder_name"), None)
    if field is None or not field.cut or not field.width:
        return False
    return bool(returned) and returned == cut_to_bytes(sent, field.width, engine.codec).decode(engine.codec).strip()


def _match(bank_file: BankFile, parsed, progress: OnStage = _quiet):
    """Every return line against the sent lines (sequence, account, 户名 when the layout has it, amount;
    not returned before). → (sent lines by seq, returned-before map); raises BankFileError naming each
    bad line. A return without a single line is refused: it says nothing was paid, or is cut off.
    ``progress``: "match" as it starts."""
    progress("match")
    if not parsed.lines:
        raise BankFileError([(None, f"回盘文件没有任何明细（只有汇总行），不能作为报盘文件 {bank_file.batch_no} "
                                    f"的回盘导入；请向银行索取完整的回盘文件")], "回盘文件被拒绝")
    # what each line was sent as is its payroll line's snapshot (``models.SENT_SNAPSHOT``), read with it
    sent = {r[0]: r[1:] for r in BankFileLine.objects.filter(bank_file=bank_file).order_by().values_list(
        "seq", "pk", "account_number", "amount", "payroll_line_id", "payroll_line__run_id", "holder_name")}
    engine = Template(bank_file.definition)
    check_holder = "holder_name" in engine.returns.names("detail")
    # Lines returned before: the lines of this file's earlier returns (a return only ever holds lines of
    # the file it answers), read by return file — none on a first return — rather than by joining every
    # return line ever imported to this file's lines (1.8 s beside 880,000 old return lines).
    earlier = list(ReturnFile.objects.filter(bank_file=bank_file).values_list("pk", flat=True))
    returned = dict(ReturnLine.objects.filter(return_file_id__in=earlier).order_by()
                    .values_list("bank_file_line_id", "return_file_id")) if earlier else {}
    errors = []
    for rec in parsed.lines:
        s = sent.get(rec.seq)
        if s is None:
            errors.append((rec.line_no, f"序号 {rec.seq} 在报盘文件 {bank_file.batch_no} 中不存在"))
        elif rec.account_no.replace(" ", "") != s[1]:
            errors.append((rec.line_no, f"序号 {rec.seq} 的账号 {rec.account_no} 与报盘账号 {s[1]} 不符"))
        elif check_holder and not _holder_matches(rec.holder_name, s[5], engine):
            errors.append((rec.line_no, f"序号 {rec.seq} 的户名“{rec.holder_name.strip()}”与报盘户名“{s[5]}”不符"))
        elif rec.amount != s[2]:
            errors.append((rec.line_no, f"序号 {rec.seq} 的金额 {rec.amount} 与报盘金额 {s[2]} 不符"))
        elif s[0] in returned:
            errors.append((rec.line_no, f"序号 {rec.seq} 已由回盘文件 #{returned[s[0]]} 回盘，不能重复回盘"))
    if errors:
        raise BankFileError(errors, "回盘文件被拒绝")
    return sent, returned


def _read_return(data: bytes, template: BankTemplate | None):
    bank_file = _find_bank_file(data, template)
    parsed = Template(bank_file.definition).parse_return(data)  # raises BankFileError
    if parsed.batch_no != bank_file.batch_no:
        raise BankFileError([(None, f"批次号“{parsed.batch_no}”与报盘文件 {bank_file.batch_no} 不符")],
                            "回盘文件被拒绝")
    return bank_file, parsed


def bank_return_check(*, data: bytes, template: BankTemplate | None = None,
                      progress: OnStage | None = None) -> ReturnCheck:
    """The whole-file checks of ``bank_return_import`` without writing anything: the payment file it
    answers and its totals, or ``BankFileError`` with the same message the import would give.
    ``progress``: "match" as the lines are matched against the payment file's."""
    with _bulk():
        return _return_check(data, template, progress or _quiet)


def _return_check(data: bytes, template: BankTemplate | None, progress: OnStage) -> ReturnCheck:
    bank_file, parsed = _read_return(data, template)
    sent, returned = _match(bank_file, parsed, progress)
    ok = [r for r in parsed.lines if r.ok]
    failed = [r for r in parsed.lines if not r.ok]
    return ReturnCheck(bank_file, parsed, len(ok), sum((r.processed_amount for r in ok), ZERO), len(failed),
                       sum((r.amount for r in failed), ZERO), len(sent) - len(returned) - len(parsed.lines))


def bank_return_import(*, data: bytes, filename: str, user, template: BankTemplate | None = None,
                       progress: OnStage | None = None) -> ReturnImport:
    """回盘: check the whole file, then record every line's outcome and apply it to the payroll lines
    (paid with the amount processed, or failed with the bank's reason). Refusal raises
    ``BankFileError`` (message names each line and reason) and writes nothing. ``progress`` (a job's
    stages): "match", "record" (the return and its lines), "results" (applied to the payroll lines) and
    "audit" as each starts."""
    digest = hashlib.sha256(data).hexdigest()
    seen = ReturnFile.objects.filter(sha256=digest).select_related("bank_file").first()
    if seen:
        return _already(seen)
    with _bulk():
        return _return_import(data, digest, filename, user, template, progress or _quiet)


def _return_import(data: bytes, digest: str, filename: str, user, template: BankTemplate | None,
                   progress: OnStage) -> ReturnImport:
    bank_file, parsed = _read_return(data, template)
    payroll_services, PayrollRun, _ = _payroll()
    with transaction.atomic():
        BankFile.objects.select_for_update().filter(pk=bank_file.pk).first()  # one import per file at a time
        seen = ReturnFile.objects.filter(bank_file=bank_file, sha256=digest).first()
        if seen:
            return _already(seen)
        sent, returned = _match(bank_file, parsed, progress)
        ok = [r for r in parsed.lines if r.ok]
        failed = [r for r in parsed.lines if not r.ok]
        progress("record")
        return_file = ReturnFile.objects.create(
            bank_file=bank_file, sha256=digest, file_name=os.path.basename(filename)[:200], content=b"",
            imported_by=user, line_count=len(parsed.lines), ok_count=len(ok),
            ok_total=sum((r.processed_amount for r in ok), ZERO), failed_count=len(failed),
            failed_total=sum((r.amount for r in failed), ZERO),
        )
        rf = return_file.pk
        _store_content(ReturnFile, rf, data)
        return_file.content = data
        with connection.cursor() as cursor:
            copy_rows(cursor, ReturnLine._meta.db_table,
                      ("return_file_id", "bank_file_line_id", "line_no", "processed_amount", "ok", "status_code",
                       "reason"),
                      ((rf, sent[r.seq][0], r.line_no, r.processed_amount, r.ok, r.status[:10], r.reason[:200])
                       for r in parsed.lines),
                      types=("int8", "int8", "int4", "numeric", "bool", "text", "text"))
        per_run: dict[int, list] = defaultdict(list)
        for r in parsed.lines:
            s = sent[r.seq]
            per_run[s[4]].append((s[3], r.processed_amount, r.ok, r.reason))
        outcomes = {}
        progress("results")
        for run in PayrollRun.objects.filter(pk__in=sorted(per_run)).order_by("pk"):
            try:
                outcomes[run.pk] = payroll_services.payroll_lines_apply_results(run=run, results=per_run[run.pk],
                                                                                user=user)
            except payroll_services.PayrollError as exc:  # the transaction rolls back: nothing written
                raise BankFileError([(None, f"结算批次 #{run.pk}：{exc}")], "回盘文件被拒绝") from None
        left = len(sent) - len(returned) - len(parsed.lines)
        note = f"成功 {len(ok)} 笔 {return_file.ok_total}，失败 {len(failed)} 笔 {return_file.failed_total}"
        if left:
            note += f"；报盘文件尚有 {left} 笔未回盘"
        progress("audit")
        audit_record(user=user, action="bank_return", obj=return_file,
                     summary=f"回盘 {bank_file.batch_no}：{note}"[:300],
                     after={"batch_no": bank_file.batch_no, "sha256": digest, "count": len(parsed.lines),
                            "ok_count": len(ok), "ok_total": return_file.ok_total,
                            "failed_count": len(failed), "failed_total": return_file.failed_total})
    return ReturnImport(return_file, True, note, outcomes)


def _already(seen: ReturnFile) -> ReturnImport:
    when = timezone.localtime(seen.imported_at)
    return ReturnImport(seen, False, f"该回盘文件已于 {when:%Y-%m-%d %H:%M} 导入（回盘 #{seen.pk}，批次 "
                                     f"{seen.bank_file.batch_no}），本次未做任何更改")


# --------------------------------------------------------------------------------------------------
# re-issue (二次报盘) and write-off


@dataclass
class Reissue:
    run: object  # the new re-issue PayrollRun
    same_account: list = field(default_factory=list)  # lines going again to the account that failed


def bank_reissue(*, run, user) -> Reissue:
    """二次报盘: a re-issue run of the failed lines, each to the person's current account (the payroll
    rule). Lines whose account is still the one that failed are listed, so the clerk can correct the
    account first; the run is approved and exported like any other."""
    payroll_services, _, PayrollLine = _payroll()
    try:
        new_run = payroll_services.payroll_reissue_create(run=run, user=user)
    except payroll_services.PayrollError as exc:
        raise BankError(str(exc)) from None
    same = [(ln.seq, ln.name, ln.account_number) for ln in
            PayrollLine.objects.filter(run=new_run).select_related("origin_line").order_by("seq")
            if ln.origin_line and ln.origin_line.account_number == ln.account_number]
    return Reissue(new_run, same)


def bank_line_write_off(*, line, user, reason: str):
    """核销 a failed line (reviewer, with a reason): the payroll rule, reached from the bank screens."""
    payroll_services, _, _ = _payroll()
    try:
        return payroll_services.payroll_line_write_off(line=line, user=user, reason=reason)
    except payroll_services.PayrollError as exc:
        raise BankError(str(exc)) from None


def template_current_version(template: BankTemplate) -> BankTemplateVersion:
    """The version row of the template's current definition (made when a template was written without
    one, e.g. directly in a test or the admin)."""
    version = BankTemplateVersion.objects.filter(template=template, version=template.version).first()
    if version is None:
        version = BankTemplateVersion.objects.create(template=template, version=template.version,
                                                     definition=template.definition)
    return version


def bank_template_save(*, code: str, definition: dict, user, name: str = "", active: bool | None = None,
                       note: str = "", create: bool = False) -> BankTemplate:
    """Add or change a bank template (a new bank layout is data). The definition is checked by the
    engine. Versions: a template's current version is corrected in place while no file was written with
    it; once a file names it, a changed definition becomes the next version (``version`` + 1) and the
    old one stays as it was — the file can be rendered again byte for byte (``bank_file_render``), and
    its return is read with it. ``create``: refused when the code exists. Audited."""
    code = (code or "").strip()
    if not code:
        raise BankError("模板代码不能为空")
    definition = {**definition, "code": code}
    try:
        Template(definition)
    except ValueError as exc:
        raise BankError(str(exc)) from None
    name = (name or definition.get("name") or code)[:100]
    with transaction.atomic():
        template = BankTemplate.objects.select_for_update().filter(code=code).first()
        if template is not None and create:
            raise BankError(f"模板代码 {code} 已存在，请修改该模板")
        if template is None:
            try:
                with transaction.atomic():
                    template = BankTemplate.objects.create(code=code, name=name, definition=definition, version=1,
                                                           active=True if active is None else active)
            except IntegrityError:
                raise BankError(f"模板代码 {code} 已存在，请修改该模板") from None
            BankTemplateVersion.objects.create(template=template, version=1, definition=definition, note=note[:200],
                                               created_by=user)
            audit_record(user=user, action="create", obj=template, summary=f"新增银行模板 {code}（版本 1）",
                         after={"name": name, "version": 1, "definition": definition})
            return template
        current = template_current_version(template)
        before = {"name": template.name, "active": template.active, "version": template.version,
                  "definition": template.definition}
        new_version = None
        if definition != current.definition:
            if BankFile.objects.filter(template_version=current).exists():
                new_version = BankTemplateVersion.objects.create(
                    template=template, version=current.version + 1, definition=definition, note=note[:200],
                    created_by=user)
                template.version = new_version.version
            else:  # no file was written with it: corrected in place
                BankTemplateVersion.objects.filter(pk=current.pk).update(definition=definition, note=note[:200],
                                                                         created_by=user)
        template.definition = definition
        template.name = name
        if active is not None:
            template.active = active
        after = {"name": template.name, "active": template.active, "version": template.version,
                 "definition": definition}
        if after == before:
            return template
        template.save()
        what = (f"新版本 {template.version}（已有文件使用版本 {current.version}）" if new_version
                else f"版本 {template.version}")
        audit_record(user=user, action="update", obj=template, summary=f"修改银行模板 {code}：{what}",
                     before=before, after=after, reason=note)
    return template


def bank_file_render(*, bank_file: BankFile) -> bytes:
    """A file sent, rendered again from its own lines with the template version it was written with:
    the same bytes as its stored content (the check that a template edit never changed a file sent)."""
    _, PayrollRun, _ = _payroll()
    definition = bank_file.template_version.definition if bank_file.template_version_id else bank_file.definition
    rows = list(BankFileLine.objects.filter(bank_file=bank_file).order_by("seq").values_list(
        "payroll_line_id", "payroll_line__run_id", "payroll_line__seq", "bank_file__bank", "account_number",
        "holder_name", "amount", "id_number", "name", "payroll_line__memo"))
    runs = {r.pk: r for r in PayrollRun.objects.filter(pk__in={r[1] for r in rows})}
    try:
        return _render_rows(Template(definition), batch_no=bank_file.batch_no, on=bank_file.file_date,
                            rows=_payment_rows(rows, runs))
    except (BankFileError, ValueError) as exc:
        raise BankError(str(exc)) from None
