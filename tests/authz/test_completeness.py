"""No entry point without a decision: every URL name, API operation, command (and subcommand) and job
kind has a row in one of the ``test_matrix_*`` tables (or is listed here as public), and every page
view carries its rule (``view.policy``, put there by ``shebao.web.guards.page``) equal to the row's."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil

import pytest
from django.core.management import get_commands, load_command_class
from django.urls import URLPattern, URLResolver, get_resolver

import tests.authz as authz_pkg

# Django's own views and the static/i18n plumbing: no personal data, no write.
FRAMEWORK = {":set_language", "api:openapi-json", "api:openapi-view", "api:api-root"}
# Django's and other libraries' commands are the operator's (shell access): only ours are in the matrix.
OUR_COMMAND_PREFIX = "shebao."


def all_rows():
    rows = []
    for mod in pkgutil.iter_modules(authz_pkg.__path__):
        if mod.name.startswith("test_matrix_"):
            rows.extend(importlib.import_module(f"tests.authz.{mod.name}").ROWS)
    return rows


def url_entries():
    """(name, callback) of every URL pattern, names with their namespace (``payroll:run_detail``)."""
    out = []

    def walk(resolver, ns):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                walk(p, f"{ns}:{p.namespace}".strip(":") if p.namespace else ns)
            elif isinstance(p, URLPattern):
                out.append((f"{ns}:{p.name}", p.callback))

    walk(get_resolver(), "")
    return out


def api_operations():
    from shebao.api.api import api

    schema = api.get_openapi_schema()
    ops = []
    for path, methods in schema["paths"].items():
        for method, _op in methods.items():
            ops.append((f"api {method.upper()} {path}", method.upper(), path))
    return ops


def our_commands():
    """``"payroll compute"``-style names of our commands' subcommands (or the command alone)."""
    names = []
    for name, app in get_commands().items():
        if not app.startswith(OUR_COMMAND_PREFIX) or name.startswith("_") or name == "makemessages":
            continue
        cmd = load_command_class(app, name)
        parser = cmd.create_parser("shebao", name)
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subs:
            names.extend(f"{name} {choice}" for choice in subs[0].choices)
        else:
            names.append(name)
    return sorted(names)


def test_every_page_has_a_row_and_carries_its_rule():
    rows = {r.name: r for r in all_rows()}
    missing, no_rule, differ = [], [], []
    for name, callback in url_entries():
        if name in FRAMEWORK or name.startswith("api:"):
            continue
        if name not in rows:
            missing.append(name)
            continue
        rule = getattr(callback, "policy", None)
        if rule is None:
            no_rule.append(name)
        elif rule != rows[name].rule:
            differ.append(f"{name}: view {rule} ≠ matrix {rows[name].rule}")
    assert not missing, f"pages without a row in the authorization matrix: {missing}"
    assert not no_rule, f"pages not guarded by shebao.web.guards.page: {no_rule}"
    assert not differ, differ


def test_every_api_operation_has_a_row():
    names = {r.name for r in all_rows()}
    missing = [op for op, _m, _p in api_operations() if op not in names]
    assert not missing, f"API operations without a row in the authorization matrix: {missing}"


def test_every_command_has_a_row_and_declares_its_rule():
    from shebao.accounts.cli import COMMAND_RULES

    names = {r.name for r in all_rows()}
    commands = our_commands()
    missing = [c for c in commands if c not in names]
    assert not missing, f"commands without a row in the authorization matrix: {missing}"
    rows = {r.name: r for r in all_rows()}
    undeclared = [c for c in commands if c not in COMMAND_RULES]
    assert not undeclared, f"commands that declare no rule (shebao.accounts.cli.command_rule): {undeclared}"
    differ = [c for c in commands if COMMAND_RULES[c] != rows[c].rule]
    assert not differ, differ


@pytest.mark.django_db
def test_every_job_kind_names_its_rule():
    from shebao.common import jobs

    with contextlib.suppress(jobs.JobError):
        jobs.job_kind("__none__")
    # kinds registered by test modules (the job framework's own tests) are not entry points
    without = sorted(k for k, spec in jobs._HANDLERS.items()
                     if spec.rule is None and ".tests." not in spec.handler.__module__)
    assert jobs._HANDLERS, "no job kind registered"
    assert not without, f"job kinds without a policy rule: {without}"


def test_the_leak_check_sees_a_full_number_and_spares_what_was_sent():
    """The matrix's masking check (``harness.leaked``) is not a check that cannot fail."""
    from django.http import HttpResponse, JsonResponse

    from shebao.common.policy import rule
    from tests.authz.harness import BY_NAME, Entry, leaked

    numbers = {"330282195003010031", "6222021234567890123"}
    entry = Entry("x:y", rule("registry.view_person"))
    page = HttpResponse("<td>330282195003010031</td>", content_type="text/html; charset=utf-8")
    masked = HttpResponse("<td>330282********0031</td>", content_type="text/html; charset=utf-8")
    api = JsonResponse({"account": "6222021234567890123"})
    assert leaked(BY_NAME["clerk"], entry, page, numbers) == "330282195003010031"
    assert leaked(BY_NAME["clerk"], entry, api, numbers) == "6222021234567890123"
    assert leaked(BY_NAME["clerk"], entry, masked, numbers) is None
    assert leaked(BY_NAME["clerk_sensitive"], entry, page, numbers) is None
    assert leaked(BY_NAME["clerk"], entry, page, numbers, sent="{'id_number': '330282195003010031'}") is None
    download = Entry("x:z", rule("bank.download_file"), full_numbers=True)
    assert leaked(BY_NAME["clerk"], download, page, numbers) is None
