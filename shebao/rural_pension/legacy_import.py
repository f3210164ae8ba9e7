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

Set-based: the files are split in Python (the fastest part to write there), COPY'd into temporary
staging tables, validated in SQL (formats, kinds, months, amounts, duplicates with window functions,
unknown persons, conflicts with stored rows) and loaded with INSERT … SELECT. Persons (≈75,000) are
validated in Python with the registry's own identity rules (15→18 upgrade keeping the original; sex
and birth date against the number), then created in one INSERT … SELECT.

Audit of the bulk load: ONE audit event per committed batch (action ``rural_import``) holding the
files' SHA-256, the reconciliation and the counts created (persons, accounts, bank accounts,
contributions, payouts, rates). Every row created carries the batch (``import_batch``; accounts also
``person_created_by_import``), so each record traces back to that one event, and the event back to the
exact bytes imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import connection, transaction
from stdnum import luhn

from shebao.common.audit import audit_record
from shebao.common.identity import IdNumberError, check_consistent, parse_id_number
from shebao.common.jobs import NullProgress, Progress
from shebao.registry.models import Bank, Region
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

    @property
    def changed(self) -> bool:
        return any(self.created.values())


# --------------------------------------------------------------------------------------------------
# reading


def decode_lines(data: bytes) -> tuple[str, list[tuple[int, str | None, bytes]]]:
    """Detect the encoding and split into (line_no, text or None when undecodable, raw bytes).
    UTF-8 (BOM or not) when the whole file decodes, or when most non-ASCII lines do; else GB18030.
    Lines that do not decode are None (each becomes a rejected row, never silently dropped)."""
    encoding = "UTF-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = "UTF-8 (BOM)"
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    raw_lines = [r[:-1] if r.endswith(b"\r") else r for r in raw_lines]
    try:
        text = data.decode("utf-8")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return encoding, [(n, t.removesuffix("\r"), b"") for n, t in enumerate(lines, start=1)]
    except UnicodeDecodeError:
        pass
    # GB18030 decodes almost any bytes (UTF-8 Chinese included), UTF-8 rejects most GB18030 text: so
    # the file is UTF-8 when most of its non-ASCII lines are valid UTF-8
    utf8_ok = utf8_bad = 0
    for raw in raw_lines[:20_000]:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8_ok += 1
        except UnicodeDecodeError:
            utf8_bad += 1
    codec = "utf-8" if utf8_ok > utf8_bad else "gb18030"
    encoding = "UTF-8" if codec == "utf-8" else "GB18030"
    out: list[tuple[int, str | None, bytes]] = []
    for n, raw in enumerate(raw_lines, start=1):
        try:
            out.append((n, raw.decode(codec), b""))
        except UnicodeDecodeError:
            out.append((n, None, raw))
    return encoding, out


def split_fields(line: str) -> list[str]:
    if '"' in line:
        return [f.strip() for f in next(csv.reader([line]))]
    return [f.strip() for f in line.split(",")]


def _header_ok(fields: list[str], expected: list[str]) -> bool:
    return [f.strip().lstrip("\ufeff") for f in fields] == expected


def _rows(name: str, data: bytes):
    """(encoding, iterator of (line_no, fields or None, content)) after checking the header."""
    encoding, lines = decode_lines(data)
    body = [(n, t, raw) for n, t, raw in lines if t is None or t.strip()]
    if not body:
        raise ImportFileError(f"{name} 是空文件（至少应有表头行）")
    n0, header, _ = body[0]
    if header is None or not _header_ok(split_fields(header), FILES[name]):
        raise ImportFileError(
            f"{name} 第 {n0} 行表头应为“{','.join(FILES[name])}”，实际为“{header if header is not None else '无法解码'}”；"
            f"文件未导入")

    def rows():
        for n, text, raw in body[1:]:
            if text is None:
                yield n, None, raw.hex(" ")[:200]
            else:
                yield n, split_fields(text), text
    return encoding, rows()


def parse_date(value: str) -> dt.date | None:
    value = (value or "").strip()
    m = re.fullmatch(r"(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})", value)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def bank_code(text: str) -> str:
    text = (text or "").strip()
    if text.upper() in Bank.values:
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
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


class _Importer:
    def __init__(self, *, directory: Path, user, progress: Progress, keep_rejected: int) -> None:
        self.dir = directory
        self.user = user
        self.progress = progress
        self.keep_rejected = keep_rejected
        self.result: ImportResult | None = None
        self.rejected: list[Rejected] = []
        self.recon: dict[str, Recon] = {}
        self.created: dict[str, int] = {}
        self.ids: dict[str, tuple[str, str, str]] = {}  # raw → (18-digit number, original 15, error)
        self.parsed: dict[str, object] = {}  # 18-digit number → IdNumber (persons.csv)
        self.initials: dict[str, str] = {}  # name → pinyin initials (names repeat: pypinyin is the slow part)

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

    # persons ------------------------------------------------------------------------------------
    def persons(self, data: bytes) -> None:
        name = "persons.csv"
        encoding, rows = _rows(name, data)
        self.files[name]["encoding"] = encoding
        rec = self.recon[name] = Recon(name)
        towns = {r.name: r.pk for r in Region.objects.filter(level=Region.Level.TOWN)}
        communities = {(r.parent_id, r.name): r.pk for r in Region.objects.filter(level=Region.Level.COMMUNITY)}
        seen: dict[str, int] = {}
        good = []
        today = dt.date.today()
        for n, fields, content in rows:
            rec.rows_read += 1
            if fields is None:
                self.reject(name, n, content, "编码错误：该行不是有效的 UTF-8 / GB18030 文本")
                continue
            if len(fields) != 10:
                self.reject(name, n, content, f"列数应为 10，实际 {len(fields)} 列")
                continue
            raw_id, pname, sex, birth, town, village, enrolled, status, bank, account_no = fields
            number, original, error = self._id(raw_id)
            if error:
                self.reject(name, n, content, error)
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
            if problems:
                self.reject(name, n, content, "；".join(problems))
                continue
            seen[number] = n
            account_no = re.sub(r"[\s-]", "", account_no)
            code = bank_code(bank)
            initials = self.initials.get(pname)
            if initials is None:
                initials = self.initials[pname] = name_initials(pname)
            good.append((n, content, number, original, pname, initials, idn.sex, idn.birth_date, town_id,
                         community_id, enrolled_on, status_code, bank[:50], account_no[:40], code,
                         bool(account_no) and not (account_no.isdigit() and luhn.is_valid(account_no))))
        self.progress.note(f"persons.csv：{rec.rows_read:,} 行已检查")
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_person")
            cursor.execute("""
                CREATE TEMP TABLE _rp_person (line_no int, content text, id_number text, original text, name text,
                    initials text, sex text, birth date, town_id bigint, community_id bigint, enrolled_on date,
                    status text, bank_text text, account_no text, bank_code text, luhn_warning boolean)
                ON COMMIT DROP""")
        _copy("_rp_person", ["line_no", "content", "id_number", "original", "name", "initials", "sex", "birth",
                             "town_id", "community_id", "enrolled_on", "status", "bank_text", "account_no",
                             "bank_code", "luhn_warning"], good)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE _rp_person")
            # conflicts with what is stored: another name for the same number; an account with other facts
            cursor.execute("""
                SELECT s.line_no, s.content,
                       CASE WHEN p.name <> s.name THEN '姓名与已登记人员“' || p.name || '”不一致'
                            ELSE '老农保账户已存在且信息不同（' || concat_ws('、',
                                 CASE WHEN a.town_id <> s.town_id THEN '镇街道' END,
                                 CASE WHEN a.community_id IS DISTINCT FROM s.community_id THEN '村' END,
                                 CASE WHEN a.enrolled_on <> s.enrolled_on THEN '参保日期' END,
                                 CASE WHEN a.status <> s.status THEN '状态' END,
                                 CASE WHEN a.legacy_bank <> s.bank_text THEN '开户银行' END,
                                 CASE WHEN a.legacy_account_number <> s.account_no THEN '银行账号' END)
                                 || '），请通过信息修改处理' END
                FROM _rp_person s
                JOIN registry_person p ON p.id_number = s.id_number
                LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id
                WHERE p.name <> s.name
                   OR (a.id IS NOT NULL AND (a.town_id <> s.town_id OR a.community_id IS DISTINCT FROM s.community_id
                       OR a.enrolled_on <> s.enrolled_on OR a.status <> s.status OR a.legacy_bank <> s.bank_text
                       OR a.legacy_account_number <> s.account_no))
                ORDER BY s.line_no""")
            conflicts = cursor.fetchall()
            for n, content, reason in conflicts:
                self.reject(name, n, content, reason)
            if conflicts:
                cursor.execute("DELETE FROM _rp_person WHERE line_no = ANY(%s)", [[c[0] for c in conflicts]])
            cursor.execute("""
                SELECT count(*) FILTER (WHERE a.id IS NOT NULL), count(*) FILTER (WHERE a.id IS NULL)
                FROM _rp_person s LEFT JOIN registry_person p ON p.id_number = s.id_number
                LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id""")
            unchanged, new = cursor.fetchone()
            rec.rows_unchanged, rec.rows_new = unchanged, new
            cursor.execute("""
                INSERT INTO registry_person (id_number, id_number_original, name, name_initials, sex, birth_date,
                    town_id, community_id, hukou_address, residence_address, mobile, phone, notes, created_at,
                    updated_at)
                SELECT s.id_number, s.original, s.name, s.initials, s.sex, s.birth, s.town_id, s.community_id,
                       '', '', '', '', '', now(), now()
                FROM _rp_person s
                WHERE NOT EXISTS (SELECT 1 FROM registry_person p WHERE p.id_number = s.id_number)
                ORDER BY s.line_no
                RETURNING id""")
            created_persons = [r[0] for r in cursor.fetchall()]
            self.created["persons"] = len(created_persons)
            self.person_ids = (min(created_persons), max(created_persons)) if created_persons else None
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
                       %(batch)s, p.id = ANY(%(created)s), '', now(), now()
                FROM _rp_person s JOIN registry_person p ON p.id_number = s.id_number
                WHERE NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)""",
                           {"batch": self.batch.pk, "created": created_persons})
            self.created["accounts"] = cursor.rowcount

    # flows --------------------------------------------------------------------------------------
    def flows(self, name: str, data: bytes) -> None:
        kinds = CONTRIBUTION_KINDS if name == "contributions.csv" else PAYOUT_KINDS
        table = "rural_pension_contribution" if name == "contributions.csv" else "rural_pension_payout"
        encoding, rows = _rows(name, data)
        self.files[name]["encoding"] = encoding
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
                yield (n, False, len(fields), raw_id, padded[1], padded[2], padded[3], content)

        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_flow")
            cursor.execute("""
                CREATE TEMP TABLE _rp_flow (line_no int, bad boolean, nf int, id_raw text, ym text, kind text,
                    amount_text text, content text) ON COMMIT DROP""")
        _copy("_rp_flow", ["line_no", "bad", "nf", "id_raw", "ym", "kind", "amount_text", "content"], staged())
        self._ids_table()
        kind_case = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in kinds.items())
        kind_names = "、".join(kinds)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("ANALYZE _rp_flow")
            cursor.execute("DROP TABLE IF EXISTS _rp_flow2")
            cursor.execute(f"""
                CREATE TEMP TABLE _rp_flow2 ON COMMIT DROP AS
                WITH base AS (
                    SELECT f.line_no, f.bad, f.nf, f.ym, f.kind, f.amount_text, f.content, i.id18, i.err AS id_err,
                           CASE WHEN f.ym ~ '^[0-9]{{6}}$' AND substr(f.ym, 5, 2) BETWEEN '01' AND '12'
                                     AND substr(f.ym, 1, 4) BETWEEN '1950' AND '2100'
                                THEN to_date(f.ym || '01', 'YYYYMMDD') END AS month,
                           CASE f.kind {kind_case} END AS kind_code,
                           CASE WHEN f.amount_text ~ %(amount_re)s THEN f.amount_text::numeric(16, 2) END AS amount,
                           a.id AS account_id
                    FROM _rp_flow f
                    LEFT JOIN _rp_ids i ON i.raw = f.id_raw
                    LEFT JOIN registry_person p ON p.id_number = i.id18
                    LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id
                ), r1 AS (
                    SELECT b.*, CASE
                        WHEN b.bad THEN '编码错误：该行不是有效的 UTF-8 / GB18030 文本'
                        WHEN b.nf <> 4 THEN '列数应为 4，实际 ' || b.nf || ' 列'
                        WHEN b.id_err <> '' THEN b.id_err
                        WHEN b.month IS NULL THEN '年月“' || b.ym || '”无效（应为 YYYYMM，月份 01–12）'
                        WHEN b.kind_code IS NULL THEN '未知类别“' || b.kind || '”（应为 {kind_names}）'
                        WHEN b.amount IS NULL THEN '金额“' || b.amount_text || '”无效（应为最多两位小数的数字）'
                        WHEN b.amount <= 0 THEN '金额 ' || b.amount || ' 必须大于 0'
                        WHEN b.account_id IS NULL THEN '人员 ' || b.id18 || ' 没有老农保账户（不在 persons.csv 中，也未曾导入）'
                    END AS reason
                    FROM base b
                ), r2 AS (
                    SELECT r1.*,
                           min(line_no) OVER w AS first_line,
                           row_number() OVER w AS rn
                    FROM r1
                    WINDOW w AS (PARTITION BY (reason IS NULL), account_id, month, kind_code ORDER BY line_no)
                )
                SELECT r2.line_no, r2.content, r2.account_id, r2.month, r2.kind_code, r2.amount,
                       COALESCE(r2.reason,
                                CASE WHEN r2.rn > 1 THEN '重复行：与第 ' || r2.first_line || ' 行是同一人、同一年月、同一类别' END,
                                CASE WHEN e.amount IS NOT NULL AND e.amount <> r2.amount
                                     THEN '与已导入的记录不一致（已有金额 ' || e.amount || '）' END) AS reason,
                       (r2.reason IS NULL AND r2.rn = 1 AND COALESCE(e.amount = r2.amount, false)) AS unchanged
                FROM r2
                LEFT JOIN {table} e ON r2.reason IS NULL AND e.account_id = r2.account_id
                     AND e.month = r2.month AND e.kind = r2.kind_code
            """, {"amount_re": AMOUNT_RE})
            cursor.execute(f"""
                INSERT INTO {table} (account_id, month, kind, amount, import_batch_id{', document_id, payroll_line_id' if table.endswith('payout') else ''})
                SELECT account_id, month, kind_code, amount, %(batch)s{', NULL, NULL' if table.endswith('payout') else ''}
                FROM _rp_flow2 WHERE reason IS NULL AND NOT unchanged""", {"batch": self.batch.pk})
            self.created[table.removeprefix("rural_pension_") + "s"] = cursor.rowcount
            cursor.execute("""
                SELECT count(*), COALESCE(sum(amount), 0),
                       count(*) FILTER (WHERE reason IS NULL AND NOT unchanged),
                       COALESCE(sum(amount) FILTER (WHERE reason IS NULL AND NOT unchanged), 0),
                       count(*) FILTER (WHERE unchanged), COALESCE(sum(amount) FILTER (WHERE unchanged), 0),
                       count(*) FILTER (WHERE reason IS NOT NULL), COALESCE(sum(amount) FILTER (WHERE reason IS NOT NULL), 0)
                FROM _rp_flow2""")
            rec = self.recon[name]
            (rec.rows_read, rec.amount_read, rec.rows_new, rec.amount_new, rec.rows_unchanged, rec.amount_unchanged,
             rec.rows_rejected, rec.amount_rejected) = cursor.fetchone()
            cursor.execute("""
                INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
                SELECT %(batch)s, %(file)s, line_no, left(content, 500), left(reason, 300)
                FROM _rp_flow2 WHERE reason IS NOT NULL""", {"batch": self.batch.pk, "file": name})
            cursor.execute("DROP TABLE _rp_flow2")
            cursor.execute("DROP TABLE _rp_flow")

    def _ids_table(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_ids")
            cursor.execute("CREATE TEMP TABLE _rp_ids (raw text PRIMARY KEY, id18 text, err text) ON COMMIT DROP")
        _copy("_rp_ids", ["raw", "id18", "err"], ((raw, v[0], v[2]) for raw, v in self.ids.items()))

    # rates --------------------------------------------------------------------------------------
    def rates(self, data: bytes) -> None:
        from shebao.rural_pension.models import CreditedRate

        name = "rates.csv"
        encoding, rows = _rows(name, data)
        self.files[name]["encoding"] = encoding
        rec = self.recon[name] = Recon(name)
        existing = dict(CreditedRate.objects.values_list("year", "rate"))
        seen: dict[int, int] = {}
        new = []
        for n, fields, content in rows:
            rec.rows_read += 1
            if fields is None:
                self.reject(name, n, content, "编码错误：该行不是有效的 UTF-8 / GB18030 文本")
                continue
            if len(fields) != 2:
                self.reject(name, n, content, f"列数应为 2，实际 {len(fields)} 列")
                continue
            year_text, rate_text = fields
            if not re.fullmatch(r"\d{4}", year_text) or not 1980 <= int(year_text) <= 2200:
                self.reject(name, n, content, f"年度“{year_text}”无效")
                continue
            try:
                rate = Decimal(rate_text)
            except InvalidOperation:
                rate = None
            if rate is None or not rate.is_finite() or rate != rate.quantize(Decimal("0.0001")) or not 0 <= rate < 1:
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
        with connection.cursor() as cursor:
            cursor.execute("""
                UPDATE rural_pension_ruralaccount a
                SET benefit_start_month = p.first_month, monthly_benefit = p.last_amount
                FROM (SELECT account_id, min(month) AS first_month,
                             (array_agg(amount ORDER BY month DESC))[1] AS last_amount
                      FROM rural_pension_payout WHERE kind = 'pension' GROUP BY account_id) p
                WHERE a.id = p.account_id AND a.status = 'receiving' AND a.benefit_start_month IS NULL
                  AND a.import_batch_id = %s""", [self.batch.pk])

    # run ----------------------------------------------------------------------------------------
    def run(self, *, dry_run: bool) -> ImportResult:
        if not self.dir.is_dir():
            raise ImportFileError(f"目录 {self.dir} 不存在")
        present = {name: self.dir / name for name in FILES if (self.dir / name).is_file()}
        if not present:
            raise ImportFileError(f"目录 {self.dir} 中没有 {'、'.join(FILES)} 中的任何文件")
        datas = {name: path.read_bytes() for name, path in present.items()}
        self.files = {name: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for name, d in datas.items()}
        result = ImportResult(dry_run=dry_run, batch=None, files=self.files)
        with transaction.atomic():
            self.batch = ImportBatch.objects.create(source=str(self.dir), files=self.files, created_by=self.user)
            if "rates.csv" in datas:
                self.rates(datas["rates.csv"])
            if "persons.csv" in datas:
                self.progress.note("检查 persons.csv")
                self.persons(datas["persons.csv"])
            self._ids_table()
            for name in ("contributions.csv", "payouts.csv"):
                if name in datas:
                    self.progress.note(f"暂存并校验 {name}")
                    self.flows(name, datas.pop(name))
            self.receivers()
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS _rp_person")
                cursor.execute("DROP TABLE IF EXISTS _rp_ids")
            from shebao.rural_pension.models import ImportRejection

            # the rejections found in Python (persons, rates); those of the flows were inserted in SQL
            ImportRejection.objects.bulk_create(
                [ImportRejection(batch=self.batch, file=r.file, line_no=r.line_no, content=r.content, reason=r.reason)
                 for r in self.rejected], batch_size=5000)
            recon = [self.recon[name] for name in FILES if name in self.recon]
            ImportReconciliation.objects.bulk_create([ImportReconciliation(batch=self.batch, **r.__dict__) for r in recon])
            if any(r.rows_new for r in recon):
                self.progress.note("重算年账户明细")
                from shebao.rural_pension.services import rural_years_recompute

                rural_years_recompute()
            rejections = self.batch.rejections.order_by("file", "line_no")
            result.rejected_count = rejections.count()
            result.rejected = [Rejected(r.file, r.line_no, r.content, r.reason) for r in rejections[: self.keep_rejected]]
            result.reconciliation = recon
            result.created = dict(self.created)
            summary = {"created": self.created, "rejected": result.rejected_count,
                       "person_ids": list(self.person_ids) if getattr(self, "person_ids", None) else None}
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


def rural_import(*, directory: str | Path, user, dry_run: bool = False, progress: Progress | None = None,
                 keep_rejected: int = MAX_SHOWN_DEFAULT) -> ImportResult:
    """Import a directory of legacy files (module docstring). ``user`` is required to commit; a dry run
    validates and reconciles exactly as a commit would, then rolls everything back."""
    if user is None and not dry_run:
        raise ImportFileError("导入须指定经办人（--as）；只检查请加 --dry-run")
    if user is None:
        from shebao.accounts.models import User

        user = User.objects.filter(is_superuser=True).order_by("pk").first() or User.objects.order_by("pk").first()
        if user is None:
            raise ImportFileError("系统中还没有用户，试运行也需要一个经办人（--as）")
    importer = _Importer(directory=Path(directory), user=user, progress=progress or NullProgress(),
                         keep_rejected=keep_rejected)
    return importer.run(dry_run=dry_run)


def rejected_csv(rows: list[Rejected]) -> bytes:
    """The rejected rows as a CSV (UTF-8 with BOM, so Excel opens it): 文件, 行号, 原因, 内容."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["文件", "行号", "原因", "内容"])
    for r in rows:
        writer.writerow([r.file, r.line_no, r.reason, r.content])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
