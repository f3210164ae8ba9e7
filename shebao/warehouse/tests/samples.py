"""Kept for tests of other apps that import ``shebao.warehouse.tests.samples``: the sample dictionary now
lives in ``shebao.warehouse.samples`` (the demo uses it; production and demo code never import tests)."""

from shebao.warehouse.samples import (  # noqa: F401
    CODES,
    COLUMNS,
    COLUMNS_WITH_RULES,
    RULES,
    TABLES,
    dictionary_folder,
    write_csv,
)
