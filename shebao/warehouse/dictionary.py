"""The data dictionary: read from an xlsx workbook (sheets 表, 字段, 代码) or a folder of 表.csv, 字段.csv,
代码.csv (UTF-8 or GB18030), checked whole, then applied to the metadata and to the landed tables.

Layout (the first row of each sheet names its columns; order free, extra columns ignored):

- 表: 表名, 中文名, 说明, 主键 (column names separated by , or 、), and optionally 分区 (``HASH n``: the
  table is hash-partitioned on its first key column into n parts), 用途 (死亡 / 待遇发放 / 活动: what the
  cross-checks read it for), 活动日期字段 (for 活动: the column holding the activity's date);
- 字段: 表名, 字段名, 中文名, 类型, 代码类别, 说明 — a column named by a common 人社 element (AAC002 …)
  may leave 中文名, 类型 and 代码类别 blank and takes the element's;
- 代码: 代码类别, 代码值, 含义.

Reloading adds tables and columns and changes names, comments and types; a column (or table) no longer
in the dictionary is dropped only when it holds no data — otherwise it is kept and marked 已不在字典中."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from shebao.common import safefile
from shebao.common.audit import audit_record
from shebao.warehouse import ddl
from shebao.warehouse.ddl import DictionaryError
from shebao.warehouse.models import CodeValue, DictionaryLoad, Element, Source, WhColumn, WhTable

TABLES, COLUMNS, CODES = "表", "字段", "代码"
TABLE_HEADERS = ["表名", "中文名", "说明", "主键"]
COLUMN_HEADERS = ["表名", "字段名", "中文名", "类型", "代码类别", "说明"]
CODE_HEADERS = ["代码类别", "代码值", "含义"]
RULES = "审核"  # optional column of 字段: the built-in audit rules attached to the column
RULE_WORDS = {
    "身份证号": "id_number", "身份证号有效": "id_number",
    "代码": "code", "代码值": "code", "代码值在代码表中": "code",
    "日期": "date", "日期合理": "date",
    "必填": "not_null", "不得为空": "not_null", "非空": "not_null",
    "唯一": "unique",
}
_REFERENCE = re.compile(r"^(?:引用存在|引用)\s*[:：(（]?\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\s*[)）]?$")
PURPOSES = {"": "", "一般": "", "死亡": "death", "待遇发放": "payment", "发放": "payment", "活动": "activity"}
LIMITS = safefile.Limits(max_bytes=20 * safefile.MiB, max_rows=100_000)
MAX_PARTITIONS = 64
SEEDED_SOURCES = {"省": "sheng", "宁波": "ningbo"}


@dataclass
class DictionaryResult:
    source: Source
    load: DictionaryLoad
    tables_created: list[str] = field(default_factory=list)
    tables_changed: list[str] = field(default_factory=list)
    columns_added: int = 0
    columns_changed: int = 0
    columns_dropped: int = 0
    columns_kept: list[str] = field(default_factory=list)  # no longer declared, kept: they hold data
    tables_kept: list[str] = field(default_factory=list)
    codes: int = 0
    rules_attached: list[str] = field(default_factory=list)  # audit rules made for the 审核 column
    rules_enabled: list[str] = field(default_factory=list)  # existing ones (and the cross-checks) switched on
    rules_disabled: list[str] = field(default_factory=list)  # attached by an earlier load, no longer named

    def summary(self) -> dict:
        return {"tables_created": self.tables_created, "tables_changed": self.tables_changed,
                "columns_added": self.columns_added, "columns_changed": self.columns_changed,
                "columns_dropped": self.columns_dropped, "columns_kept": self.columns_kept,
                "tables_kept": self.tables_kept, "codes": self.codes, "rules_attached": self.rules_attached,
                "rules_enabled": self.rules_enabled, "rules_disabled": self.rules_disabled}

    def text(self) -> str:
        parts = [f"新建表 {len(self.tables_created)} 个", f"变更表 {len(self.tables_changed)} 个",
                 f"新增字段 {self.columns_added} 个", f"修改字段 {self.columns_changed} 个",
                 f"删除空字段 {self.columns_dropped} 个", f"代码值 {self.codes} 条"]
        if self.columns_kept:
            parts.append("已不在字典中但有数据而保留的字段：" + "、".join(self.columns_kept))
        if self.tables_kept:
            parts.append("已不在字典中而保留的表：" + "、".join(self.tables_kept))
        if self.rules_attached:
            parts.append(f"挂接审核规则 {len(self.rules_attached)} 条")
        if self.rules_enabled:
            parts.append("启用审核规则：" + "、".join(self.rules_enabled))
        if self.rules_disabled:
            parts.append("停用字典不再列出的审核规则：" + "、".join(self.rules_disabled))
        return "，".join(parts)


# -- reading -----------------------------------------------------------------------------------------

def _rows_csv(data: bytes, what: str) -> list[list[str]]:
    safefile.check_size(len(data), LIMITS)
    text = safefile.decode_text(data, what=what)
    import csv

    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    try:
        return [[safefile.strip_csv_quote(c.strip()) for c in r]
                for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise DictionaryError(f"{what}格式有误：{exc}") from None


def _sheets_xlsx(data: bytes) -> dict[str, list[list[str]]]:
    safefile.check_size(len(data), LIMITS)
    safefile.check_zip(data, LIMITS)
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        out = {}
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            if sheet.total_height > LIMITS.max_rows + 1:
                raise DictionaryError(f"工作表“{name}”超过 {LIMITS.max_rows:,} 行")
            out[name.strip()] = [[safefile.cell_text(c) for c in r] for r in sheet.to_python(skip_empty_area=False)]
        return out
    except (DictionaryError, safefile.FileRefused):
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is "not a readable workbook"
        raise DictionaryError(f"无法读取 Excel 文件：{exc}") from None


def read_dictionary(path: Path) -> dict[str, list[list[str]]]:
    """The three sheets' rows (header first), from a workbook or a folder of csv files."""
    try:
        if path.is_dir():
            sheets = {}
            for name in (TABLES, COLUMNS, CODES):
                f = path / f"{name}.csv"
                if f.exists():
                    sheets[name] = _rows_csv(f.read_bytes(), f"{name}.csv ")
            return sheets
        if path.suffix.lower() not in (".xlsx", ".xlsm"):
            raise DictionaryError("数据字典应为 xlsx 工作簿（表、字段、代码三个工作表）或含 表.csv、字段.csv、代码.csv 的文件夹")
        return _sheets_xlsx(path.read_bytes())
    except safefile.FileRefused as exc:
        raise DictionaryError(str(exc)) from None
    except OSError as exc:
        raise DictionaryError(f"无法读取数据字典：{exc.strerror or exc}") from None


def _records(sheets: dict, sheet: str, required: list[str], errors: list[str], *, optional: bool = False):
    rows = sheets.get(sheet)
    if rows is None:
        if not optional:
            errors.append(f"缺少“{sheet}”（工作表或 {sheet}.csv）")
        return []
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        if not optional:
            errors.append(f"“{sheet}”是空的")
        return []
    header = [h.strip() for h in rows[0]]
    missing = [h for h in required if h not in header]
    if missing:
        errors.append(f"“{sheet}”缺少列：{'、'.join(missing)}（第一行应为列名：{'、'.join(required)}）")
        return []
    index = {h: i for i, h in enumerate(header) if h}
    out = []
    for n, row in enumerate(rows[1:], start=2):
        for c in row:
            if len(c) > LIMITS.max_cell_chars:
                errors.append(f"{sheet} 第 {n} 行：单元格超过 {LIMITS.max_cell_chars} 个字符")
        out.append((n, {h: (row[i].strip() if i < len(row) else "") for h, i in index.items()}))
    return out


def parse_rules(text: str) -> list[tuple[str, str, str]]:
    """The 审核 cell: words separated by 、 , ; — 身份证号, 代码, 日期, 必填, 唯一, 引用 表.字段 (or the rule
    kinds' full names) → [(kind, ref table, ref column)]."""
    rules: list[tuple[str, str, str]] = []
    for word in re.split(r"[,，、;；]+", text or ""):
        word = word.strip()
        if not word:
            continue
        m = _REFERENCE.match(word)
        if m:
            rule = ("reference", ddl.ident(m.group(1), "引用的表"), ddl.ident(m.group(2), "引用的字段"))
        elif word in RULE_WORDS:
            rule = (RULE_WORDS[word], "", "")
        else:
            raise DictionaryError(f"审核“{word[:30]}”不认识（可写：身份证号、代码、日期、必填、唯一、引用 表.字段）")
        if rule not in rules:
            rules.append(rule)
    return rules


@dataclass
class _Col:
    name: str
    label: str
    source_type: str
    ctype: ddl.ColType
    code_category: str
    note: str
    rules: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, ref table, ref column)


@dataclass
class _Table:
    name: str
    label: str
    note: str
    key: list[str]
    partitions: int
    purpose: str
    activity_column: str
    columns: list[_Col] = field(default_factory=list)


def parse_dictionary(sheets: dict) -> tuple[list[_Table], list[tuple[str, str, str]]]:
    """Check every row; DictionaryError with every problem (at most 50 shown) when any."""
    errors: list[str] = []
    elements = {e.code.lower(): e for e in Element.objects.all()}
    tables: dict[str, _Table] = {}
    for n, r in _records(sheets, TABLES, TABLE_HEADERS, errors):
        where = f"{TABLES} 第 {n} 行"
        try:
            name = ddl.ident(r["表名"], "表名")
        except DictionaryError as exc:
            errors.append(f"{where}：{exc}")
            continue
        if name in tables:
            errors.append(f"{where}：表 {name} 重复")
            continue
        key = []
        for k in re.split(r"[,，、\s]+", r.get("主键", "")):
            if k:
                try:
                    key.append(ddl.ident(k, "主键字段"))
                except DictionaryError as exc:
                    errors.append(f"{where}：{exc}")
        parts = 0
        spec = r.get("分区", "").strip()
        if spec:
            m = re.fullmatch(r"(?i)hash\s*\(?\s*(\d+)\s*\)?", spec)
            if not m or not 2 <= int(m.group(1)) <= MAX_PARTITIONS:
                errors.append(f"{where}：分区“{spec}”不合法（写 HASH n，n 为 2–{MAX_PARTITIONS}）")
            elif not key:
                errors.append(f"{where}：分区的表须有主键（按主键第一个字段分区）")
            else:
                parts = int(m.group(1))
        purpose_text = r.get("用途", "").strip()
        if purpose_text not in PURPOSES:
            errors.append(f"{where}：用途“{purpose_text}”不合法（死亡、待遇发放、活动或空）")
        activity = r.get("活动日期字段", "").strip()
        if activity:
            try:
                activity = ddl.ident(activity, "活动日期字段")
            except DictionaryError as exc:
                errors.append(f"{where}：{exc}")
        tables[name] = _Table(name, r.get("中文名", "")[:100], r.get("说明", ""), key, parts,
                              PURPOSES.get(purpose_text, ""), activity)
    for n, r in _records(sheets, COLUMNS, COLUMN_HEADERS, errors):
        where = f"{COLUMNS} 第 {n} 行"
        try:
            tname = ddl.ident(r["表名"], "表名")
            cname = ddl.ident(r["字段名"], "字段名")
        except DictionaryError as exc:
            errors.append(f"{where}：{exc}")
            continue
        table = tables.get(tname)
        if table is None:
            errors.append(f"{where}：表 {tname} 未在“{TABLES}”中声明")
            continue
        if any(c.name == cname for c in table.columns):
            errors.append(f"{where}：表 {tname} 的字段 {cname} 重复")
            continue
        element = elements.get(cname)
        type_text = r["类型"] or (element.type if element else "")
        if not type_text:
            errors.append(f"{where}：字段 {cname} 没有类型")
            continue
        try:
            ctype = ddl.parse_type(type_text)
        except DictionaryError as exc:
            errors.append(f"{where}：{exc}")
            continue
        try:
            rules = parse_rules(r.get(RULES, ""))
        except DictionaryError as exc:
            errors.append(f"{where}：{exc}")
            continue
        table.columns.append(_Col(cname, (r["中文名"] or (element.name if element else ""))[:100], type_text.upper(),
                                  ctype, r["代码类别"] or (element.code_category if element else ""), r["说明"], rules))
    for t in tables.values():
        names = {c.name for c in t.columns}
        if not t.columns:
            errors.append(f"表 {t.name} 没有声明字段")
        for k in t.key:
            if k not in names:
                errors.append(f"表 {t.name} 的主键字段 {k} 未在“{COLUMNS}”中声明")
        if t.activity_column and t.activity_column not in names:
            errors.append(f"表 {t.name} 的活动日期字段 {t.activity_column} 未在“{COLUMNS}”中声明")
        if len(t.columns) > 1000:
            errors.append(f"表 {t.name} 字段超过 1000 个")
        for c in t.columns:
            for kind, ref_table, ref_column in c.rules:
                if kind != "reference":
                    continue
                ref = tables.get(ref_table)
                if ref is None or not any(rc.name == ref_column for rc in ref.columns):
                    errors.append(f"表 {t.name} 字段 {c.name} 的审核“引用 {ref_table}.{ref_column}”：该表或字段未在本字典中声明")
    codes = []
    seen = set()
    for n, r in _records(sheets, CODES, CODE_HEADERS, errors, optional=True):
        cat, value, meaning = r["代码类别"], r["代码值"], r["含义"]
        if not cat or not value:
            errors.append(f"{CODES} 第 {n} 行：代码类别和代码值不能为空")
            continue
        if len(cat) > 30 or len(value) > 30 or len(meaning) > 100:
            errors.append(f"{CODES} 第 {n} 行：代码类别、代码值不超过 30 个字符，含义不超过 100 个字符")
            continue
        if (cat, value) in seen:
            errors.append(f"{CODES} 第 {n} 行：代码 {cat}={value} 重复")
            continue
        seen.add((cat, value))
        codes.append((cat, value, meaning))
    if not tables and not errors:
        errors.append(f"“{TABLES}”中没有声明任何表")
    if errors:
        shown = "；".join(errors[:50])
        more = f"；……共 {len(errors)} 处" if len(errors) > 50 else ""
        raise DictionaryError(f"数据字典有 {len(errors)} 处错误，未作任何改动：{shown}{more}")
    return list(tables.values()), codes


# -- applying ----------------------------------------------------------------------------------------

def source_get_or_create(name: str) -> Source:
    """省 and 宁波 are seeded; another name becomes a new source (its code from the name when it is an
    identifier, else ``s<n>``)."""
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise DictionaryError("来源名称不能为空，且不超过 40 个字符")
    found = Source.objects.filter(name=name).first()
    if found:
        return found
    code = SEEDED_SOURCES.get(name)
    if code is None:
        code = name.lower() if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,11}", name) else ""
        if not code or Source.objects.filter(code=code).exists():
            code = f"s{(Source.objects.order_by('-id').values_list('id', flat=True).first() or 0) + 1}"
    return Source.objects.create(name=name, code=code)


def source_get(name: str) -> Source:
    found = Source.objects.filter(name=(name or "").strip()).first()
    if found is None:
        known = "、".join(Source.objects.values_list("name", flat=True)) or "（无）"
        raise DictionaryError(f"没有名为“{name}”的来源（现有：{known}）；先装载它的数据字典")
    return found


def dictionary_load(*, source_name: str, path: Path, user) -> DictionaryResult:
    """Read, check whole, then apply in one transaction: a dictionary with any error changes nothing."""
    tables, codes = parse_dictionary(read_dictionary(Path(path)))
    with transaction.atomic():
        source = source_get_or_create(source_name)
        load = DictionaryLoad.objects.create(source=source, file_name=Path(path).name[:300], created_by=user)
        result = DictionaryResult(source=source, load=load)
        with connection.cursor() as cursor:
            ddl.ensure_schema(cursor)
            declared = set()
            for t in tables:
                declared.add(t.name)
                _apply_table(cursor, source, t, result)
            for old in WhTable.objects.filter(source=source, retired=False).exclude(name__in=declared):
                old.retired = True
                old.save(update_fields=["retired", "updated_at"])
                result.tables_kept.append(old.name)
        _attach_rules(source, tables, result, user)
        for cat in {c for c, _v, _m in codes}:
            CodeValue.objects.filter(source=source, category=cat).delete()
        CodeValue.objects.bulk_create([CodeValue(source=source, category=c, value=v, meaning=m) for c, v, m in codes])
        result.codes = len(codes)
        load.summary = result.summary()
        load.save(update_fields=["summary"])
        audit_record(user=user, action="warehouse.dictionary_load", obj=load,
                     summary=f"装载数据字典（{source.name}）：{result.text()}"[:500])
    return result


def _apply_table(cursor, source: Source, t: _Table, result: DictionaryResult) -> None:
    physical = f"{source.code}_{t.name}"
    table = WhTable.objects.filter(source=source, name=t.name).first()
    if table is None or not ddl.table_exists(cursor, table.physical):
        ddl.create_table(cursor, physical, [(c.name, c.ctype) for c in t.columns], t.key, t.partitions)
        if table is None:
            table = WhTable.objects.create(source=source, name=t.name, physical=physical, label=t.label, note=t.note,
                                           primary_key=t.key, partitions=t.partitions, purpose=t.purpose,
                                           activity_column=t.activity_column)
        else:
            WhColumn.objects.filter(table=table).delete()
        WhColumn.objects.bulk_create([
            WhColumn(table=table, position=i, name=c.name, label=c.label, source_type=c.source_type, pg_type=c.ctype.pg,
                     code_category=c.code_category, note=c.note) for i, c in enumerate(t.columns, start=1)])
        result.tables_created.append(t.name)
        result.columns_added += len(t.columns)
        _grant_reader(cursor, physical)
        return
    changed = False
    existing = {c.name: c for c in table.columns.all()}
    for i, c in enumerate(t.columns, start=1):
        col = existing.pop(c.name, None)
        if col is None:
            ddl.add_column(cursor, table.physical, c.name, c.ctype)
            WhColumn.objects.create(table=table, position=i, name=c.name, label=c.label, source_type=c.source_type,
                                    pg_type=c.ctype.pg, code_category=c.code_category, note=c.note)
            result.columns_added += 1
            changed = True
            continue
        if col.pg_type != c.ctype.pg:
            try:
                with transaction.atomic():
                    ddl.alter_type(cursor, table.physical, c.name, c.ctype)
            except Exception as exc:  # noqa: BLE001 - the database's refusal, told in words
                raise DictionaryError(f"表 {t.name} 的字段 {c.name} 不能从 {col.source_type} 改为 {c.source_type}："
                                      f"已有数据无法转换（{str(exc).splitlines()[0][:120]}）；未作任何改动") from None
        new = (i, c.label, c.source_type, c.ctype.pg, c.code_category, c.note, False)
        old = (col.position, col.label, col.source_type, col.pg_type, col.code_category, col.note, col.retired)
        if new != old:
            (col.position, col.label, col.source_type, col.pg_type, col.code_category, col.note, col.retired) = new
            col.save()
            result.columns_changed += 1
            changed = True
    for name, col in existing.items():
        if name in t.key:
            continue
        if ddl.column_has_data(cursor, table.physical, name):
            if not col.retired:
                col.retired = True
                col.save(update_fields=["retired"])
                changed = True
            result.columns_kept.append(f"{t.name}.{name}")
        else:
            if name in table.primary_key:
                ddl.set_primary_key(cursor, table.physical, [])
            ddl.drop_column(cursor, table.physical, name)
            col.delete()
            result.columns_dropped += 1
            changed = True
    if t.key != table.primary_key:
        if table.partitions:
            raise DictionaryError(f"表 {t.name} 已分区，不能修改主键；未作任何改动")
        try:
            with transaction.atomic():
                ddl.set_primary_key(cursor, table.physical, t.key)
        except Exception:  # noqa: BLE001
            raise DictionaryError(f"表 {t.name} 的主键不能改为 {'、'.join(t.key) or '（无）'}：已有数据在新主键上重复或为空；"
                                  f"未作任何改动") from None
        changed = True
    meta = (t.label, t.note, t.key, t.purpose, t.activity_column, False)
    if meta != (table.label, table.note, table.primary_key, table.purpose, table.activity_column, table.retired):
        (table.label, table.note, table.primary_key, table.purpose, table.activity_column, table.retired) = meta
        table.save()
        changed = True
    if t.partitions != table.partitions:
        result.tables_kept.append(f"{t.name}（分区在建表时确定，未改变）")
    if changed:
        result.tables_changed.append(t.name)


def _grant_reader(cursor, physical: str) -> None:
    """The console's read-only role reads every landed table (when it exists already)."""
    from shebao.warehouse.console import READER_ROLE

    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER_ROLE])
    if cursor.fetchone():
        from psycopg import sql

        cursor.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(ddl.qualified(physical), sql.Identifier(READER_ROLE)))


def _attach_rules(source: Source, tables: list[_Table], result: DictionaryResult, user) -> None:
    """The audit rules the dictionary names (字段 sheet, column 审核) attached to their columns — made, or
    switched on when they exist — and the rules an earlier load attached but this one no longer names
    switched off (kept: their findings stay). The cross-checks that read the declared tables (用途 死亡 →
    死亡后仍发放, 待遇发放 → 重复领取, 活动 → 生存迹象, a 身份证号 and a 姓名 column → 姓名不一致) are switched on."""
    from shebao.warehouse.models import AuditRule, Element

    physical = {t.name: WhTable.objects.get(source=source, name=t.name) for t in tables}
    wanted = []
    for t in tables:
        for c in t.columns:
            for kind, ref_table, ref_column in c.rules:
                wanted.append((physical[t.name], c.name, kind, physical.get(ref_table), ref_column))
    kept = set()
    labels = dict(AuditRule.Kind.choices)
    for table, column, kind, ref, ref_column in wanted:
        rule = AuditRule.objects.filter(table=table, column=column, kind=kind, ref_table=ref,
                                        ref_column=ref_column).order_by("-from_dictionary", "id").first()
        where = f"{table.name}.{column}" + (f" → {ref.name}.{ref_column}" if ref is not None else "")
        if rule is None:
            rule = AuditRule.objects.create(name=f"{labels[kind]}：{where}"[:100], kind=kind, table=table,
                                            column=column, ref_table=ref, ref_column=ref_column,
                                            from_dictionary=True, created_by=user)
            result.rules_attached.append(rule.name)
        elif not rule.active:
            AuditRule.objects.filter(pk=rule.pk).update(active=True)
            result.rules_enabled.append(rule.name)
        kept.add(rule.pk)
    for rule in AuditRule.objects.filter(from_dictionary=True, active=True, table__source=source).exclude(pk__in=kept):
        AuditRule.objects.filter(pk=rule.pk).update(active=False)
        result.rules_disabled.append(rule.name)
    roles = dict(Element.objects.values_list("code", "role"))
    purposes = {t.purpose for t in tables}
    crosses = [k for k, p in ((AuditRule.Kind.DEATH, "death"), (AuditRule.Kind.DOUBLE, "payment"),
                              (AuditRule.Kind.LIFE, "activity")) if p in purposes]
    for t in tables:
        have = {roles.get(c.name.upper()) for c in t.columns}
        if {"id_number", "name"} <= have:
            crosses.append(AuditRule.Kind.NAME)
            break
    for rule in AuditRule.objects.filter(kind__in=crosses, active=False):
        AuditRule.objects.filter(pk=rule.pk).update(active=True)
        result.rules_enabled.append(rule.name)
