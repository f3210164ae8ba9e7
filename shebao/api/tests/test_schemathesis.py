"""Every operation of /api/v1, fuzzed from its own OpenAPI document with schemathesis, by a signed-in
clerk (Bearer token, all towns, every registry and audit right): no answer may be a 5xx. A short budget
(``MAX_EXAMPLES`` per operation, seeded, no deadline) so it runs in CI in well under a minute; raise
``SHEBAO_FUZZ_EXAMPLES`` locally for a deeper run."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from shebao.accounts.services import api_token_create
from shebao.accounts.tests.factories import make_person, make_user

MAX_EXAMPLES = int(os.environ.get("SHEBAO_FUZZ_EXAMPLES", "15"))

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

pytestmark = [pytest.mark.fuzz]


@pytest.fixture
def bearer(db):
    # the WSGI app closes "old" connections at each request's start and end (as django.test.Client
    # prevents): here that would close the test's own transaction
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    clerk = make_user("fuzz_clerk", all_regions=True, sensitive=True,
                      perms=["registry.view_person", "registry.add_person", "registry.change_person",
                             "registry.change_bankaccount", "accounts.view_audit"])
    make_person()
    yield {"Authorization": f"Bearer {api_token_create(user=clerk, name='fuzz')}"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case, bearer):
    response = case.call(headers=bearer)
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body,
                                        response.status_code, response.text[:500])
