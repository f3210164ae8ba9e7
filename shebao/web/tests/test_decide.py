"""``shebao.web.decide``: a checker's act runs once per form token, in one transaction — a refusal or a
repeated submit writes nothing and says why; ``decide`` refuses a missing action."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from shebao.common.audit import audit_record
from shebao.common.models import AuditEvent
from shebao.web.decide import act_once, decide
from shebao.web.tests.helpers import make_user, once

pytestmark = pytest.mark.django_db


class Refused(Exception):
    pass


def _request(user, data):
    request = RequestFactory().post("/x/", data)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def _said(request) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(request)]


def _write(user, refuse=False):
    def write():
        audit_record(user=user, action="test", object_type="test", object_id="1", summary="决定")
        if refuse:
            raise Refused("由您本人录入，须由另一位复核人复核")
        return 7

    return write


def test_act_once_writes_once_and_refusals_write_nothing():
    user = make_user("dc_rev", roles=("reviewer",))
    data = once()
    events = AuditEvent.objects.filter(action="test")
    request = _request(user, data)
    assert act_once(request, form="t", write=_write(user), done=lambda n: f"已复核 {n}", errors=(Refused,)) == (True, 7)
    assert _said(request) == [("success", "已复核 7")] and events.count() == 1
    again = _request(user, data)  # the same token: a double click
    assert act_once(again, form="t", write=_write(user), done="x", errors=(Refused,)) == (False, None)
    assert _said(again)[0][0] == "warning" and "重复提交未执行" in _said(again)[0][1]
    refused = _request(user, once())
    assert act_once(refused, form="t", write=_write(user, refuse=True), done="x", errors=(Refused,)) == (False, None)
    assert _said(refused) == [("error", "由您本人录入，须由另一位复核人复核")]
    assert events.count() == 1  # the refused write's row went with its transaction


def test_decide_picks_the_action_and_refuses_none():
    user = make_user("dc_rev2", roles=("reviewer",))
    request = _request(user, once({"action": "refuse"}))
    actions = {"approve": (_write(user), "已通过"), "refuse": (lambda: "r", "已驳回")}
    assert decide(request, form="t", actions=actions, errors=(Refused,)) == ("refuse", "r")
    assert _said(request) == [("success", "已驳回")]
    request = _request(user, once({"action": "delete"}))
    assert decide(request, form="t", actions=actions, errors=(Refused,)) == (None, None)
    assert _said(request) == [("error", "请选择通过或驳回")]
    assert not AuditEvent.objects.filter(action="test").exists()


def test_write_once_claims_the_token_with_the_write():
    """``common.once.write_once`` (the views' save step): the write and the token's claim in one
    transaction — a second submit of the same token raises and writes nothing; a refused write rolls its
    claim back, so the corrected form (the same token) can be sent again."""
    from shebao.common.models import FormSubmission
    from shebao.common.once import AlreadySubmitted, write_once

    user = make_user("wo_clerk")
    data = once()
    events = AuditEvent.objects.filter(action="test")
    with pytest.raises(Refused):
        write_once(_request(user, data), "t.form", _write(user, refuse=True))
    assert events.count() == 0 and not FormSubmission.objects.exists()  # nothing kept, the token free again
    assert write_once(_request(user, data), "t.form", _write(user)) == 7
    assert events.count() == 1 and FormSubmission.objects.get().form == "t.form"
    with pytest.raises(AlreadySubmitted, match="重复提交未执行"):
        write_once(_request(user, data), "t.form", _write(user))
    assert events.count() == 1
