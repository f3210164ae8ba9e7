"""Benchmark section ``bank``: bank export (报盘) and return import (回盘) at 80,000 and 800,000 lines.

The synthetic payees are the payroll section's persons (身份证号 prefix 99, one current account each,
all at 慈溪农商银行, so one file per size). For each size an approved one-off run of n lines is made
with one set-based ``INSERT … SELECT`` (amounts 1.00–9,999.99), then timed end to end:

- export: ``bank_export`` (risks found again, the lines marked 已报盘 and read back in file order by one
  UPDATE … RETURNING — what is left on the run summed up by PostgreSQL meanwhile —, the file's lines
  written by one INSERT … SELECT while this process renders the ``standard`` file from those tuples
  (``common.meanwhile``), the file stored, the run marked exported, the file written to a directory);
- return import: ``bank_return_import`` of the bank's answer (2 % failed with a reason): whole-file
  parse and checks, match against the sent lines, COPY the return lines, one UPDATE … FROM for the
  payroll lines;
- floors: a plain ``INSERT … SELECT`` of the same n file lines (export) and of n return lines
  (import), rolled back;
- the risk check of the next run to the same accounts, right after the return (its 2 % rejected
  accounts are found and held): it must not read every paid line of every run (``payroll/sql/risks.sql``).

Sizes as the payroll section (80,000; ``SHEBAO_BENCH_PAYROLL_SIZES=80000,800000`` adds 800,000).

Also ``bench_bank(n, template="standard") -> dict`` for use outside ``make bench``.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from decimal import Decimal

from shebao.bench import section

SIZES = (80_000, 800_000)
PERIOD = dt.date(2026, 3, 1)
ON = dt.date(2026, 3, 20)
NOTE = "bank-bench"


def _users():
    from shebao.accounts.models import User

    clerk, _ = User.objects.get_or_create(username="bench-bank-clerk", defaults={"must_change_password": False})
    reviewer, _ = User.objects.get_or_create(username="bench-bank-reviewer", defaults={"must_change_password": False})
    return clerk, reviewer


def _clean(scheme_id: int) -> None:
    """Remove earlier bank-bench runs with their files and returns (audit rows stay: append-only)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT id FROM payroll_payrollrun WHERE scheme_id = %s AND note = %s", [scheme_id, NOTE])
        runs = [r[0] for r in cur.fetchall()]
        if not runs:
            return
        cur.execute("SELECT DISTINCT bankfile_id FROM bank_bankfile_runs WHERE payrollrun_id = ANY(%s)", [runs])
        files = [r[0] for r in cur.fetchall()]
        cur.execute("DELETE FROM bank_returnline rl USING bank_returnfile rf WHERE rl.return_file_id = rf.id "
                    "AND rf.bank_file_id = ANY(%s)", [files])
        cur.execute("DELETE FROM bank_returnfile WHERE bank_file_id = ANY(%s)", [files])
        cur.execute("DELETE FROM bank_bankfileline WHERE bank_file_id = ANY(%s)", [files])
        cur.execute("DELETE FROM bank_bankfile_runs WHERE bankfile_id = ANY(%s)", [files])
        cur.execute("DELETE FROM bank_bankfile WHERE id = ANY(%s)", [files])
        # the runs' risky lines and the bank's rejections of their accounts: else the next run's lines to
        # the same synthetic accounts would be held out of its file as once rejected
        cur.execute("DELETE FROM payroll_linerisk WHERE run_id = ANY(%s)", [runs])
        cur.execute("DELETE FROM payroll_accountrejection WHERE run_id = ANY(%s)", [runs])
        cur.execute("DELETE FROM payroll_payrollline WHERE run_id = ANY(%s)", [runs])
        cur.execute("DELETE FROM payroll_payrollrun WHERE id = ANY(%s)", [runs])
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE payroll_payrollline")
        cur.execute("VACUUM ANALYZE bank_bankfileline")
        cur.execute("VACUUM ANALYZE bank_returnline")


def _make_run(n: int, scheme_id: int, clerk, reviewer):
    """An approved one-off run of n lines to the synthetic persons' current accounts (set-based)."""
    from django.db import connection, transaction

    from shebao.payroll.models import PayrollRun

    with transaction.atomic(), connection.cursor() as cur:
        run = PayrollRun.objects.create(scheme_id=scheme_id, period=PERIOD, kind=PayrollRun.Kind.ONE_OFF,
                                        state=PayrollRun.State.APPROVED, created_by=clerk, approved_by=reviewer,
                                        note=NOTE)
        cur.execute(
            """
            INSERT INTO payroll_payrollline (run_id, seq, person_id, enrollment_id, id_number, name, bank_account_id,
                bank, branch, account_number, holder_name, gross, deductions, net, status, paid_amount, fail_reason,
                memo, write_off_reason)
            SELECT %(run)s, row_number() OVER (ORDER BY p.id_number), p.id, NULL, p.id_number, p.name, b.id, b.bank,
                   b.branch, b.account_number, b.holder_name, a.amt, 0, a.amt, 'pending', 0, '', '', ''
            FROM (SELECT * FROM registry_person WHERE id_number LIKE '99%%' ORDER BY id_number LIMIT %(n)s) p
            JOIN registry_bankaccount b ON b.person_id = p.id AND b.valid_to IS NULL
            CROSS JOIN LATERAL (SELECT (1 + (p.id * 7919) %% 999999) / 100.0 AS amt) a
            """, {"run": run.pk, "n": n})
        cur.execute("UPDATE payroll_payrollrun r SET line_count = t.c, gross = t.s, net = t.s FROM "
                    "(SELECT count(*) c, coalesce(sum(net), 0) s FROM payroll_payrollline WHERE run_id = %s) t "
                    "WHERE r.id = %s", [run.pk, run.pk])
    with connection.cursor() as cur:
        cur.execute("ANALYZE payroll_payrollline")
    run.refresh_from_db()
    return run


class _Rollback(Exception):
    pass


def _floor(run_id: int) -> float:
    """A plain INSERT … SELECT of the run's lines into a file's lines, rolled back."""
    from django.db import connection, transaction

    from shebao.bank.models import BankTemplate

    elapsed = 0.0
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "INSERT INTO bank_bankfile (batch_no, template_id, definition, bank, file_date, file_name, content, "
                "sha256, line_count, total, created_by_name, created_at) VALUES ('FLOOR', %s, '{}', 'X', %s, '', '', "
                "'', 1, 1, '', now()) RETURNING id", [BankTemplate.objects.get(code="standard").pk, ON])
            file_id = cur.fetchone()[0]
            t0 = time.perf_counter()
            cur.execute(
                "INSERT INTO bank_bankfileline (bank_file_id, seq, payroll_line_id) SELECT %s, seq, id "
                "FROM payroll_payrollline WHERE run_id = %s", [file_id, run_id])
            elapsed = time.perf_counter() - t0
            raise _Rollback
    except _Rollback:
        pass
    return elapsed


def _return_floor(bank_file_id: int, user_id: int) -> float:
    """A plain INSERT … SELECT of one return line per file line, rolled back."""
    from django.db import connection, transaction

    elapsed = 0.0
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "INSERT INTO bank_returnfile (bank_file_id, sha256, file_name, content, imported_by_id, imported_at, "
                "line_count, ok_count, ok_total, failed_count, failed_total) VALUES (%s, 'FLOOR', '', '', %s, now(), "
                "0, 0, 0, 0, 0) RETURNING id", [bank_file_id, user_id])
            return_id = cur.fetchone()[0]
            t0 = time.perf_counter()
            cur.execute(
                "INSERT INTO bank_returnline (return_file_id, bank_file_line_id, line_no, processed_amount, ok, "
                "status_code, reason) SELECT %s, payroll_line_id, seq + 1, 1, true, '0', '' FROM bank_bankfileline "
                "WHERE bank_file_id = %s", [return_id, bank_file_id])
            elapsed = time.perf_counter() - t0
            raise _Rollback
    except _Rollback:
        pass
    return elapsed


def bench_bank(n: int, template: str = "standard") -> dict:
    """Export n lines and import the bank's answer; returns the figures (seconds)."""
    from shebao.bank.formats import ReturnRecord, Template
    from shebao.bank.models import BankTemplate
    from shebao.bank.services import bank_export, bank_return_import
    from shebao.bench.payroll import _ensure_population, cpu_clock

    t0 = time.perf_counter()
    clerk, reviewer = _users()
    scheme_id = _ensure_population(n)
    _clean(scheme_id)
    run = _make_run(n, scheme_id, clerk, reviewer)
    setup_s = time.perf_counter() - t0
    floor_s = _floor(run.pk)
    tpl = BankTemplate.objects.get(code=template)
    clock = cpu_clock()
    with tempfile.TemporaryDirectory() as out:
        c0 = clock() if clock else 0.0
        t0 = time.perf_counter()
        [bank_file] = bank_export(runs=[run], template=tpl, user=clerk, out_dir=out, on=ON)
        export_s = time.perf_counter() - t0
        export_cpu = clock() - c0 if clock else None
    # the bank's answer: every 50th line failed
    t0 = time.perf_counter()
    lines = bank_file.lines.order_by("seq").values_list("seq", "account_number", "holder_name", "amount")
    records = [ReturnRecord(seq=s, account_no=a, holder_name=h, amount=amt,
                            processed_amount=Decimal("0.00") if s % 50 == 0 else amt, ok=s % 50 != 0,
                            reason="账户冻结" if s % 50 == 0 else "") for s, a, h, amt in lines.iterator(10_000)]
    answer = Template(bank_file.definition).render_return(batch_no=bank_file.batch_no, date=ON, records=records)
    answer_s = time.perf_counter() - t0
    import shebao.payroll.services as payroll_services

    spent = []
    apply = payroll_services.payroll_lines_apply_results

    def timed_apply(**kw):
        a = time.perf_counter()
        try:
            return apply(**kw)
        finally:
            spent.append(time.perf_counter() - a)

    payroll_services.payroll_lines_apply_results = timed_apply
    return_floor_s = _return_floor(bank_file.pk, clerk.pk)
    try:
        c0 = clock() if clock else 0.0
        t0 = time.perf_counter()
        result = bank_return_import(data=answer, filename="bench.txt", user=clerk)
        import_s = time.perf_counter() - t0
        import_cpu = clock() - c0 if clock else None
    finally:
        payroll_services.payroll_lines_apply_results = apply
    run.refresh_from_db()
    risk_s, risk_held = _risk_check(n, scheme_id, clerk, reviewer)
    return {
        "n": n, "template": template, "lines": bank_file.line_count, "total": str(bank_file.total),
        "bytes": len(bytes(bank_file.content)), "export_seconds": export_s, "import_seconds": import_s,
        "export_cpu_seconds": export_cpu, "import_cpu_seconds": import_cpu,
        "floor_seconds": floor_s, "return_floor_seconds": return_floor_s, "payroll_apply_seconds": sum(spent), "setup_seconds": setup_s, "answer_seconds": answer_s,
        "ok": result.return_file.ok_count, "failed": result.return_file.failed_count, "run_state": run.state,
        "risk_seconds": risk_s, "risk_held": risk_held,
    }


def _risk_check(n: int, scheme_id: int, clerk, reviewer) -> tuple[float, int]:
    """The next run to the same accounts, right after the return: the risk check (at compute, approval and
    export) finds every line whose account the bank just rejected. → (seconds, lines held)."""
    from django.db import transaction

    from shebao.payroll.services import payroll_run_risks_refresh

    following = _make_run(n, scheme_id, clerk, reviewer)
    t0 = time.perf_counter()
    with transaction.atomic():
        held = payroll_run_risks_refresh(run=following)
    return time.perf_counter() - t0, held


@section("bank", title="银行报盘与回盘（8 万笔；80 万笔见注）", order=60)
def bank_section(ctx) -> None:
    from shebao.bench.payroll import HEADER, LARGE_HINT, cpu_note, row, sizes, target

    rows, results = [], []
    for n in sizes():
        r = bench_bank(n)
        results.append(r)
        first = results[0]
        rows.append(row(f"报盘 {n // 10_000} 万", r["lines"], r["export_seconds"], r["floor_seconds"],
                        target(n, 1.0, first["export_seconds"])))
        rows.append(row(f"回盘 {n // 10_000} 万", r["lines"], r["import_seconds"], r["return_floor_seconds"],
                        target(n, 5.0, first["import_seconds"])))
    notes = ["模板 standard；回盘中每 50 笔失败 1 笔（账户冻结）："
             + "；".join(f"{r['lines']:,} 笔 文件 {r['bytes'] / 1e6:.1f} MB，成功/失败 {r['ok']:,}/{r['failed']:,}，"
                        f"批次 {r['run_state']}，其中结算回写 {r['payroll_apply_seconds']:.2f} 秒" for r in results),
             "风险核对：回盘后下一批次同样 "
             + "；".join(f"{r['lines']:,} 笔中 {r['risk_held']:,} 笔账户曾被银行退回，核对 {r['risk_seconds']:.2f} 秒"
                        for r in results),
             "报盘：核对风险明细、明细置已报盘并读回（一条语句）、生成文件（同时数据库写报盘明细）、保存、批次置已报盘、写出文件；"
             "回盘：整文件解析校验、逐笔对应、写回盘明细、结算明细回写",
             "下限：报盘为同样笔数的 INSERT … SELECT 写报盘明细；回盘为同样笔数的 INSERT … SELECT 写回盘明细；"
             "同一次运行中测、已回滚；倍数 = 秒 / 下限",
             f"负载（1 分钟平均）：{os.getloadavg()[0]:.1f}，{os.cpu_count()} 核 —— 负载高于核数时看倍数而非绝对秒数",
             "目标：8 万笔报盘 ≤ 1 秒（issue 17；原为 2 秒）、回盘 ≤ 5 秒；80 万笔 ≤ 8 万笔用时的 12 倍"]
    if all(r["export_cpu_seconds"] and r["import_cpu_seconds"] for r in results):
        notes.append(cpu_note([r["export_cpu_seconds"] for r in results], " 报盘"))
        notes.append(cpu_note([r["import_cpu_seconds"] for r in results], " 回盘"))
    if len(results) == 2:
        a, b = results
        notes.append(f"80 万 / 8 万：报盘 {b['export_seconds'] / a['export_seconds']:.1f} 倍，"
                     f"回盘 {b['import_seconds'] / a['import_seconds']:.1f} 倍")
    else:
        notes.append(LARGE_HINT)
    ctx.table("银行报盘与回盘", HEADER, rows, notes)
