"""The legacy 老农保 files' format and the checks of their rows (``legacy_import`` reads the files,
``legacy_load`` stages and commits what passes).

- the four files and their headers (``FILES``), the words the legacy system writes for kinds, statuses
  and banks;
- persons.csv: each row checked in Python by the registry's identity rules as it is staged
  (``RowChecks._person_rows``); rates.csv: in Python too (``RowChecks.rates``);
- contributions.csv / payouts.csv: checked in SQL over the staged rows (``flow_check_sql``);
- the report: each rejected row (``Rejected``) and each file's reconciliation (``Recon``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from stdnum import luhn

from shebao.common.identity import (
    IdNumberError,
    account_number_error,
    check_consistent,
    name_error,
    normalize_account_number,
    parse_id_number,
)
from shebao.common.money import MoneyError, to_decimal
from shebao.common.sqlfiles import sql_parts
from shebao.registry.models import Bank
from shebao.registry.selectors import bank_labels
from shebao.registry.services import name_initials
from shebao.rural_pension.models import PayoutKind

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
BAD_ENCODING = "编码错误：该行不是有效的 UTF-8 / GB18030 文本，或含有空字符（NUL）"
LEGACY_SQL = sql_parts("shebao.rural_pension", "legacy_import.sql")  # the staging statements, with their notes


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


def flow_check_sql(name: str) -> list[tuple[str, dict | None]]:
    """The statements (with their parameters) that validate the staged rows of contributions.csv or
    payouts.csv (``_rp_flow``, with ``_rp_ids``) into ``_rp_flow2`` (line_no, account_id, month,
    kind_code, amount, reason, unchanged, content): each row's rejection reason (NULL when good), whether
    it is already stored with the same amount, and the line's content for a row rejected by its own values
    (a duplicate or a conflict with a stored row takes it from ``_rp_flow``). The statements and their
    planner notes are in ``sql/legacy_import.sql`` (parts flows_check and flows_dedupe)."""
    kinds = CONTRIBUTION_KINDS if name == "contributions.csv" else PAYOUT_KINDS
    payouts = name != "contributions.csv"
    table = "rural_pension_payout" if payouts else "rural_pension_contribution"
    params = {"bad_encoding": BAD_ENCODING, "kind_labels": list(kinds), "kind_codes": list(kinds.values()),
              "kind_list": "、".join(kinds), "amount_re": AMOUNT_RE, "pension": PayoutKind.PENSION.value}
    # a pension month the NB payroll pays (from the linked enrollment's start) is not the legacy system's
    nb_start = "e.start_month" if payouts else "NULL::date"
    nb_join = "LEFT JOIN benefits_enrollment e ON e.id = a.enrollment_id" if payouts else ""
    return [(LEGACY_SQL["flows_check"].format(nb_start=nb_start, nb_join=nb_join), params),
            ("ANALYZE _rp_chk", None),
            (LEGACY_SQL["flows_dedupe"].format(table=table), None),
            ("DROP TABLE _rp_chk", None)]


class RowChecks:
    """The checks of persons.csv and rates.csv rows, mixed into the importer (``legacy_import``), which
    holds ``ids``, ``parsed``, ``initials``, ``bank_codes``, ``bank_rules``, ``progress``, ``recon``,
    ``created``, ``batch``, ``user`` and ``reject``."""

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

    def _person_rows(self, name: str, rows, towns: dict, communities: dict):
        """Every row of persons.csv checked by the registry's identity rules: (line, content, reason or
        None, the parsed columns when good) — streamed into the staging table, the rejected ones too.
        It runs inside the COPY: no database query here (the connection is busy)."""
        seen: dict[str, int] = {}
        today = dt.date.today()
        bad = (None,) * 14
        count = 0
        for n, fields, content in rows:
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

    # rates --------------------------------------------------------------------------------------
    def rates(self, name: str, rows) -> None:
        """rates.csv: each row checked in Python (few rows), the new rates created in bulk."""
        from shebao.rural_pension.models import CreditedRate

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

