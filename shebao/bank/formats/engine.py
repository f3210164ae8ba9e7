"""The template engine: render a payment file (报盘) and parse a return file (回盘) for a layout given
as data. Pure Python, no database. See ``shebao/bank/formats/__init__.py`` for the definition keys.

The engine is split by concern: ``definition`` (field names, errors, records, a definition's checks
and construction), ``values`` (one value in and out, the byte/encoding helpers), ``render`` (fixed
and delimited text), ``xlsx`` and ``parse`` (returns and payment files read back)."""

from __future__ import annotations

from shebao.bank.formats.definition import (  # noqa: F401 - the engine's names, as before the split
    BANK_FILE_LIMITS,
    FORMATS,
    KINDS,
    LABELS,
    LINE_ENDINGS,
    PAYMENT_DETAIL_NAMES,
    PAYMENT_SUMMARY_NAMES,
    RETURN_DETAIL_NAMES,
    SUMMARY_NAMES,
    UNITS,
    BankFileError,
    Field,
    Layout,
    ParsedFile,
    PaymentLine,
    ReturnRecord,
    TemplateDefinition,
    TemplateError,
)
from shebao.bank.formats.parse import Parsing
from shebao.bank.formats.render import Rendering
from shebao.bank.formats.values import cut_to_bytes  # noqa: F401
from shebao.bank.formats.xlsx import Xlsx


class Template(Parsing, Xlsx, Rendering, TemplateDefinition):
    """A bank layout built from its data definition (validated on construction): renders payment and
    return files, parses them back."""
