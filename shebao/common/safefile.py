"""The ONE safe reader of every uploaded or imported file (花名册, 回盘, 老农保 CSV, rule files).

Everything a file can do to us is checked here, before any parser sees it:

- size: an upload larger than ``Limits.max_bytes`` is refused (``upload_validator`` does it in the
  form, before the bytes are read into memory);
- zip bombs (.xlsx/.xlsm are zip archives): the central directory is read first — member count, the
  declared size of each member and of all of them, each member's compression ratio — and then every
  member is inflated in bounded steps, so a member that holds more than it declares is caught
  after at most its declared size plus one step; nothing is handed to the spreadsheet parser before;
- encoding of text files: UTF-8 with or without BOM, else GB18030 (which reads GBK and GB2312 too) where
  the format allows; anything else is a clear message naming the byte;
- NUL bytes are refused (PostgreSQL cannot store them and no legitimate file holds them);
- rows and cells: at most ``max_rows`` rows, at most ``max_cell_chars`` characters in a cell;
- a CSV cell that our own writer quote-prefixed (``'=…``, see ``shebao.common.sheets``) is read back
  without the apostrophe (``strip_csv_quote``).

Every refusal is ``FileRefused`` with a Chinese message; the callers turn it into their own error
class (``RosterFileError``, ``BankFileError``, ``ImportFileError``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from shebao.common.sheets import FORMULA_LEADING

MiB = 1 << 20


class FileRefused(ValueError):
    """A file we will not read; ``str()`` is the Chinese message for the user."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * MiB  # the upload itself
    max_members: int = 200  # entries in a zip (an .xlsx has about ten)
    max_unzipped: int = 100 * MiB  # all members inflated together
    max_ratio: int = 200  # inflated / compressed, per member larger than 1 MiB
    max_rows: int = 200_000
    max_cell_chars: int = 1000


DEFAULT = Limits()
STEP = 1 * MiB  # inflate in steps of this size (the memory the check needs)


def _mib(n: int) -> str:
    return f"{n / MiB:.0f} MB" if n >= MiB else f"{n:,} 字节"


def check_size(size: int, limits: Limits = DEFAULT) -> None:
    if size > limits.max_bytes:
        raise FileRefused(f"文件 {_mib(size)}，超过上限 {_mib(limits.max_bytes)}，请分批导入")


def upload_validator(limits: Limits = DEFAULT):
    """A form-field validator: the upload's size, from the request, before it is read."""

    def validate(upload) -> None:
        from django.core.exceptions import ValidationError

        try:
            check_size(getattr(upload, "size", 0) or 0, limits)
        except FileRefused as exc:
            raise ValidationError(str(exc)) from None

    return validate


def check_zip(data: bytes, limits: Limits = DEFAULT) -> None:
    """Refuse a zip (xlsx) that is too many members, too large inflated, or a bomb — read from the
    central directory first, then verified by inflating each member in bounded steps."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise FileRefused("不是有效的 Excel（xlsx）文件：压缩包结构损坏") from None
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise FileRefused(f"Excel 文件内含 {len(infos):,} 个部件，超过上限 {limits.max_members}，不予读取")
    declared = 0
    for info in infos:
        declared += info.file_size
        if info.file_size > MiB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise FileRefused(f"Excel 文件的部件 {info.filename} 压缩比异常（{_mib(info.compress_size)} 解压为 "
                              f"{_mib(info.file_size)}），疑似压缩炸弹，不予读取")
        if declared > limits.max_unzipped:
            raise FileRefused(f"Excel 文件解压后超过 {_mib(limits.max_unzipped)}，不予读取；请分批导入")
    for info in infos:
        _inflate_bounded(archive, info, limits)


def _inflate_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> None:
    """Inflate ``info`` step by step and refuse it as soon as it yields more than it declares."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise FileRefused(f"Excel 文件的部件 {info.filename} 使用不支持的压缩方式")
    if info.flag_bits & 0x1:
        raise FileRefused("Excel 文件已加密，请另存为不加密的文件后再导入")
    raw = archive.fp
    raw.seek(info.header_offset)
    header = raw.read(30)
    if header[:4] != b"PK\x03\x04":
        raise FileRefused(f"Excel 文件的部件 {info.filename} 结构损坏")
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    raw.seek(info.header_offset + 30 + name_len + extra_len)
    remaining = info.compress_size
    budget = info.file_size
    produced = 0
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    while remaining > 0:
        chunk = raw.read(min(STEP // 4, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        if inflater is None:
            produced += len(chunk)
        else:
            try:
                out = inflater.decompress(chunk, budget - produced + 1)
                produced += len(out)
                while inflater.unconsumed_tail and produced <= budget:
                    out = inflater.decompress(inflater.unconsumed_tail, budget - produced + 1)
                    produced += len(out)
                    if not out:
                        break
            except zlib.error:
                raise FileRefused(f"Excel 文件的部件 {info.filename} 数据损坏") from None
        if produced > budget:
            raise FileRefused(f"Excel 文件的部件 {info.filename} 解压后大于其声明的大小，疑似压缩炸弹，不予读取")


def decode_text(data: bytes, *, gb18030: bool = True, what: str = "文件") -> str:
    """UTF-8 (with or without BOM), else GB18030 when allowed; NUL bytes refused."""
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise FileRefused(f"{what}第 {line} 行含有空字符（NUL），不是文本文件或已损坏")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileRefused(f"{what}标明为 UTF-8，但第 {exc.start + 3} 字节附近不是有效的 UTF-8") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not gb18030:
            raise FileRefused(f"{what}编码应为 UTF-8，第 {exc.start} 字节附近不是有效的 UTF-8") from None
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{what}编码无法识别（应为 UTF-8 或 GB18030），第 {exc.start} 字节附近") from None


def read_text_upload(upload, limits: Limits = Limits(max_bytes=1 * MiB), *, gb18030: bool = False,
                     what: str = "文件") -> str:
    """A small uploaded text file (a JSON rule file …) as text: size first, then ``decode_text``."""
    check_size(getattr(upload, "size", 0) or 0, limits)
    data = upload.read(limits.max_bytes + 1)
    check_size(len(data), limits)
    text = decode_text(data, gb18030=gb18030, what=what)
    if "\\u0000" in text.lower():  # JSON's escape of NUL: the same refusal as the byte
        raise FileRefused(f"{what}含有空字符（NUL，\\u0000），不予读取")
    return text


def strip_csv_quote(text: str) -> str:
    """``'=SUM(…)`` → ``=SUM(…)``: the apostrophe our writer put before a formula-leading text."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_LEADING):
        return text[1:]
    return text


def cell_text(value) -> str:
    """A spreadsheet cell as text: whole floats become integers (202603.0 → "202603"), other floats
    their shortest repr (1234.56 → "1234.56"), dates ISO, booleans 是/否."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _check_cells(rows: list[list[str]], limits: Limits) -> None:
    for n, row in enumerate(rows, start=1):
        for cell in row:
            if len(cell) > limits.max_cell_chars:
                raise FileRefused(f"第 {n} 行有一个单元格长 {len(cell):,} 个字符，超过上限 {limits.max_cell_chars:,}")
            if "\x00" in cell:
                raise FileRefused(f"第 {n} 行含有空字符（NUL），不予读取")


def read_table(file_name: str, data: bytes, limits: Limits = DEFAULT) -> list[list[str]]:
    """The first sheet of an xlsx/xls, or a csv (comma or tab), as rows of stripped text cells,
    header first, trailing empty rows dropped — after every check above."""
    check_size(len(data), limits)
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if ext == "csv":
        text = decode_text(data, what="CSV 文件")
        if text.count("\n") > limits.max_rows + 1:
            raise FileRefused(f"文件超过 {limits.max_rows:,} 行，请分批导入")
        sample = text[:4096]
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        csv.field_size_limit(max(limits.max_cell_chars * 4 + 16, 131072))
        try:
            rows = [[strip_csv_quote(c.strip()) for c in r]
                    for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
        except csv.Error as exc:
            raise FileRefused(f"CSV 文件格式有误：{exc}") from None
    elif ext in ("xlsx", "xlsm", "xls"):
        if ext != "xls":
            check_zip(data, limits)
        from python_calamine import CalamineWorkbook

        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            sheet = book.get_sheet_by_index(0)
            if sheet.total_height > limits.max_rows + 1:
                raise FileRefused(f"文件超过 {limits.max_rows:,} 行，请分批导入")
            raw = sheet.to_python(skip_empty_area=False)
        except FileRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure is "not a readable workbook"
            raise FileRefused(f"无法读取 Excel 文件：{exc}") from None
        rows = [[cell_text(c) for c in r] for r in raw]
    else:
        raise FileRefused(f"不支持的文件类型“.{ext}”：请用 xlsx、xls 或 csv")
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise FileRefused("文件是空的")
    if len(rows) > limits.max_rows + 1:
        raise FileRefused(f"文件超过 {limits.max_rows:,} 行，请分批导入")
    _check_cells(rows, limits)
    return rows


def header_positions(header: list[str], columns, *, aliases: dict[str, str] | None = None,
                     required=None) -> dict[str, int]:
    """The position of each known column in a roster's header row: names compared without whitespace,
    an alias read as its column, the first of a repeated name kept. ``FileRefused`` names the missing
    ``required`` columns (all ``columns`` by default) and the expected header."""
    aliases = aliases or {}
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        key = re.sub(r"\s", "", name or "")
        key = aliases.get(key, key)
        if key in columns and key not in positions:
            positions[key] = i
    missing = [c for c in (columns if required is None else required) if c not in positions]
    if missing:
        raise FileRefused(f"表头缺少列：{'、'.join(missing)}（第 1 行应为：{'、'.join(columns)}）")
    return positions
