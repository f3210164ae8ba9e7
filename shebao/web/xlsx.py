"""Kept for imports: the writer is ``shebao.common.sheets`` (one writer for every export)."""

from shebao.common.sheets import MAX_ROWS, XlsxWriter, column_letter  # noqa: F401
