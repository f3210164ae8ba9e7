"""Bank file layouts as data (银行模板), and the engine that writes payment files and reads returns.

A template definition is a JSON object:

``code``         short identifier (``standard``)
``name``         what clerks see
``format``       ``delimited`` | ``fixed`` | ``xlsx``
``encoding``     text encoding, default ``GB18030``; fixed widths count BYTES in it (汉字 = 2 bytes)
``line_ending``  ``CRLF`` (default) | ``LF``
``delimiter``    one character, for ``delimited`` (default ``|``)
``amount_unit``  ``yuan`` (two decimals, ``1234.50``) | ``fen`` (integer cents, ``123450``)
``sheet``        sheet name, for ``xlsx``
``payment``      the payment file (报盘): ``header`` (first line), ``detail`` (one per payment),
                 ``trailer`` (last line) — each a list of fields; header and trailer are optional
``return``       the return file (回盘): the same, plus ``status``: ``{"paid": [codes], "failed": [codes]}``
                 (the first code of each list is the one written when a return file is rendered)

A field is a field name (shorthand) or an object:
``name``   summary fields ``batch_no date count total ok_count ok_total failed_count failed_total``;
           detail fields ``seq account_no holder_name amount id_number memo name bank branch`` and,
           in returns, ``processed_amount status reason``; omit ``name`` for a literal
``value``  the literal's text (a record type like ``H``/``D``, an Excel label cell, or filler ``""``)
``width``  bytes (fixed format: every record of a layout must add up to the same length)
``align``  ``left`` | ``right`` (default right for numbers, left for text)
``pad``    one ASCII character (default ``0`` for numbers in fixed layouts, else a space)
``unit``   overrides ``amount_unit`` for one amount field
``date_format``  strftime pattern, default ``%Y%m%d``
``cut``    true: text longer than ``width`` is cut on a character boundary (names, memo, reason);
           otherwise a value that does not fit refuses the file
``title``  the Excel column title (xlsx detail; columns are found by title when reading)

When a detail layout has no ``seq`` the lines are numbered 1, 2, … in file order. A return file is
checked as a whole (``Template.parse_return``) and refused with ``BankFileError`` naming each line.
"""

from functools import cache

from shebao.bank.formats.builtin import BUILTIN_TEMPLATES, builtin_definition
from shebao.bank.formats.engine import (
    BankFileError,
    ParsedFile,
    PaymentLine,
    ReturnRecord,
    Template,
    TemplateError,
    cut_to_bytes,
)

__all__ = [
    "BUILTIN_TEMPLATES", "BankFileError", "ParsedFile", "PaymentLine", "ReturnRecord", "Template",
    "TemplateError", "builtin_definition", "builtin_template", "cut_to_bytes",
]


@cache
def builtin_template(code: str) -> Template:
    return Template(builtin_definition(code))
