"""Hooks into the shell: menu URLs and the person page section."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def _record_for_hook(person, on, *, method, user, source="", note=""):
    """The 回流库's 记为认证 (``common.hooks`` certification_recorder): a certification by 数据比对."""
    from shebao.certification.services import CertificationError, certification_record
    from shebao.common.hooks import HookRefused

    try:
        return certification_record(person, on, method, user, source=source[:200], note=note[:200])
    except CertificationError as exc:
        raise HookRefused(str(exc)) from None


def _death_for_hook(person, on, user, *, source="", note=""):
    """A confirmed death finding of the 回流库 (``common.hooks`` death_flow_starter): 死亡减员 for every
    scheme the person is in, settled by the engine. A person whose death is recorded already is left as
    they are; a settlement that needs a decision (money still owed needs an heir) is refused with the
    reason — the clerk then records the death on its page."""
    from shebao.certification.services import CertificationError, person_death
    from shebao.common.hooks import HookRefused

    if person.death_date is not None:
        return None
    try:
        return person_death(person=person, on=on, user=user, source=source, note=note[:150])
    except CertificationError as exc:
        raise HookRefused(f"{exc}（请在死亡减员页面办理）") from None


def _last_dates():
    """Each person's last certification date (``common.hooks`` certification_last_dates)."""
    from django.db.models import Max

    from shebao.certification.models import Certification

    return Certification.objects.values("person_id").annotate(last_on=Max("certified_on")).values(
        "person_id", "last_on")


def connect() -> None:
    from shebao.certification.permissions import VIEW
    from shebao.common import hooks
    from shebao.web import menu

    hooks.provide("certification_recorder", _record_for_hook)
    hooks.provide("death_flow_starter", _death_for_hook)
    hooks.provide("certification_last_dates", _last_dates)

    for key, url in [("shgl.certification", "certification:list"), ("shgl.due", "certification:due"),
                     ("shgl.community", "certification:communities"), ("shgl.persons", "certification:persons")]:
        if menu.find_entry(key) is not None:
            entry = menu.set_url(key, url, perm=VIEW)
            entry.scheme = None  # a certification concerns every scheme (the group is ZG's by default)
    if menu.find_entry("shgl.stats") is None:
        menu.add_entry("shgl", "shgl.stats", _("统计"), url_name="certification:stats", perm=VIEW, order=50,
                       note=_("按镇街道、村社区统计领取、暂停、到期和本年认证"))
