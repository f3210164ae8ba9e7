"""Test harness: real PostgreSQL (embedded throw-away server, or DATABASE_URL), browser tests only
where /usr/bin/chromium exists — and then said plainly."""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
_left_out: list[str] = []


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("browser") else keep).append(item)
    if drop:
        _left_out.extend(i.nodeid for i in drop)
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter):
    # Under pytest-xdist the workers collect (and leave the browser tests out); the controller that
    # writes this summary has no items of its own, so it looks for Chromium itself.
    if _left_out or not os.path.exists(CHROMIUM):
        count = f"{len(_left_out)} 个" if _left_out else "全部"
        terminalreporter.write_sep(
            "!", f"未找到 {CHROMIUM}：{count}浏览器测试没有运行 "
            f"(browser tests LEFT OUT: install Debian's chromium to run them)", yellow=True, bold=True,
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let the test database's TRUNCATE (used to reset between transactional tests) pass the audit
    table's append-only trigger; UPDATE and DELETE stay refused."""
    from django.db import connection

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" SET shebao.maintenance = \'on\'')
        connection.close()


def _reseed_from_migrations() -> None:
    """Re-run the data seeds of our migrations (regions, schemes, items, reasons, bank templates,
    role groups …). Each seed is idempotent (get_or_create / update_or_create)."""
    from types import SimpleNamespace

    from django.apps import apps as django_apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations.special import RunPython

    # a seed that reads ``schema_editor.connection`` (a raw cursor) gets the connection; nothing else of a
    # schema editor is used by a data seed
    editor = SimpleNamespace(connection=connection)
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for _key, migration in sorted(loader.disk_migrations.items()):
        if not migration.__module__.startswith("shebao."):
            continue
        for operation in migration.operations:
            if isinstance(operation, RunPython):
                operation.code(django_apps, editor)


@pytest.fixture(autouse=True)
def _seed_data_for_transactional_tests(request):
    """pytest-django empties every table after a transactional (browser/live-server) test, including
    the rows our migrations seed; put them back before the next such test needs them."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if transactional:
        from shebao.registry.models import Region

        request.getfixturevalue("transactional_db")
        if not Region.objects.exists():
            _reseed_from_migrations()
    yield
