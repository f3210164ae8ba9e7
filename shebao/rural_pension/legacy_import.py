"""The legacy import of 老农保 (``shebao rural import DIR [--dry-run] [--as USER]``).

DIR holds any of four CSV files (a header line, then one row per line; UTF-8 with or without BOM, or
GB18030, detected per file):

- ``persons.csv``: 身份证号, 姓名, 性别, 出生日期, 镇街道, 村, 参保日期, 状态, 开户银行, 银行账号
- ``contributions.csv``: 身份证号, 年月 (YYYYMM), 类别 (个人缴费|集体补助|其他), 金额
- ``payouts.csv``: 身份证号, 年月, 类别 (养老金|退保|其他), 金额
- ``rates.csv``: 年度, 记账利率 (a decimal fraction, e.g. 0.0250)

It is a staging step: every row is validated, every rejected row is reported with its reason, and the
good rows are loaded in ONE transaction (a dry run does the same work and rolls it back, so its report
is exactly what a commit would do). Per file a reconciliation of rows and amounts is printed and kept:
read = new + already present (same values) + rejected. Re-running on the same files changes nothing
(rows already present count as such; the rejected ones are rejected again).

Streamed and set-based: no file is ever held whole (see "reading" below: two passes in 1 MiB chunks,
memory independent of the file's size). The lines are split in Python as they are read and COPY'd into
temporary staging tables, validated in SQL (formats, kinds, months, amounts, duplicates with window
functions, unknown persons, conflicts with stored rows) and loaded with INSERT … SELECT. Persons
(≈75,000) are validated in Python with the registry's own identity rules (15→18 upgrade keeping the
original; sex and birth date against the number) while they are staged, then created in one INSERT …
SELECT.

Receivers: a 领取 account takes its benefit from its legacy 养老金 payouts and is enrolled in scheme NB
from the month after its last one (``legacy_receivers_enrol``), so the NB monthly payroll pays it and
never a month the legacy system paid.

Audit of the bulk load: ONE audit event per committed batch (action ``rural_import``) holding the
files' SHA-256, the reconciliation and the counts created (persons, accounts, bank accounts,
contributions, payouts, rates, NB enrollments). Every row created carries the batch (``import_batch``; accounts also
``person_created_by_import``), so each record traces back to that one event, and the event back to the
exact bytes imported.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from django.db import connection, transaction
from stdnum import luhn

from shebao.common.audit import audit_record
from shebao.common.identity import (
    IdNumberError,
    account_number_error,
    check_consistent,
    name_error,
    normalize_account_number,
    parse_id_number,
)
from shebao.common.jobs import NullProgress, Progress
from shebao.common.money import MoneyError, normalize_digits, to_decimal
from shebao.common.sheets import csv_text, write_csv
from shebao.registry.models import Bank, Region
from shebao.registry.selectors import bank_labels, bank_rules
from shebao.registry.services import name_initials
from shebao.rural_pension.models import ImportBatch, ImportReconciliation

FILES: dict[str, list[str]] = {
    "persons.csv": ["身份证号", "姓名", "性别", "出生日期", "镇街道", "村", "参保日期", "状态", "开户银行", "银行账号"],
    "contributions.csv": ["身份证号", "年月", "类别", "金额"],
    "payouts.csv": ["身份证号", "年月", "类别", "金额"],
    "rates.csv": ["年度", "记账利率"],
}
CONTRIBUTION_KINDS = {"个人缴费": "personal", "集体补助": "collective", "其他": "other"}
PAYOUT_KINDS = {"养老金": "pension", "退保": "refund", "其他": "other"}
STATUSES = {
    "缴费": "paying", "在缴": "paying", "正常": "paying", "参保缴费": "paying",
    "中断": "suspended", "中断缴费": "suspended", "暂停": "suspended", "停缴": "suspended",
    "领取": "receiving", "待遇领取": "receiving",
    "退保": "refunded", "已退保": "refunded",
    "终止": "terminated", "已终止": "terminated", "死亡": "terminated",
}
BANK_WORDS = [
    ("工商", Bank.ICBC), ("工行", Bank.ICBC), ("农业银行", Bank.ABC), ("农行", Bank.ABC), ("中国银行", Bank.BOC),
    ("中行", Bank.BOC), ("建设", Bank.CCB), ("建行", Bank.CCB), ("交通", Bank.BOCOM), ("交行", Bank.BOCOM),
    ("邮政", Bank.PSBC), ("邮储", Bank.PSBC), ("宁波银行", Bank.NBCB), ("农商", Bank.CXRCB), ("信用社", Bank.CXRCB),
    ("农信", Bank.CXRCB),
]
AMOUNT_RE = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"
MAX_SHOWN_DEFAULT = 200


class ImportFileError(Exception):
    """The import cannot start (a missing directory, a file with a wrong header …); nothing is written."""


@dataclass
class Rejected:
    file: str
    line_no: int
    content: str
    reason: str

    def as_text(self) -> str:
        return f"{self.file} 第 {self.line_no} 行：{self.reason}　[{self.content}]"


@dataclass
class Recon:
    file: str
    rows_read: int = 0
    rows_new: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    amount_read: Decimal = Decimal("0.00")
    amount_new: Decimal = Decimal("0.00")
    amount_unchanged: Decimal = Decimal("0.00")
    amount_rejected: Decimal = Decimal("0.00")

    @property
    def balanced(self) -> bool:
        return (self.rows_read == self.rows_new + self.rows_unchanged + self.rows_rejected
                and self.amount_read == self.amount_new + self.amount_unchanged + self.amount_rejected)


@dataclass
class ImportResult:
    dry_run: bool
    batch: ImportBatch | None
    files: dict[str, dict] = field(default_factory=dict)
    reconciliation: list[Recon] = field(default_factory=list)
    rejected_count: int = 0
    rejected: list[Rejected] = field(default_factory=list)  # the first ``keep_rejected`` of them
    created: dict[str, int] = field(default_factory=dict)
    receivers: ReceiversEnrolment | None = None  # the 领取 accounts enrolled in NB, and those left out

    @property
    def changed(self) -> bool:
        return any(self.created.values())


# --------------------------------------------------------------------------------------------------
# reading: streamed, never the whole file in memory
#
# Pass 1 (``scan_file``) reads the file once in chunks: its SHA-256 and size, whether ALL of it is valid
# UTF-8 (an incremental decoder), and its header line. Only when it is not valid UTF-8 does it read the
# first ``SAMPLE_LINES`` lines again to choose between UTF-8 and GB18030 (the rule below). Pass 2
# (``_rows``) reads it again chunk by chunk, decodes a block of whole lines at once (line by line when
# the block does not decode, so a bad line becomes one rejected row) and hashes the bytes again: a
# file changed between the passes stops the import (nothing is written). Memory: one chunk and the
# current block, whatever the file's size.

CHUNK_BYTES = 1 << 20
SAMPLE_LINES = 20_000
BOM = b"\xef\xbb\xbf"


@dataclass
class FileScan:
    """What pass 1 found: the bytes' hash and size, the encoding (label and codec), the header line."""

    name: str
    path: Path | None
    sha256: str
    size: int
    encoding: str  # "UTF-8", "UTF-8 (BOM)" or "GB18030"
    codec: str  # "utf-8" or "gb18030"
    bom: bool
    header: tuple[int, str | None] | None = None  # (line_no, text or None when undecodable); None: empty file

    def info(self) -> dict:
        return {"sha256": self.sha256, "bytes": self.size, "encoding": self.encoding}


def _chunks(f: BinaryIO, hasher=None) -> Iterator[bytes]:
    while chunk := f.read(CHUNK_BYTES):
        if hasher is not None:
            hasher.update(chunk)
        yield chunk


def _decode_block(block: bytes, codec: str, n: int) -> Iterator[tuple[int, str | None, bytes]]:
    """The lines of ``block`` (whole lines joined by \\n), numbered from n + 1. A \\n byte is never
    inside a UTF-8 or GB18030 character, so decoding the block equals decoding each line."""
    try:
        text = block.decode(codec)
    except UnicodeDecodeError:
        for raw in block.split(b"\n"):
            n += 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                yield n, raw.decode(codec), b""
            except UnicodeDecodeError:
                yield n, None, raw
        return
    for t in text.split("\n"):
        n += 1
        yield n, t.removesuffix("\r"), b""


def _iter_lines(f: BinaryIO, codec: str, hasher=None) -> Iterator[tuple[int, str | None, bytes]]:
    """(line_no, text or None when undecodable, raw bytes when undecodable) of a file read in chunks;
    lines split at \\n (a final \\r dropped), a BOM at the start skipped, no empty last line."""
    head = f.read(len(BOM))
    if hasher is not None:
        hasher.update(head)
    carry = b""
    n = 0
    for chunk in itertools.chain((b"" if head == BOM else head,), _chunks(f, hasher)):
        if not chunk:
            continue
        buf = carry + chunk if carry else chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            continue
        carry = buf[cut + 1:]
        block = buf[:cut]
        for item in _decode_block(block, codec, n):
            yield item
        n = item[0]
    if carry:
        yield from _decode_block(carry, codec, n)


def _choose_codec(f: BinaryIO) -> str:
    """Not all of the file is UTF-8: GB18030 decodes almost any bytes (UTF-8 Chinese included), UTF-8
    rejects most GB18030 text, so it is UTF-8 when most of the first non-ASCII lines are valid UTF-8."""
    utf8_ok = utf8_bad = 0
    for n, _, raw in _iter_lines(f, "ascii"):  # "ascii": every non-ASCII line comes back raw
        if n > SAMPLE_LINES:
            break
        if not raw:
            continue
        try:
            raw.decode("utf-8")
            utf8_ok += 1
        except UnicodeDecodeError:
            utf8_bad += 1
    return "utf-8" if utf8_ok > utf8_bad else "gb18030"


def scan_file(f: BinaryIO, name: str = "", path: Path | None = None) -> FileScan:
    """Pass 1 over a binary file object (seekable): hash, size, encoding, header line."""
    hasher = hashlib.sha256()
    size = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    head = f.read(len(BOM))
    hasher.update(head)
    size += len(head)
    bom = head == BOM
    if not bom and head:
        try:
            decoder.decode(head)
        except UnicodeDecodeError:
            utf8 = False
    for chunk in _chunks(f, hasher):
        size += len(chunk)
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if utf8:
        codec, encoding = "utf-8", "UTF-8 (BOM)" if bom else "UTF-8"
    else:
        f.seek(0)
        codec = _choose_codec(f)
        encoding = "UTF-8" if codec == "utf-8" else "GB18030"
    scan = FileScan(name=name, path=path, sha256=hasher.hexdigest(), size=size, encoding=encoding, codec=codec,
                    bom=bom)
    f.seek(0)
    for n, text, _ in _iter_lines(f, codec):
        if text is None or text.strip():
            scan.header = (n, text)
            break
    return scan


def decode_lines(data: bytes) -> tuple[str, list[tuple[int, str | None, bytes]]]:
    """The encoding and every (line_no, text or None when undecodable, raw bytes) of ``data``, by the
    same streamed reading as the import (for tests and small data). UTF-8 (BOM or not) when the whole
    file decodes, or when most of its first non-ASCII lines do; else GB18030. Lines that do not decode
    are None (each becomes a rejected row, never silently dropped)."""
    scan = scan_file(io.BytesIO(data))
    return scan.encoding, list(_iter_lines(io.BytesIO(data), scan.codec))


def split_fields(line: str) -> list[str]:
    if '"' in line:
        return [f.strip() for f in next(csv.reader([line]))]
    return [f.strip() for f in line.split(",")]


def _header_ok(fields: list[str], expected: list[str]) -> bool:
    return [f.strip().lstrip("\ufeff") for f in fields] == expected


def _check_header(scan: FileScan) -> None:
    name = scan.name
    if scan.header is None:
        raise ImportFileError(f"{name} 是空文件（至少应有表头行）")
    n0, header = scan.header
    if header is None or not _header_ok(split_fields(header), FILES[name]):
        raise ImportFileError(
            f"{name} 第 {n0} 行表头应为“{','.join(FILES[name])}”，实际为“{header if header is not None else '无法解码'}”；"
            f"文件未导入")


def _rows(scan: FileScan) -> Iterator[tuple[int, list[str] | None, str]]:
    """Pass 2: (line_no, fields or None when undecodable, content) of every non-blank line after the
    header, streamed; at the end the bytes read must still have the hash of pass 1."""
    hasher = hashlib.sha256()
    header_line = scan.header[0] if scan.header else 0
    with scan.path.open("rb") as f:
        for n, text, raw in _iter_lines(f, scan.codec, hasher):
            if n <= header_line:
                continue
            if text is None:
                yield n, None, raw.hex(" ")[:200]
            elif "\x00" in text:  # PostgreSQL cannot store it: the line is rejected, shown with \x00
                yield n, None, text.replace("\x00", "\\x00")[:200]
            elif text.strip():
                yield n, split_fields(text), text
    if hasher.hexdigest() != scan.sha256:
        raise ImportFileError(f"{scan.name} 在导入过程中被修改（SHA-256 与开始时不同）；本次导入未写入任何数据，请重新导入")


def parse_date(value: str) -> dt.date | None:
    value = (value or "").strip()
    m = re.fullmatch(r"(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})", value)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def bank_code(text: str, codes=None) -> str:
    """开户银行 as the legacy file writes it → a code of the banks table (its code written as is, or a
    word of a seeded bank's name), "" when unknown. ``codes``: the table's codes, read beforehand by a
    caller that may not query now (inside a COPY)."""
    text = (text or "").strip()
    if text.upper() in (codes if codes is not None else bank_labels()):
        return text.upper()
    for word, code in BANK_WORDS:
        if word in text:
            return code
    return ""


def _amount(text: str) -> Decimal | None:
    if not re.fullmatch(AMOUNT_RE, text or ""):
        return None
    return Decimal(text)


# --------------------------------------------------------------------------------------------------
# the import


def _copy(table: str, columns: list[str], rows) -> None:
    """COPY an iterable of rows into ``table``: psycopg sends them in buffered chunks as they come, so
    a generator is staged without ever being held whole."""
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


BAD_ENCODING = "编码错误：该行不是有效的 UTF-8 / GB18030 文本，或含有空字符（NUL）"
REJECT_FLUSH = 5000


def flow_check_sql(name: str) -> list[str]:
    """The statements that validate the staged rows of contributions.csv or payouts.csv (``_rp_flow``,
    with ``_rp_ids``) into ``_rp_flow2`` (line_no, account_id, month, kind_code, amount, reason, unchanged,
    content): each row's rejection reason (NULL when good), whether it is already stored with the same
    amount, and the line's content for a row rejected by its own values (a duplicate or a conflict with a
    stored row takes it from ``_rp_flow``).
    Parameter: ``amount_re``.

    ``_rp_chk`` holds each row's parsed values and reason, computed ONCE (the OFFSET 0 fence: without it
    the planner inlines the parsing into every reference — the reason, the sort key, the join — and runs
    the regular expressions and date parsing several times per row) and analysed, so the second step is
    planned on real counts; it carries the content of its rejected rows only, so the window that finds
    duplicates sorts narrow rows, of the good rows only. At 4.8 M rows the check
    went from 65–108 s (one statement, reasons and content through the sort) to about 25 s."""
    kinds = CONTRIBUTION_KINDS if name == "contributions.csv" else PAYOUT_KINDS
    table = "rural_pension_contribution" if name == "contributions.csv" else "rural_pension_payout"
    payouts = table == "rural_pension_payout"
    kind_case = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in kinds.items())
    kind_names = "、".join(kinds)
    # a pension month the NB payroll pays (from the linked enrollment's start) is not the legacy system's
    nb_start = "e.start_month" if payouts else "NULL::date"
    nb_join = "LEFT JOIN benefits_enrollment e ON e.id = a.enrollment_id" if payouts else ""
    return [f"""
        CREATE TEMP TABLE _rp_chk ON COMMIT DROP AS
        SELECT c.line_no, c.account_id, c.month, c.kind_code, c.amount, c.reason,
               CASE WHEN c.reason IS NOT NULL THEN c.content END AS content
        FROM (
            SELECT b.line_no, b.account_id, b.month, b.kind_code, b.amount, b.content, CASE
                WHEN b.bad THEN '{BAD_ENCODING}'
                WHEN b.nf <> 4 THEN '列数应为 4，实际 ' || b.nf || ' 列'
                WHEN b.id_err <> '' THEN b.id_err
                WHEN b.month IS NULL THEN '年月“' || b.ym || '”无效（应为 YYYYMM，月份 01–12）'
                WHEN b.kind_code IS NULL THEN '未知类别“' || b.kind || '”（应为 {kind_names}）'
                WHEN b.amount IS NULL THEN '金额“' || b.amount_text || '”无效（应为最多两位小数的数字）'
                WHEN b.amount <= 0 THEN '金额 ' || b.amount || ' 必须大于 0'
                WHEN b.account_id IS NULL THEN '人员 ' || b.id18 || ' 没有老农保账户（不在 persons.csv 中，也未曾导入）'
                WHEN b.kind_code = 'pension' AND b.month >= b.nb_start
                    THEN '该人员 ' || to_char(b.nb_start, 'YYYY-MM') || ' 起由老农保月度发放（NB）支付，原系统 '
                         || to_char(b.month, 'YYYY-MM') || ' 的养老金不能再导入（同一月份不能发放两次）'
            END AS reason
            FROM (
                SELECT f.line_no, f.bad, f.nf, f.ym, f.kind, f.amount_text, f.content, i.id18, i.err AS id_err,
                       CASE WHEN f.ym ~ '^[0-9]{{6}}$' AND substr(f.ym, 5, 2) BETWEEN '01' AND '12'
                                 AND substr(f.ym, 1, 4) BETWEEN '1950' AND '2100'
                            THEN make_date(substr(f.ym, 1, 4)::int, substr(f.ym, 5, 2)::int, 1) END AS month,
                       CASE f.kind {kind_case} END AS kind_code,
                       CASE WHEN f.amount_text ~ %(amount_re)s THEN f.amount_text::numeric(16, 2) END AS amount,
                       a.id AS account_id, {nb_start} AS nb_start
                FROM _rp_flow f
                LEFT JOIN _rp_ids i ON i.raw = f.id_raw
                LEFT JOIN registry_person p ON p.id_number = i.id18
                LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id
                {nb_join}
                OFFSET 0
            ) b
            OFFSET 0
        ) c
    """, "ANALYZE _rp_chk", f"""
        CREATE TEMP TABLE _rp_flow2 ON COMMIT DROP AS
        WITH good AS (
            SELECT line_no, account_id, month, kind_code, amount,
                   min(line_no) OVER w AS first_line, row_number() OVER w AS rn
            FROM _rp_chk WHERE reason IS NULL
            WINDOW w AS (PARTITION BY account_id, month, kind_code ORDER BY line_no)
        )
        SELECT g.line_no, g.account_id, g.month, g.kind_code, g.amount,
               CASE WHEN g.rn > 1 THEN '重复行：与第 ' || g.first_line || ' 行是同一人、同一年月、同一类别'
                    WHEN e.amount <> g.amount THEN '与已导入的记录不一致（已有金额 ' || e.amount || '）' END AS reason,
               (g.rn = 1 AND COALESCE(e.amount = g.amount, false)) AS unchanged, NULL::text AS content
        FROM good g
        LEFT JOIN {table} e ON e.account_id = g.account_id AND e.month = g.month AND e.kind = g.kind_code
        UNION ALL
        SELECT line_no, account_id, month, kind_code, amount, reason, false, content
        FROM _rp_chk WHERE reason IS NOT NULL
    """, "DROP TABLE _rp_chk"]


class _Importer:
    def __init__(self, *, directory: Path, user, progress: Progress, keep_rejected: int,
                 rejected_file: Path | None = None) -> None:
        self.dir = directory
        self.user = user
        self.progress = progress
        self.keep_rejected = keep_rejected
        self.rejected_file = rejected_file
        self.rejected: list[Rejected] = []  # found in Python (rates), written every REJECT_FLUSH rows
        self.recon: dict[str, Recon] = {}
        self.created: dict[str, int] = {}
        self.ids: dict[str, tuple[str, str, str]] = {}  # raw → (18-digit number, original 15, error)
        self.parsed: dict[str, object] = {}  # 18-digit number → IdNumber (persons.csv)
        self.initials: dict[str, str] = {}  # name → pinyin initials (names repeat: pypinyin is the slow part)
        self.person_ids: tuple[int, int] | None = None
        self.receivers_result: ReceiversEnrolment | None = None

    # identity -----------------------------------------------------------------------------------
    def _id(self, raw: str) -> tuple[str, str, str]:
        hit = self.ids.get(raw)
        if hit is None:
            try:
                idn = parse_id_number(raw)
                self.parsed[idn.number] = idn
                hit = (idn.number, idn.original, "")
            except IdNumberError as exc:
                hit = ("", "", f"身份证号错误：{exc}")
            self.ids[raw] = hit
        return hit

    def reject(self, file: str, line_no: int, content: str, reason: str, amount: Decimal | None = None) -> None:
        rec = self.recon[file]
        rec.rows_rejected += 1
        rec.amount_rejected += amount or 0
        self.rejected.append(Rejected(file, line_no, content[:500], reason[:300]))
        if len(self.rejected) >= REJECT_FLUSH:
            self._flush_rejected()

    def _flush_rejected(self) -> None:
        from shebao.rural_pension.models import ImportRejection

        ImportRejection.objects.bulk_create(
            [ImportRejection(batch=self.batch, file=r.file, line_no=r.line_no, content=r.content, reason=r.reason)
             for r in self.rejected], batch_size=REJECT_FLUSH)
        self.rejected.clear()

    # persons ------------------------------------------------------------------------------------
    def _person_rows(self, scan: FileScan, towns: dict, communities: dict):
        """Every row of persons.csv checked by the registry's identity rules: (line, content, reason or
        None, the parsed columns when good) — streamed into the staging table, the rejected ones too.
        It runs inside the COPY: no database query here (the connection is busy)."""
        name = scan.name
        seen: dict[str, int] = {}
        today = dt.date.today()
        bad = (None,) * 14
        count = 0
        for n, fields, content in _rows(scan):
            count += 1
            if count % 20_000 == 0:
                self.progress.note(f"{name}：已检查 {count:,} 行")
            if fields is None:
                yield (n, content, BAD_ENCODING, *bad)
                continue
            if len(fields) != 10:
                yield (n, content, f"列数应为 10，实际 {len(fields)} 列", *bad)
                continue
            raw_id, pname, sex, birth, town, village, enrolled, status, bank, account_no = fields
            number, original, error = self._id(raw_id)
            if error:
                yield (n, content, error, *bad)
                continue
            idn = self.parsed.get(number) or parse_id_number(number)
            problems = []
            if not pname:
                problems.append("姓名为空")
            sex_code = {"男": "M", "女": "F", "M": "M", "F": "F", "": None}.get(sex, "?")
            if sex_code == "?":
                problems.append(f"性别“{sex}”无效（应为 男 或 女）")
                sex_code = None
            born = parse_date(birth) if birth else None
            if birth and born is None:
                problems.append(f"出生日期“{birth}”无效")
            try:
                check_consistent(idn, birth_date=born, sex=sex_code)
            except IdNumberError as exc:
                problems.append(str(exc))
            town_id = towns.get(town)
            community_id = None
            if town_id is None:
                problems.append(f"镇街道“{town}”不存在")
            elif village:
                community_id = communities.get((town_id, village))
                if community_id is None:
                    problems.append(f"村“{village}”不属于{town}")
            enrolled_on = parse_date(enrolled)
            if enrolled_on is None:
                problems.append(f"参保日期“{enrolled}”无效")
            elif enrolled_on > today or enrolled_on < idn.birth_date:
                problems.append(f"参保日期 {enrolled_on:%Y-%m-%d} 不合理（晚于今天或早于出生日期）")
            status_code = STATUSES.get(status)
            if status_code is None:
                problems.append(f"未知状态“{status}”（应为 缴费、中断缴费、领取、已退保、已终止）")
            if number in seen:
                problems.append(f"重复行：与第 {seen[number]} 行是同一身份证号")
            if pname and (problem := name_error(pname)):
                problems.append(problem)  # the name is also the 户名 of the bank account created
            account_no = normalize_account_number(account_no)
            code = bank_code(bank, self.bank_codes)
            rule = self.bank_rules.get(code)
            if account_no and (problem := account_number_error(account_no, rule[:2] if rule else None,
                                                                 rule[2] if rule else "")):
                problems.append(problem)
            if problems:
                yield (n, content, "；".join(problems), *bad)
                continue
            seen[number] = n
            initials = self.initials.get(pname)
            if initials is None:
                initials = self.initials[pname] = name_initials(pname)
            yield (n, content, None, number, original, pname, initials, idn.sex, idn.birth_date, town_id,
                   community_id, enrolled_on, status_code, bank[:50], account_no[:40], code,
                   bool(account_no) and not (account_no.isdigit() and luhn.is_valid(account_no)))
        self.progress.note(f"{name}：{count:,} 行已检查")

    def persons(self, scan: FileScan) -> None:
        name = scan.name
        rec = self.recon[name] = Recon(name)
        towns = {r.name: r.pk for r in Region.objects.filter(level=Region.Level.TOWN)}
        communities = {(r.parent_id, r.name): r.pk for r in Region.objects.filter(level=Region.Level.COMMUNITY)}
        self.bank_codes = frozenset(bank_labels())  # read now: the rows are made inside the COPY
        self.bank_rules = bank_rules()  # code → (min length, max length, name, active), read now too
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_person")
            cursor.execute("""
                CREATE TEMP TABLE _rp_person (line_no int, content text, reason text, id_number text, original text,
                    name text, initials text, sex text, birth date, town_id bigint, community_id bigint,
                    enrolled_on date, status text, bank_text text, account_no text, bank_code text,
                    luhn_warning boolean)
                ON COMMIT DROP""")
        _copy("_rp_person", ["line_no", "content", "reason", "id_number", "original", "name", "initials", "sex",
                             "birth", "town_id", "community_id", "enrolled_on", "status", "bank_text", "account_no",
                             "bank_code", "luhn_warning"], self._person_rows(scan, towns, communities))
        self.parsed.clear()  # only persons.csv needs the parsed numbers
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE _rp_person")
            # conflicts with what is stored: another name for the same number; an account with other facts
            cursor.execute("""
                UPDATE _rp_person s SET reason =
                       CASE WHEN p.name <> s.name THEN '姓名与已登记人员“' || p.name || '”不一致'
                            ELSE '老农保账户已存在且信息不同（' || concat_ws('、',
                                 CASE WHEN a.town_id <> s.town_id THEN '镇街道' END,
                                 CASE WHEN a.community_id IS DISTINCT FROM s.community_id THEN '村' END,
                                 CASE WHEN a.enrolled_on <> s.enrolled_on THEN '参保日期' END,
                                 CASE WHEN a.status <> s.status THEN '状态' END,
                                 CASE WHEN a.legacy_bank <> s.bank_text THEN '开户银行' END,
                                 CASE WHEN a.legacy_account_number <> s.account_no THEN '银行账号' END)
                                 || '），请通过信息修改处理' END
                FROM registry_person p
                LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id
                WHERE s.reason IS NULL AND p.id_number = s.id_number
                  AND (p.name <> s.name
                   OR (a.id IS NOT NULL AND (a.town_id <> s.town_id OR a.community_id IS DISTINCT FROM s.community_id
                       OR a.enrolled_on <> s.enrolled_on OR a.status <> s.status OR a.legacy_bank <> s.bank_text
                       OR a.legacy_account_number <> s.account_no)))""")
            cursor.execute("""
                SELECT count(*), count(*) FILTER (WHERE s.reason IS NOT NULL),
                       count(*) FILTER (WHERE s.reason IS NULL AND a.id IS NOT NULL),
                       count(*) FILTER (WHERE s.reason IS NULL AND a.id IS NULL)
                FROM _rp_person s
                LEFT JOIN registry_person p ON s.reason IS NULL AND p.id_number = s.id_number
                LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id""")
            rec.rows_read, rec.rows_rejected, rec.rows_unchanged, rec.rows_new = cursor.fetchone()
            cursor.execute("""
                INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
                SELECT %(batch)s, %(file)s, line_no, left(content, 500), left(reason, 300)
                FROM _rp_person WHERE reason IS NOT NULL""", {"batch": self.batch.pk, "file": name})
            cursor.execute("DELETE FROM _rp_person WHERE reason IS NOT NULL")
            # the persons this batch registers, kept in a temp table (an id array tested with = ANY per
            # account row was quadratic: 21 s for 75,000 accounts)
            cursor.execute("DROP TABLE IF EXISTS _rp_new")
            cursor.execute("CREATE TEMP TABLE _rp_new (id bigint PRIMARY KEY) ON COMMIT DROP")
            cursor.execute("""
                WITH ins AS (
                    INSERT INTO registry_person (id_number, id_number_original, name, name_initials, sex, birth_date,
                        town_id, community_id, hukou_address, residence_address, mobile, phone, notes, created_at,
                        updated_at)
                    SELECT s.id_number, s.original, s.name, s.initials, s.sex, s.birth, s.town_id, s.community_id,
                           '', '', '', '', '', now(), now()
                    FROM _rp_person s
                    WHERE NOT EXISTS (SELECT 1 FROM registry_person p WHERE p.id_number = s.id_number)
                    ORDER BY s.line_no
                    RETURNING id)
                INSERT INTO _rp_new SELECT id FROM ins""")
            cursor.execute("ANALYZE _rp_new")
            cursor.execute("SELECT count(*), min(id), max(id) FROM _rp_new")
            count, first, last = cursor.fetchone()
            self.created["persons"] = count
            self.person_ids = (first, last) if count else None
            cursor.execute("""
                INSERT INTO registry_bankaccount (person_id, bank, branch, account_number, holder_name, valid_from,
                    luhn_warning, created_at)
                SELECT p.id, s.bank_code, '', s.account_no, s.name, CURRENT_DATE, s.luhn_warning, now()
                FROM _rp_person s JOIN registry_person p ON p.id_number = s.id_number
                WHERE s.bank_code <> '' AND s.account_no <> ''
                  AND NOT EXISTS (SELECT 1 FROM registry_bankaccount b WHERE b.person_id = p.id AND b.valid_to IS NULL)
                  AND NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)""")
            self.created["bank_accounts"] = cursor.rowcount
            cursor.execute("""
                INSERT INTO rural_pension_ruralaccount (person_id, town_id, community_id, enrolled_on, status,
                    legacy_bank, legacy_account_number, import_batch_id, person_created_by_import, note,
                    created_at, updated_at)
                SELECT p.id, s.town_id, s.community_id, s.enrolled_on, s.status, s.bank_text, s.account_no,
                       %(batch)s, n.id IS NOT NULL, '', now(), now()
                FROM _rp_person s JOIN registry_person p ON p.id_number = s.id_number
                LEFT JOIN _rp_new n ON n.id = p.id
                WHERE NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)""",
                           {"batch": self.batch.pk})
            self.created["accounts"] = cursor.rowcount
            cursor.execute("DROP TABLE _rp_new")

    # flows --------------------------------------------------------------------------------------
    def flows(self, scan: FileScan) -> None:
        name = scan.name
        table = "rural_pension_contribution" if name == "contributions.csv" else "rural_pension_payout"
        payouts = table == "rural_pension_payout"
        rows = _rows(scan)
        self.recon[name] = Recon(name)
        ids_seen = self.ids

        def staged():
            count = 0
            for n, fields, content in rows:
                count += 1
                if count % 200_000 == 0:
                    self.progress.note(f"{name}：已读 {count:,} 行")
                if fields is None:
                    yield (n, True, 0, "", "", "", "", content)
                    continue
                raw_id = fields[0] if fields else ""
                if raw_id not in ids_seen:
                    self._id(raw_id)
                padded = (fields + ["", "", "", ""])[:4]
                # the amount's syntax is checked in SQL (``AMOUNT_RE``, the syntax of money.to_decimal
                # with at most 2 decimals); full-width digits are read as ASCII here, as everywhere
                yield (n, False, len(fields), raw_id, padded[1], padded[2], normalize_digits(padded[3]), content)

        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_flow")
            cursor.execute("""
                CREATE TEMP TABLE _rp_flow (line_no int, bad boolean, nf int, id_raw text, ym text, kind text,
                    amount_text text, content text) ON COMMIT DROP""")
        _copy("_rp_flow", ["line_no", "bad", "nf", "id_raw", "ym", "kind", "amount_text", "content"], staged())
        self._ids_table()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("ANALYZE _rp_flow")
            cursor.execute("DROP TABLE IF EXISTS _rp_flow2")
            cursor.execute("DROP TABLE IF EXISTS _rp_chk")
            for sql in flow_check_sql(name):
                cursor.execute(sql, {"amount_re": AMOUNT_RE} if "%(amount_re)s" in sql else None)
            cursor.execute(f"""
                INSERT INTO {table} (account_id, month, kind, amount, import_batch_id{', document_id, payroll_line_id' if payouts else ''})
                SELECT account_id, month, kind_code, amount, %(batch)s{', NULL, NULL' if payouts else ''}
                FROM _rp_flow2 WHERE reason IS NULL AND NOT unchanged""", {"batch": self.batch.pk})
            self.created[table.removeprefix("rural_pension_") + "s"] = cursor.rowcount
            cursor.execute("""
                SELECT count(*), COALESCE(sum(amount), 0),
                       count(*) FILTER (WHERE reason IS NULL AND NOT unchanged),
                       COALESCE(sum(amount) FILTER (WHERE reason IS NULL AND NOT unchanged), 0),
                       count(*) FILTER (WHERE unchanged), COALESCE(sum(amount) FILTER (WHERE unchanged), 0),
                       count(*) FILTER (WHERE reason IS NOT NULL), COALESCE(sum(amount) FILTER (WHERE reason IS NOT NULL), 0),
                       count(*) FILTER (WHERE reason IS NOT NULL AND content IS NULL)
                FROM _rp_flow2""")
            rec = self.recon[name]
            (rec.rows_read, rec.amount_read, rec.rows_new, rec.amount_new, rec.rows_unchanged, rec.amount_unchanged,
             rec.rows_rejected, rec.amount_rejected, without_content) = cursor.fetchone()
            params = {"batch": self.batch.pk, "file": name}
            cursor.execute("""
                INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
                SELECT %(batch)s, %(file)s, line_no, left(content, 500), left(reason, 300)
                FROM _rp_flow2 WHERE reason IS NOT NULL AND content IS NOT NULL""", params)
            if without_content:  # duplicates and conflicts: their lines from the staging table (one scan)
                cursor.execute("""
                    INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
                    SELECT %(batch)s, %(file)s, r.line_no, left(f.content, 500), left(r.reason, 300)
                    FROM _rp_flow2 r JOIN _rp_flow f ON f.line_no = r.line_no
                    WHERE r.reason IS NOT NULL AND r.content IS NULL""", params)
            cursor.execute("DROP TABLE _rp_flow2")
            cursor.execute("DROP TABLE _rp_flow")

    def _ids_table(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_ids")
            cursor.execute("CREATE TEMP TABLE _rp_ids (raw text PRIMARY KEY, id18 text, err text) ON COMMIT DROP")
        _copy("_rp_ids", ["raw", "id18", "err"], ((raw, v[0], v[2]) for raw, v in self.ids.items()))

    # rates --------------------------------------------------------------------------------------
    def rates(self, scan: FileScan) -> None:
        from shebao.rural_pension.models import CreditedRate

        name = scan.name
        rows = _rows(scan)
        rec = self.recon[name] = Recon(name)
        existing = dict(CreditedRate.objects.values_list("year", "rate"))
        seen: dict[int, int] = {}
        new = []
        for n, fields, content in rows:
            rec.rows_read += 1
            if fields is None:
                self.reject(name, n, content, BAD_ENCODING)
                continue
            if len(fields) != 2:
                self.reject(name, n, content, f"列数应为 2，实际 {len(fields)} 列")
                continue
            year_text, rate_text = fields
            if not re.fullmatch(r"\d{4}", year_text) or not 1980 <= int(year_text) <= 2200:
                self.reject(name, n, content, f"年度“{year_text}”无效")
                continue
            try:
                rate = to_decimal(rate_text)
            except MoneyError:
                rate = None
            if rate is None or rate != rate.quantize(Decimal("0.0001")) or not 0 <= rate < 1:
                self.reject(name, n, content, f"记账利率“{rate_text}”无效（应为 0 到 1 之间、最多 4 位小数，如 0.0250）")
                continue
            year = int(year_text)
            if year in seen:
                self.reject(name, n, content, f"重复行：与第 {seen[year]} 行是同一年度")
                continue
            seen[year] = n
            if year in existing:
                if existing[year] == rate:
                    rec.rows_unchanged += 1
                else:
                    self.reject(name, n, content, f"与现有 {year} 年度记账利率 {existing[year]} 不一致（请在记账利率表中修改并说明原因）")
                continue
            new.append(CreditedRate(year=year, rate=rate, note=f"导入批次 {self.batch.pk}", updated_by=self.user))
        CreditedRate.objects.bulk_create(new)
        rec.rows_new = len(new)
        self.created["rates"] = len(new)

    # receivers: the benefit facts the legacy payouts imply -----------------------------------------
    def receivers(self) -> None:
        """An imported 领取 account with no benefit yet takes it from its legacy 养老金 payouts: the
        first month, and the amount of the last one (any batch's account: payouts may come in a later
        file than the person)."""
        with connection.cursor() as cursor:
            cursor.execute("""
                UPDATE rural_pension_ruralaccount a
                SET benefit_start_month = p.first_month, monthly_benefit = p.last_amount
                FROM (SELECT account_id, min(month) AS first_month,
                             (array_agg(amount ORDER BY month DESC))[1] AS last_amount
                      FROM rural_pension_payout WHERE kind = 'pension' GROUP BY account_id) p
                WHERE a.id = p.account_id AND a.status = 'receiving' AND a.benefit_start_month IS NULL
                  AND a.enrollment_id IS NULL AND a.import_batch_id IS NOT NULL""")

    # run ----------------------------------------------------------------------------------------
    def _scan(self) -> dict[str, FileScan]:
        """Pass 1 over every file before anything is written: hash, encoding, header."""
        if not self.dir.is_dir():
            raise ImportFileError(f"目录 {self.dir} 不存在")
        present = {name: self.dir / name for name in FILES if (self.dir / name).is_file()}
        if not present:
            raise ImportFileError(f"目录 {self.dir} 中没有 {'、'.join(FILES)} 中的任何文件")
        scans = {}
        for name, path in present.items():
            self.progress.note(f"检查 {name}（编码、SHA-256、表头）")
            with path.open("rb") as f:
                scans[name] = scan_file(f, name, path)
            _check_header(scans[name])
        return scans

    def run(self, *, dry_run: bool) -> ImportResult:
        scans = self._scan()
        self.files = {name: scan.info() for name, scan in scans.items()}
        result = ImportResult(dry_run=dry_run, batch=None, files=self.files)
        with transaction.atomic():
            self.batch = ImportBatch.objects.create(source=str(self.dir), files=self.files, created_by=self.user)
            if "rates.csv" in scans:
                self.rates(scans["rates.csv"])
            if "persons.csv" in scans:
                self.progress.note("检查并暂存 persons.csv")
                self.persons(scans["persons.csv"])
            self._ids_table()
            for name in ("contributions.csv", "payouts.csv"):
                if name in scans:
                    self.progress.note(f"暂存并校验 {name}")
                    self.flows(scans[name])
            self.receivers()
            self.progress.note("领取人员纳入老农保月度发放（NB）")
            self.receivers_result = legacy_receivers_enrol(user=self.user, batch=self.batch)
            self.created["enrollments"] = self.receivers_result.enrolled
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS _rp_person")
                cursor.execute("DROP TABLE IF EXISTS _rp_ids")
            # the rejections found in Python (rates); those of persons and flows were inserted in SQL
            self._flush_rejected()
            recon = [self.recon[name] for name in FILES if name in self.recon]
            ImportReconciliation.objects.bulk_create([ImportReconciliation(batch=self.batch, **r.__dict__) for r in recon])
            if any(r.rows_new for r in recon):
                self.progress.note("重算年账户明细")
                from shebao.rural_pension.services import rural_years_recompute

                rural_years_recompute()
            rejections = self.batch.rejections.order_by("file", "line_no")
            result.rejected_count = rejections.count()
            result.rejected = [Rejected(r.file, r.line_no, r.content, r.reason) for r in rejections[: self.keep_rejected]]
            if self.rejected_file is not None:
                self._write_rejected(rejections)
            result.reconciliation = recon
            result.created = dict(self.created)
            result.receivers = self.receivers_result
            summary = {"created": self.created, "rejected": result.rejected_count,
                       "person_ids": list(self.person_ids) if self.person_ids else None,
                       "receivers_skipped": self.receivers_result.skipped}
            ImportBatch.objects.filter(pk=self.batch.pk).update(summary=summary, files=self.files)
            self.batch.refresh_from_db()
            result.batch = self.batch
            audit_record(
                user=self.user, action="rural_import", obj=self.batch,
                summary=(f"老农保导入 {self.dir.name}：" + "，".join(f"{k} {v:,}" for k, v in self.created.items())
                         + f"，拒绝 {result.rejected_count:,} 行"),
                after={"files": self.files, "created": self.created, "rejected": result.rejected_count,
                       "person_ids": summary["person_ids"],
                       "reconciliation": [{k: str(v) if isinstance(v, Decimal) else v for k, v in r.__dict__.items()}
                                          for r in recon]})
            if dry_run:
                transaction.set_rollback(True)
                result.batch = None
        return result

    def _write_rejected(self, rejections) -> None:
        """All the rejected rows as CSV (UTF-8 with BOM), read from the batch in chunks: written to a
        .part file renamed when complete."""
        part = self.rejected_file.with_name(self.rejected_file.name + ".part")
        with part.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(REJECTED_HEADER)
            for file, line_no, reason, content in rejections.values_list(
                    "file", "line_no", "reason", "content").iterator(chunk_size=5000):
                # the one writer's text rule: a rejected line that starts like a formula is neutralised
                writer.writerow([file, line_no, csv_text(reason), csv_text(content)])
        part.replace(self.rejected_file)


# --------------------------------------------------------------------------------------------------
# legacy receivers → scheme NB


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
                           reason: str = "") -> ReceiversEnrolment:
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
        for k in range(0, len(wanted), ENROL_CHUNK):  # in chunks: the ORM objects of one chunk at a time
            part = wanted[k:k + ENROL_CHUNK]
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


def rural_import(*, directory: str | Path, user, dry_run: bool = False, progress: Progress | None = None,
                 keep_rejected: int = MAX_SHOWN_DEFAULT, rejected_file: str | Path | None = None) -> ImportResult:
    """Import a directory of legacy files (module docstring). ``user`` is required to commit; a dry run
    validates and reconciles exactly as a commit would, then rolls everything back. ``rejected_file``:
    write every rejected row there as CSV (streamed; ``keep_rejected`` bounds only ``result.rejected``)."""
    if user is None and not dry_run:
        raise ImportFileError("导入须指定经办人（--as）；只检查请加 --dry-run")
    if user is None:
        from shebao.accounts.models import User

        user = User.objects.filter(is_superuser=True).order_by("pk").first() or User.objects.order_by("pk").first()
        if user is None:
            raise ImportFileError("系统中还没有用户，试运行也需要一个经办人（--as）")
    importer = _Importer(directory=Path(directory), user=user, progress=progress or NullProgress(),
                         keep_rejected=keep_rejected, rejected_file=Path(rejected_file) if rejected_file else None)
    return importer.run(dry_run=dry_run)


REJECTED_HEADER = ["文件", "行号", "原因", "内容"]


def rejected_csv(rows: list[Rejected]) -> bytes:
    """The rejected rows as a CSV (UTF-8 with BOM, so Excel opens it): 文件, 行号, 原因, 内容 — by the one
    writer's text rule (``shebao.common.sheets``: a line that starts like a formula is neutralised)."""
    buf = io.BytesIO()
    write_csv(buf, headers=REJECTED_HEADER, rows=([r.file, r.line_no, r.reason, r.content] for r in rows))
    return buf.getvalue()
