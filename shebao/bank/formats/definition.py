"""A template definition made a ``Template``'s base: the known field names, the errors, the records
a file holds (``PaymentLine``, ``ReturnRecord``, ``ParsedFile``), a field and a layout, the checks of
a definition (``_definition_errors``) and the construction (``TemplateDefinition``). Split from the
engine by concern; ``shebao.bank.formats`` keeps the public names."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

FORMATS = ("delimited", "fixed", "xlsx")
LINE_ENDINGS = {"CRLF": b"\r\n", "LF": b"\n"}
UNITS = ("yuan", "fen")

# Every field name the engine knows, with its kind and the Chinese label used in messages.
KINDS: dict[str, str] = {
    "batch_no": "text", "date": "date",
    "count": "int", "ok_count": "int", "failed_count": "int",
    "total": "amount", "ok_total": "amount", "failed_total": "amount",
    "seq": "int", "account_no": "text", "holder_name": "text", "amount": "amount",
    "id_number": "text", "memo": "text", "name": "text", "bank": "text", "branch": "text",
    "processed_amount": "amount", "status": "text", "reason": "text",
}
LABELS: dict[str, str] = {
    "batch_no": "批次号", "date": "日期", "count": "笔数", "ok_count": "成功笔数", "failed_count": "失败笔数",
    "total": "总金额", "ok_total": "成功金额", "failed_total": "失败金额", "seq": "序号",
    "account_no": "账号", "holder_name": "户名", "amount": "金额", "id_number": "证件号码", "memo": "备注",
    "name": "姓名", "bank": "银行", "branch": "网点", "processed_amount": "实处理金额",
    "status": "处理标志", "reason": "原因",
}
SUMMARY_NAMES = {"batch_no", "date", "count", "total", "ok_count", "ok_total", "failed_count", "failed_total"}
PAYMENT_DETAIL_NAMES = {"seq", "account_no", "holder_name", "amount", "id_number", "memo", "name", "bank", "branch"}
RETURN_DETAIL_NAMES = PAYMENT_DETAIL_NAMES | {"processed_amount", "status", "reason"}
PAYMENT_SUMMARY_NAMES = {"batch_no", "date", "count", "total"}

MAX_LISTED_ERRORS = 20
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # never in a text field of a bank file (\x05, \x18 got through); a tab may be
_INT_RE = re.compile(r"^[0-9]+$")
_YUAN_RE = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
_FEN_RE = re.compile(r"^-?[0-9]+$")
# whole columns checked in one call (values joined by newlines): the fast paths below
_INT_COLUMN = re.compile(r"(?:[0-9]+\n)*")
_YUAN_COLUMN = re.compile(r"(?:-?[0-9]+(?:\.[0-9]{1,2})?\n)*")
_FEN_COLUMN = re.compile(r"(?:-?[0-9]+\n)*")


def _bank_limits():
    from shebao.common.safefile import Limits, MiB

    # a return of 800,000 lines is about 80 MB of text or 60 MB of sheet XML
    return Limits(max_bytes=256 * MiB, max_members=100, max_unzipped=512 * MiB, max_rows=1_048_576)


BANK_FILE_LIMITS = _bank_limits()


class _Fallback(Exception):
    """The fast path met something unusual: the generic path renders or reads it (and names any error)."""


class TemplateError(ValueError):
    """The template definition itself is wrong (a configuration error, Chinese message)."""


class BankFileError(ValueError):
    """A file is refused (or cannot be produced). ``errors`` holds (line number or None, reason);
    ``str()`` is the whole Chinese message naming each line and reason."""

    def __init__(self, errors: Sequence[tuple[int | None, str]], title: str = "文件被拒绝"):
        self.errors = sorted(errors, key=lambda e: (e[0] is not None, e[0] or 0))
        self.title = title
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [f"第{n}行：{r}" if n is not None else r for n, r in self.errors[:MAX_LISTED_ERRORS]]
        more = len(self.errors) - MAX_LISTED_ERRORS
        if more > 0:
            parts.append(f"……另有 {more} 处错误")
        return f"{self.title}（{len(self.errors)} 处错误）：" + "；".join(parts)


@dataclass(slots=True)
class PaymentLine:
    """One payment in a file. ``amount`` is Decimal yuan with two places."""

    seq: int
    account_no: str
    holder_name: str
    amount: Decimal
    id_number: str = ""
    memo: str = ""
    name: str = ""
    bank: str = ""
    branch: str = ""
    line_no: int = 0  # where it was read from (parsing only)


@dataclass(slots=True)
class ReturnRecord:
    """One line of a return file: the bank's outcome for one payment."""

    seq: int
    account_no: str
    holder_name: str
    amount: Decimal
    processed_amount: Decimal
    ok: bool
    reason: str = ""
    status: str = ""  # the raw status code as the bank wrote it
    line_no: int = 0


@dataclass
class ParsedFile:
    """A parsed file: the summary values (header and trailer merged) and the detail records."""

    batch_no: str
    summary: dict
    lines: list  # PaymentLine or ReturnRecord

    @property
    def count(self) -> int:
        return len(self.lines)

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), ZERO)


@dataclass(frozen=True)
class Field:
    name: str  # "" for a literal (record type, label cell, filler)
    value: str | None  # the literal's text
    kind: str  # text | int | amount | date | literal
    width: int | None  # bytes in the template's encoding (fixed format)
    align: str  # left | right
    pad: str
    unit: str  # yuan | fen (amounts)
    date_format: str
    cut: bool  # text longer than width is cut on a character boundary (else refused)
    title: str  # xlsx column title

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name) if self.name else "记录标识"


@dataclass(frozen=True)
class Layout:
    """One direction of a template (payment or return): its records."""

    header: tuple[Field, ...]
    detail: tuple[Field, ...]
    trailer: tuple[Field, ...]
    status_paid: tuple[str, ...] = ()
    status_failed: tuple[str, ...] = ()

    def names(self, record: str) -> set[str]:
        return {f.name for f in getattr(self, record) if f.name}



class TemplateDefinition:
    """A bank layout built from its data definition (validated on construction)."""

    def __init__(self, definition: dict):
        self.definition = definition
        err = _definition_errors(definition)
        if err:
            raise TemplateError(f"银行模板定义有误：{'；'.join(err)}")
        d = definition
        self.code: str = d["code"]
        self.name: str = d.get("name", d["code"])
        self.format: str = d["format"]
        self.encoding: str = d.get("encoding", "GB18030")
        self.codec: str = codecs.lookup(self.encoding).name
        self.eol: bytes = LINE_ENDINGS[d.get("line_ending", "CRLF")]
        self.delimiter: str = d.get("delimiter", "|")
        self.amount_unit: str = d.get("amount_unit", "yuan")
        self.sheet: str = d.get("sheet", "Sheet1")
        self.payment = self._layout(d["payment"], "payment")
        self.returns = self._layout(d["return"], "return")
        problems = self._layout_errors()
        if problems:
            raise TemplateError(f"银行模板“{self.code}”定义有误：{'；'.join(problems)}")

    # ---- construction --------------------------------------------------------------------------
    def _field(self, spec) -> Field:
        if isinstance(spec, str):
            spec = {"name": spec}
        name = spec.get("name", "")
        kind = "literal" if not name else KINDS.get(name, "text")
        numeric = kind in ("int", "amount")
        fixed = self.format == "fixed"
        return Field(
            name=name,
            value=spec.get("value", "") if not name else None,
            kind=kind,
            width=spec.get("width"),
            align=spec.get("align", "right" if numeric else "left"),
            pad=spec.get("pad", "0" if (numeric and fixed) else " "),
            unit=spec.get("unit", self.amount_unit),
            date_format=spec.get("date_format", "%Y%m%d"),
            cut=bool(spec.get("cut", False)),
            title=spec.get("title", LABELS.get(name, name)),
        )

    def _layout(self, spec: dict, which: str) -> Layout:
        status = spec.get("status", {})
        return Layout(
            header=tuple(self._field(f) for f in spec.get("header") or ()),
            detail=tuple(self._field(f) for f in spec.get("detail") or ()),
            trailer=tuple(self._field(f) for f in spec.get("trailer") or ()),
            status_paid=tuple(str(s) for s in status.get("paid", ())),
            status_failed=tuple(str(s) for s in status.get("failed", ())),
        )

    def _layout_errors(self) -> list[str]:
        out: list[str] = []
        for which, layout, detail_names in (("报盘", self.payment, PAYMENT_DETAIL_NAMES),
                                             ("回盘", self.returns, RETURN_DETAIL_NAMES)):
            if not layout.detail:
                out.append(f"{which}缺少明细记录定义")
            summary = layout.names("header") | layout.names("trailer")
            allowed_summary = PAYMENT_SUMMARY_NAMES if which == "报盘" else SUMMARY_NAMES
            for bad in sorted(summary - allowed_summary):
                out.append(f"{which}汇总行不能含字段“{bad}”")
            for bad in sorted(layout.names("detail") - detail_names):
                out.append(f"{which}明细不能含字段“{bad}”")
            for need in ("account_no", "amount"):
                if need not in layout.names("detail"):
                    out.append(f"{which}明细缺少字段“{need}”")
            if which == "回盘":
                if "status" not in layout.names("detail"):
                    out.append("回盘明细缺少处理标志字段“status”")
                if not layout.status_paid or not layout.status_failed:
                    out.append("回盘须定义成功与失败的处理标志（status.paid / status.failed）")
                if set(layout.status_paid) & set(layout.status_failed):
                    out.append("成功与失败的处理标志不能相同")
                if "batch_no" not in summary:
                    out.append("回盘汇总行须含批次号“batch_no”，否则无法对应报盘")
            for rec in ("header", "detail", "trailer"):
                fields = getattr(layout, rec)
                if self.format == "fixed":
                    for f in fields:
                        if not isinstance(f.width, int) or f.width < 1:
                            out.append(f"{which}{rec} 字段“{f.name or f.value}”须有正整数宽度（字节）")
                        if len(f.pad) != 1 or not f.pad.isascii():
                            out.append(f"{which}{rec} 字段“{f.name}”的填充字符须为一个ASCII字符")
                for f in fields:
                    if f.kind == "amount" and f.unit not in UNITS:
                        out.append(f"金额单位须为 yuan 或 fen：“{f.unit}”")
                    if f.align not in ("left", "right"):
                        out.append(f"对齐方式须为 left 或 right：“{f.align}”")
            if self.format == "fixed":
                widths = {rec: sum(f.width or 0 for f in getattr(layout, rec))
                          for rec in ("header", "detail", "trailer") if getattr(layout, rec)}
                if len(set(widths.values())) > 1:
                    out.append(f"{which}各记录的字节长度须相同，现为 {widths}")
            if self.format == "xlsx" and layout.names("trailer"):
                out.append("Excel 格式不支持汇总行在末尾，请用 header")
        return out

    @property
    def extension(self) -> str:
        return ".xlsx" if self.format == "xlsx" else ".txt"

    @property
    def record_length(self) -> int | None:
        """Bytes per line (without the line ending) of a fixed layout."""
        if self.format != "fixed":
            return None
        return sum(f.width for f in self.payment.detail)



def _definition_errors(d) -> list[str]:
    if not isinstance(d, dict):
        return ["定义须为 JSON 对象"]
    out = []
    if not str(d.get("code", "")).strip():
        out.append("缺少模板代码 code")
    if d.get("format") not in FORMATS:
        out.append(f"format 须为 {'/'.join(FORMATS)} 之一")
    try:
        codecs.lookup(d.get("encoding", "GB18030"))
    except LookupError:
        out.append(f"未知编码“{d.get('encoding')}”")
    if d.get("line_ending", "CRLF") not in LINE_ENDINGS:
        out.append("line_ending 须为 CRLF 或 LF")
    if d.get("format") == "delimited" and len(d.get("delimiter", "|")) != 1:
        out.append("分隔符 delimiter 须为一个字符")
    if d.get("amount_unit", "yuan") not in UNITS:
        out.append("amount_unit 须为 yuan 或 fen")
    for part in ("payment", "return"):
        if not isinstance(d.get(part), dict):
            out.append(f"缺少 {part} 布局")
            continue
        for rec in ("header", "detail", "trailer"):
            for f in d[part].get(rec) or ():
                if isinstance(f, str):
                    f = {"name": f}
                if not isinstance(f, dict):
                    out.append(f"{part}.{rec} 的字段须为字段名或对象")
                elif f.get("name") and f["name"] not in KINDS:
                    out.append(f"{part}.{rec} 有未知字段“{f['name']}”")
    return out
