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

Where it lives: this module reads the files (streamed, below) and runs the import (``rural_import``);
``legacy_checks`` holds the files' format and the checks of their rows; ``legacy_load`` stages and
commits (the persons and their bank accounts through the registry's set-based services,
``persons_bulk_insert_from`` and ``bank_accounts_bulk_open_from``); ``legacy_receivers`` enrols the
receivers in NB. Their public names are imported from here too.

Streamed and set-based: no file is ever held whole (see "reading" below: two passes in 1 MiB chunks,
memory independent of the file's size). The lines are split in Python as they are read and COPY'd into
temporary staging tables, validated in SQL (formats, kinds, months, amounts, duplicates with window
functions, unknown persons, conflicts with stored rows) and loaded with INSERT … SELECT. Persons
(≈75,000) are validated in Python with the registry's own identity rules (15→18 upgrade keeping the
original; sex and birth date against the number) while they are staged, then created by the registry's
service in one INSERT … SELECT from the staging table.

Receivers: a 领取 account takes its benefit from its legacy 养老金 payouts and is enrolled in scheme NB
from the month after its last one (``legacy_receivers_enrol``), so the NB monthly payroll pays it and
never a month the legacy system paid.

Audit of the bulk load: ONE audit event per committed batch (action ``rural_import``; the registry's
services add one summary event each for the persons and the bank accounts they created) holding the
files' SHA-256, the reconciliation and the counts created (persons, accounts, bank accounts,
contributions, payouts, rates, NB enrollments). Every row created carries the batch (``import_batch``; accounts also
``person_created_by_import``), so each record traces back to that one event, and the event back to the
exact bytes imported.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from django.db import connection, transaction

from shebao.common.audit import audit_record
from shebao.common.jobs import NullProgress, Progress
from shebao.common.sheets import csv_text, write_csv
from shebao.rural_pension.legacy_checks import (  # noqa: F401 - the format's names, imported from here too
    AMOUNT_RE,
    BAD_ENCODING,
    BANK_WORDS,
    CONTRIBUTION_KINDS,
    FILES,
    PAYOUT_KINDS,
    STATUSES,
    ImportFileError,
    Recon,
    Rejected,
    RowChecks,
    bank_code,
    flow_check_sql,
    parse_date,
)
from shebao.rural_pension.legacy_load import Staging
from shebao.rural_pension.legacy_receivers import (  # noqa: F401 - imported from here too
    ENROL_CHUNK,
    SKIP_LABELS,
    ReceiversEnrolment,
    legacy_receivers_enrol,
)
from shebao.rural_pension.models import ImportBatch, ImportReconciliation

MAX_SHOWN_DEFAULT = 200
REJECT_FLUSH = 5000


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



# --------------------------------------------------------------------------------------------------
# the run: the files scanned, then each step (checks: legacy_checks; staging and loading: legacy_load)
# in ONE transaction


class _Importer(RowChecks, Staging):
    """One run of the import: the row checks (``RowChecks``) and the staging and loading steps
    (``Staging``) over the state kept here."""

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
                self.rates("rates.csv", _rows(scans["rates.csv"]))
            if "persons.csv" in scans:
                self.progress.note("检查并暂存 persons.csv")
                self.persons("persons.csv", _rows(scans["persons.csv"]))
            self._ids_table()
            for name in ("contributions.csv", "payouts.csv"):
                if name in scans:
                    self.progress.note(f"暂存并校验 {name}")
                    self.flows(name, _rows(scans[name]))
            self.receivers()
            self.progress.note("领取人员纳入老农保月度发放（NB）")
            self.receivers_result = legacy_receivers_enrol(user=self.user, batch=self.batch, chunk=ENROL_CHUNK)
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
