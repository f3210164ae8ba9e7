"""社会化管理 / 生存认证 pages. Thin: parse, call one selector or service, render. Persons are looked up
within the user's towns (out of scope is a 404, the same as missing). Forms that create a record carry
a one-time token (``{% once_field %}``), claimed in the write's transaction."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shebao.benefits.models import Enrollment, PaymentStatus, Suspension
from shebao.certification import forms as f
from shebao.certification import selectors as sel
from shebao.certification.models import CommunityInfo, Method, PersonContact, SocialProfile
from shebao.certification.permissions import (
    COMMUNITY_RULE,
    DEATH_RULE,
    IMPORT_RULE,
    RECORD_RULE,
    VIEW_RULE,
    death_denial,
)
from shebao.certification.services import (
    ATTACHMENT_KINDS,
    CertificationError,
    attachment_safe_name,
    certification_import,
    certification_record,
    community_save,
    contact_add,
    contact_deactivate,
    grace_end,
    person_death,
    person_social_save,
)
from shebao.common import policy
from shebao.common.once import AlreadySubmitted, write_once
from shebao.registry.selectors import person_get, person_search, town_choices
from shebao.web.guards import page
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter, render_table

STATES = [("due", _("近期到期")), ("overdue", _("逾期未认证")), ("suspended", _("已暂停"))]
DAYS = [("7", _("7 天内")), ("30", _("30 天内")), ("60", _("60 天内")), ("90", _("90 天内"))]


def _crumbs(*items):
    return [(str(_("自管人员社会化管理")), "")] + list(items)


def _search(qs, value, request, field="person"):
    return person_search(user=request.user, q=value, limit=None, within=qs, person=field)


def _days(request) -> int:
    value = request.GET.get("days") or "30"
    return int(value) if value in dict(DAYS) else 30


def _state(qs, value, request):
    return sel.due_window(qs, value, today=timezone.localdate(), days=_days(request))


def _towns(request):
    return town_choices(request.user)


class DueTable(Table):
    columns = [
        Column("person__name", _("姓名"), sortable=True,
               link=lambda row: reverse("certification:person", args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number", sortable=True),
        Column("person__town__name", _("镇街道"), sortable=True, sort_field="person__town__sort"),
        Column("person__community__name", _("村社区"), sortable=True),
        Column("person__mobile", _("手机"), kind="phone"),
        Column("scheme__name", _("险种"), sortable=True, sort_field="scheme__sort"),
        Column("payment_status", _("发放状态"), kind="choice", choices=PaymentStatus.choices, sortable=True),
        Column("last_certified", _("上次认证"), kind="date", sortable=True),
        Column("due_on", _("应认证日期"), kind="date", sortable=True),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_search, placeholder=_("姓名、身份证号或后几位")),
        ChoiceFilter("town", _("镇街道"), field="person__town_id", choices=_towns),
        ChoiceFilter("community", _("村社区"), field="person__community_id",
                     choices=lambda request: [(c.pk, f"{c.parent.name} {c.name}")
                                              for c in sel.communities_visible(user=request.user)]),
        ChoiceFilter("state", _("认证状态"), method=_state, choices=STATES),
        ChoiceFilter("days", _("到期范围"), method=lambda qs, v, r: qs, choices=DAYS),
        ChoiceFilter("scheme", _("险种"), field="scheme__code",
                     choices=[("ZG", _("自管人员")), ("NB", _("老农保")), ("BZ", _("养老保障")), ("TB", _("土保补贴"))]),
    ]
    extra_fields = ("person_id",)
    default_sort = "due_on"
    export_name = _("生存认证到期名单")
    dom_id = "cert-due"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)


@page(VIEW_RULE)
def due(request):
    """到期提醒: who is due within N days, overdue or suspended; ``print=1`` is the printable visiting list."""
    table = DueTable(request, sel.receiving(user=request.user))
    if request.GET.get("print") == "1" and not table.errors:
        rows = list(table.queryset.select_related("person__social_profile")
                    .order_by("person__community__name", "due_on", "pk")[:2000])
        return render(request, "certification/visit_print.html", {
            "rows": rows, "today": timezone.localdate(), "days": _days(request),
            "state": dict(STATES).get(request.GET.get("state", ""), ""),
        })
    return render_table(request, table, "certification/due.html", {
        "can_record": policy.allows(request.user, RECORD_RULE),
        "breadcrumbs": _crumbs((str(_("到期提醒")), "")),
        "print_query": request.GET.urlencode(),
    })


class CertificationTable(Table):
    columns = [
        Column("person__name", _("姓名"), sortable=True,
               link=lambda row: reverse("certification:person", args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number", sortable=True),
        Column("person__town__name", _("镇街道"), sortable=True, sort_field="person__town__sort"),
        Column("certified_on", _("认证日期"), kind="date", sortable=True),
        Column("method", _("认证方式"), kind="choice", choices=Method.choices, sortable=True),
        Column("place", _("认证地点")),
        Column("source", _("来源")),
        Column("operator__username", _("经办人"), sortable=True),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_search, placeholder=_("姓名、身份证号或后几位")),
        ChoiceFilter("town", _("镇街道"), field="person__town_id", choices=_towns),
        ChoiceFilter("method", _("认证方式"), choices=Method.choices),
        DateRangeFilter("on", _("认证日期"), field="certified_on"),
    ]
    extra_fields = ("person_id",)
    default_sort = "-certified_on"
    export_name = _("生存认证记录")
    dom_id = "cert-list"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)


@page(VIEW_RULE)
def certification_list(request):
    table = CertificationTable(request, sel.certifications(user=request.user))
    return render_table(request, table, "certification/list.html", {
        "can_import": policy.allows(request.user, IMPORT_RULE),
        "breadcrumbs": _crumbs((str(_("生存认证")), "")),
    })


def _person_page(request, person, form, title, extra=None):
    enrollments = list(Enrollment.objects.filter(person=person).select_related("scheme").order_by("scheme__sort"))
    due_rows = {e.pk: e for e in sel.receiving(user=request.user).filter(person=person)}
    for e in enrollments:
        row = due_rows.get(e.pk)
        e.due_on = row.due_on if row else None
        e.grace_end = grace_end(row.due_on) if row and row.due_on else None
        e.open_suspension = Suspension.objects.filter(enrollment=e, to_month__isnull=True).select_related(
            "reason").first()
    return render(request, "certification/person.html", {
        "person": person, "form": form, "title": title, "enrollments": enrollments,
        "history": sel.history_of(person)[:50], "can_record": policy.allows(request.user, RECORD_RULE),
        "can_death": death_denial(request.user, person) is None and person.death_date is None,
        "contacts": PersonContact.objects.filter(person=person, active=True),
        "can_contact": policy.allows(request.user, COMMUNITY_RULE),
        "contact_form": (extra or {}).pop("contact_form", None), "contact_blank": f.ContactForm(),
        "breadcrumbs": _crumbs((str(_("生存认证")), reverse("certification:list")), (person.name, "")),
        **(extra or {}),
    })


@page(RECORD_RULE)
def record(request, pk: int):
    """One person's certification state and history, and the form recording a certification."""
    person = person_get(user=request.user, pk=pk)
    form = f.RecordForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            result = write_once(request, "certification.record", lambda: certification_record(
                person, d["certified_on"], d["method"], request.user, place=d["place"], note=d["note"],
                attachment=d.get("attachment")))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("certification:person", pk=person.pk)
        except CertificationError as exc:
            form.add_error(None, str(exc))
        else:
            if not result.created:
                messages.info(request, gettext("%(name)s %(on)s 已有认证记录，未重复登记") % {
                    "name": person.name, "on": d["certified_on"]})
            else:
                msg = gettext("%(name)s %(on)s 生存认证已登记") % {"name": person.name, "on": d["certified_on"]}
                for r in result.resumed:
                    if r.how == "cancelled":
                        msg += gettext("；%(scheme)s撤销暂停，照常发放") % {"scheme": r.enrollment.scheme.name}
                    else:
                        msg += gettext("；%(scheme)s %(month)s 起恢复发放，补发 %(amount)s 元（%(count)s 个月）") % {
                            "scheme": r.enrollment.scheme.name, "month": f"{r.from_month:%Y-%m}",
                            "amount": r.arrears, "count": len(r.months)}
                messages.success(request, msg)
            return redirect("certification:person", pk=person.pk)
    return _person_page(request, person, form, gettext("生存认证"))


@page(VIEW_RULE)
def person(request, pk: int):
    person = person_get(user=request.user, pk=pk)
    # a 社区专管员 certifies on a visit: the form starts at 社区上门
    initial = {"method": Method.COMMUNITY} if policy.community_ids(request.user) else None
    form = f.RecordForm(initial=initial) if policy.allows(request.user, RECORD_RULE) else None
    return _person_page(request, person, form, gettext("生存认证"))


@page(DEATH_RULE)
def death(request, pk: int):
    """死亡减员: the first POST shows what will happen; the second, with confirm=1, does it."""
    person = person_get(user=request.user, pk=pk)
    reason = death_denial(request.user, person)
    if reason:
        raise policy.Denied(reason)
    form = f.DeathForm(request.POST or None)
    nb = Enrollment.objects.filter(person=person, scheme__code="NB").exists()
    extra: dict = {"nb": nb}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if request.POST.get("confirm") == "1":
            try:
                result = write_once(request, "certification.death", lambda: person_death(
                    person=person, on=d["death_date"], user=request.user, source=d["source"], note=d["note"]))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("certification:person", pk=person.pk)
            except CertificationError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext(
                    "%(name)s 死亡减员已办理：多发 %(over)s 元，从应补发中扣回 %(back)s 元，待追回 %(rest)s 元") % {
                    "name": person.name, "over": result.overpayment, "back": result.recovered_from_owed,
                    "rest": result.to_recover})
                if nb:
                    messages.info(request, gettext("该人员参加老农保：请继续办理老农保死亡结算（代领人、保证期）"))
                return redirect("certification:person", pk=person.pk)
        else:
            extra["preview"] = d
    return render(request, "certification/death.html", {
        "person": person, "form": form, **extra,
        "breadcrumbs": _crumbs((person.name, reverse("certification:person", args=[person.pk])),
                               (str(_("死亡减员")), "")),
    })


def _upload_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "certification" / "uploads"


@page(IMPORT_RULE)
def import_page(request):
    """批量导入: upload → preview (nothing written) → confirm (the file kept between the two under a
    random name bound to the uploader)."""
    form = f.ImportForm(request.POST or None, request.FILES or None)
    ctx: dict = {"form": form, "breadcrumbs": _crumbs((str(_("生存认证")), reverse("certification:list")),
                                                      (str(_("批量导入")), ""))}
    if request.method == "POST" and request.POST.get("token"):
        token = request.POST["token"]
        method = request.POST.get("method", "")
        if not token.isalnum() or len(token) > 64 or method not in Method.values:
            raise Http404
        matches = list(_upload_dir().glob(f"{request.user.pk}-{token}.*"))
        if not matches:
            messages.error(request, gettext("上传的文件已失效，请重新上传"))
            return redirect("certification:import")
        path = matches[0]
        try:
            result = write_once(request, "certification.import", lambda: certification_import(
                file_name=path.name.split("-", 1)[1], data=path.read_bytes(), method=method, user=request.user,
                source=f"导入 {request.POST.get('name', '')[:100]}"))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("certification:list")
        except CertificationError as exc:
            messages.error(request, str(exc))
            return redirect("certification:import")
        path.unlink(missing_ok=True)
        messages.success(request, gettext("导入完成：新增 %(created)s 条，已有记录 %(same)s 行，错误 %(bad)s 行（未写入），"
                                          "恢复发放 %(resumed)s 人次") % {
            "created": result.created, "same": result.unchanged, "bad": len(result.bad), "resumed": result.resumed})
        return redirect("certification:list")
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read()
        try:
            result = certification_import(file_name=upload.name, data=data, method=form.cleaned_data["method"],
                                          user=request.user, dry_run=True)
        except CertificationError as exc:
            form.add_error("file", str(exc))
        else:
            token = secrets.token_hex(16)
            ext = upload.name.rsplit(".", 1)[-1].lower()
            _upload_dir().mkdir(parents=True, exist_ok=True)
            (_upload_dir() / f"{request.user.pk}-{token}.{ext}").write_bytes(data)
            ctx.update({"preview": result, "token": token, "name": upload.name, "bad": result.bad[:500],
                        "method": form.cleaned_data["method"],
                        "method_label": Method(form.cleaned_data["method"]).label,
                        "to_write": len(result.good) - result.unchanged})
    return render(request, "certification/import.html", ctx)


@page(COMMUNITY_RULE)
def contact(request, pk: int):
    """Add a 家属/代理人 contact to a person (POST from the person page)."""
    person = person_get(user=request.user, pk=pk)
    form = f.ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            write_once(request, "certification.contact", lambda: contact_add(
                person=person, user=request.user, name=d["name"], relation=d["relation"], phone=d["phone"],
                relation_note=d["relation_note"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
        except CertificationError as exc:
            form.add_error(None, str(exc))
            return _person_page(request, person, None, gettext("生存认证"), {"contact_form": form})
        else:
            messages.success(request, gettext("已添加联系人 %(name)s") % {"name": d["name"]})
        # the 人员维护 page's form comes back there (a fixed choice, never a URL from the request)
        return redirect("certification:maintain" if request.POST.get("back") == "maintain" else "certification:person",
                        pk=person.pk)
    return _person_page(request, person, None, gettext("生存认证"), {"contact_form": form})


@page(VIEW_RULE)
def communities(request):
    """村社区 of the user's scope with their people: receiving, due in 30 days, overdue, suspended."""
    today = timezone.localdate()
    counts = sel.community_counts(user=request.user, today=today)
    infos = {i.region_id: i for i in CommunityInfo.objects.all()}
    rows = []
    for c in sel.communities_visible(user=request.user):
        n = counts.get(c.pk, {})
        rows.append({"region": c, "info": infos.get(c.pk), "receiving": n.get("receiving", 0), "due": n.get("due", 0),
                     "overdue": n.get("overdue", 0), "suspended": n.get("suspended", 0)})
    show_all = request.GET.get("all") == "1"
    if not show_all:
        rows = [r for r in rows if r["receiving"]]
    return render(request, "certification/communities.html", {
        "rows": rows, "show_all": show_all, "breadcrumbs": _crumbs((str(_("社区与联系人")), "")),
    })


@page(VIEW_RULE)
def community(request, pk: int):
    region = sel.communities_visible(user=request.user).filter(pk=pk).first()
    if region is None:
        raise Http404(gettext("村社区不存在或不在您的管辖范围内"))
    info = CommunityInfo.objects.filter(region=region).first()
    can_edit = policy.allows(request.user, COMMUNITY_RULE)
    form = f.CommunityForm(request.POST or None, initial={k: getattr(info, k) for k in
                                                          ("address", "contact_name", "phone", "mobile", "note")}
                           if info else None)
    if request.method == "POST":
        if not can_edit:
            raise policy.Denied()
        if form.is_valid():
            try:
                write_once(request, "certification.community", lambda: community_save(
                    region=region, user=request.user, **form.cleaned_data))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
            except CertificationError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("村社区信息已保存"))
                return redirect("certification:community", pk=region.pk)
    counts = sel.community_counts(user=request.user, today=timezone.localdate()).get(region.pk, {})
    return render(request, "certification/community.html", {
        "region": region, "info": info, "form": form, "can_edit": can_edit, "counts": counts,
        "states": [("", _("领取待遇"), counts.get("receiving", 0)), ("due", _("30 天内到期"), counts.get("due", 0)),
                   ("overdue", _("逾期未认证"), counts.get("overdue", 0)),
                   ("suspended", _("已暂停"), counts.get("suspended", 0))],
        "breadcrumbs": _crumbs((str(_("社区与联系人")), reverse("certification:communities")), (region.name, "")),
    })


@page(VIEW_RULE)
def stats(request):
    """统计: by 镇街道 (or the 村社区 of one): receiving, suspended, due, overdue, certified this year by
    method; a chart; xlsx."""
    today = timezone.localdate()
    towns = _towns(request)
    town_id = request.GET.get("town") or ""
    if town_id and town_id not in {str(t) for t, _ in towns}:
        town_id = ""
    scope = policy.region_scope(request.user)
    if not town_id and "town" not in request.GET and scope and not scope[0] and scope[1] and len(towns) == 1:
        town_id = str(towns[0][0])  # a 社区专管员 of one town: their 村社区, not the town as one row
    rows = sel.statistics(user=request.user, today=today, town_id=int(town_id) if town_id else None)
    total = sel.statistics_total(rows)
    total["name"] = gettext("合计")
    methods = [str(label) for _, label in Method.choices]
    headers = [gettext("村社区") if town_id else gettext("镇街道"), gettext("领取待遇"), gettext("已暂停"),
               gettext("30 天内到期"), gettext("逾期未认证"), *[gettext("%(m)s认证") % {"m": m} for m in methods],
               gettext("本年认证合计"), gettext("数据比对占比(%)")]
    if request.GET.get("export") == "xlsx":
        return _stats_xlsx(headers, [*rows, total] if rows else [], today)
    chart = {"labels": [r["name"] for r in rows], "receiving": [r["receiving"] for r in rows],
             "due": [r["due"] for r in rows], "overdue": [r["overdue"] for r in rows],
             "suspended": [r["suspended"] for r in rows],
             "data_share": [float(r["data_share"]) if r["data_share"] is not None else None for r in rows],
             "labels_i18n": {"receiving": gettext("领取待遇"), "due": gettext("30 天内到期"),
                             "overdue": gettext("逾期未认证"), "suspended": gettext("已暂停"),
                             "share": gettext("数据比对占比(%)"), "persons": gettext("人")}}
    return render(request, "certification/stats.html", {
        "rows": rows, "total": total, "headers": headers, "methods": methods, "chart": chart, "towns": towns,
        "town_id": town_id,
        "year": today.year, "breadcrumbs": _crumbs((str(_("统计")), "")),
    })


def _stats_xlsx(headers, rows, today):
    import io
    from urllib.parse import quote

    from django.http import FileResponse

    from shebao.common.sheets import XlsxWriter

    buffer = io.BytesIO()
    with XlsxWriter(buffer, sheet_name="生存认证统计", headers=[str(h) for h in headers]) as writer:
        for r in rows:
            writer.write_row([r["name"], r["receiving"], r["suspended"], r["due"], r["overdue"], *r["methods"],
                              r["certified"], r["data_share"]])
    buffer.seek(0)
    name = f"生存认证统计-{today:%Y%m%d}.xlsx"
    response = FileResponse(buffer, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename=\"stats.xlsx\"; filename*=UTF-8''{quote(name)}"
    return response


# --------------------------------------------------------------------------------------------------
# 人员维护 (shgl.persons): a person's 社会化管理 data — 村社区, phones, 走访地址, 居住状况, 家属/代理人

NO_PROFILE = sel.NO_PROFILE
GAPS = [("no_community", _("未填村社区")), ("no_contact", _("无联系人")), ("no_mobile", _("无手机")),
        ("no_address", _("无走访地址")), ("away", _("不在本地居住"))]
SCHEMES = [("ZG", _("自管人员")), ("NB", _("老农保")), ("BZ", _("养老保障")), ("TB", _("土保补贴"))]


def _living_choices(request):
    return [(NO_PROFILE, gettext("未登记")), *SocialProfile.Living.choices]


def _living_filter(qs, value, request):
    return qs.filter(social_profile__isnull=True) if value == NO_PROFILE else qs.filter(social_profile__living=value)


def _gap_filter(qs, value, request):
    return {
        "no_community": lambda: qs.filter(community__isnull=True),
        "no_contact": lambda: qs.filter(contacts=0),
        "no_mobile": lambda: qs.filter(mobile=""),
        "no_address": lambda: qs.filter(visit_address=""),
        "away": lambda: qs.exclude(living__in=[NO_PROFILE, SocialProfile.Living.HOME]),
    }[value]()


def _scheme_filter(qs, value, request):
    return qs.filter(pk__in=Enrollment.objects.filter(scheme__code=value, payment_status__in=["active", "suspended"])
                     .values("person_id"))


class PersonsTable(Table):
    columns = [
        Column("name", _("姓名"), sortable=True, link=lambda row: reverse("certification:maintain", args=[row["id"]])),
        Column("id_number", _("身份证号"), kind="id_number", sortable=True),
        Column("town__name", _("镇街道"), sortable=True, sort_field="town__sort"),
        Column("community__name", _("村社区"), sortable=True),
        Column("mobile", _("手机"), kind="phone"),
        Column("visit_address", _("走访地址")),
        Column("living", _("居住状况"), kind="choice", choices=[(NO_PROFILE, _("未登记")), *SocialProfile.Living.choices],
               sortable=True),
        Column("contacts", _("联系人"), kind="num", sortable=True),
        Column("schemes", _("险种")),
        Column("suspended", _("暂停发放"), kind="bool", sortable=True),
        Column("last_certified", _("上次认证"), kind="date", sortable=True),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=lambda qs, v, r: person_search(
            user=r.user, q=v, limit=None, within=qs), placeholder=_("姓名、身份证号或后几位")),
        ChoiceFilter("town", _("镇街道"), field="town_id", choices=_towns),
        ChoiceFilter("community", _("村社区"), field="community_id",
                     choices=lambda request: [(c.pk, f"{c.parent.name} {c.name}")
                                              for c in sel.communities_visible(user=request.user)]),
        ChoiceFilter("living", _("居住状况"), method=_living_filter, choices=_living_choices),
        ChoiceFilter("gap", _("资料不全"), method=_gap_filter, choices=GAPS),
        ChoiceFilter("scheme", _("险种"), method=_scheme_filter, choices=SCHEMES),
    ]
    extra_fields = ("id",)
    default_sort = "name"
    export_name = _("社会化管理人员名单")
    dom_id = "shgl-persons"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)

    def cell_visit_address(self, value, row):
        return self.masker.address(value or "")

    def xlsx_visit_address(self, value, row):
        return self.masker.address(value or "")


@page(VIEW_RULE)
def persons(request):
    """人员维护: the persons 社会化管理 looks after, with their 村社区, phones, 走访地址, 居住状况 and contacts;
    filters for what is missing; 导出Excel."""
    table = PersonsTable(request, sel.social_persons(user=request.user))
    return render_table(request, table, "certification/persons.html", {
        "can_edit": policy.allows(request.user, COMMUNITY_RULE),
        "can_add_person": policy.has_perm(request.user, "registry.add_person"),
        "breadcrumbs": _crumbs((str(_("人员维护")), "")),
    })


def _masked(person, profile, masker) -> dict:
    return {"mobile": masker.phone(person.mobile) if person.mobile else "",
            "phone": masker.phone(person.phone) if person.phone else "",
            "visit_address": masker.address(profile.visit_address) if profile and profile.visit_address else ""}


@page(VIEW_RULE)
def maintain(request, pk: int):
    """One person's 社会化管理 data: read by every viewer, saved by 维护村社区信息与人员联系人 (audited)."""
    from shebao.common.masking import masker_for

    person = person_get(user=request.user, pk=pk)
    profile = SocialProfile.objects.filter(person=person).select_related("updated_by").first()
    can_edit = policy.allows(request.user, COMMUNITY_RULE) and person.death_date is None
    sees = policy.sees_sensitive(request.user)
    masker = masker_for(request.user)
    initial = {"community": person.community_id, "living": profile.living if profile else "home",
               "living_place": profile.living_place if profile else "",
               "visit_note": profile.visit_note if profile else ""}
    if sees:
        initial |= {"mobile": person.mobile, "phone": person.phone,
                    "visit_address": profile.visit_address if profile else ""}
    form = f.SocialForm(request.POST or None, initial=initial, person=person, sees_sensitive=sees,
                        masked=_masked(person, profile, masker)) if can_edit else None
    if request.method == "POST":
        if not can_edit:
            raise policy.Denied()
        if form.is_valid():
            d = dict(form.cleaned_data)
            if not sees:  # left empty by a user who never saw them: unchanged
                for key in ("mobile", "phone"):
                    if not d[key]:
                        d.pop(key)
                if not d["visit_address"]:
                    d["visit_address"] = profile.visit_address if profile else ""
            try:
                write_once(request, "certification.maintain", lambda: person_social_save(person=person, user=request.user,
                                                                                   **d))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("certification:maintain", pk=person.pk)
            except CertificationError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("%(name)s 的社会化管理信息已保存") % {"name": person.name})
                return redirect("certification:maintain", pk=person.pk)
    enrollments = list(sel.receiving(user=request.user).filter(person=person).order_by("scheme__sort"))
    return render(request, "certification/maintain.html", {
        "person": person, "profile": profile, "form": form, "can_edit": can_edit, "enrollments": enrollments,
        "contacts": PersonContact.objects.filter(person=person).order_by("-active", "id"),
        "can_contact": policy.allows(request.user, COMMUNITY_RULE) and person.death_date is None,
        "contact_blank": f.ContactForm(), "masked": _masked(person, profile, masker),
        "can_death": death_denial(request.user, person) is None and person.death_date is None,
        "breadcrumbs": _crumbs((str(_("人员维护")), reverse("certification:persons")), (person.name, "")),
    })


@page(COMMUNITY_RULE)
def contact_stop(request, pk: int, contact_pk: int):
    """停用 a 家属/代理人 contact of a person (POST from the 人员维护 page)."""
    person = person_get(user=request.user, pk=pk)
    contact = PersonContact.objects.filter(person=person, pk=contact_pk).first()
    if contact is None:
        raise Http404(gettext("联系人不存在"))
    if request.method == "POST":
        try:
            write_once(request, "certification.contact_stop", lambda: contact_deactivate(contact=contact, user=request.user))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
        except CertificationError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, gettext("已停用联系人 %(name)s") % {"name": contact.name})
    return redirect("certification:maintain", pk=person.pk)


# --------------------------------------------------------------------------------------------------
# 认证附件: the photos and scans of the evidence, listed and downloaded within the user's scope


class AttachmentsTable(Table):
    columns = [
        Column("person__name", _("姓名"), sortable=True,
               link=lambda row: reverse("certification:person", args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number", sortable=True),
        Column("person__town__name", _("镇街道"), sortable=True, sort_field="person__town__sort"),
        Column("person__community__name", _("村社区"), sortable=True),
        Column("certified_on", _("认证日期"), kind="date", sortable=True),
        Column("method", _("认证方式"), kind="choice", choices=Method.choices, sortable=True),
        Column("attachment_name", _("附件"), link=lambda row: reverse("certification:attachment", args=[row["id"]])),
        Column("operator__full_name", _("经办人"), sortable=True),
        Column("created_at", _("登记时间"), kind="datetime", sortable=True),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_search, placeholder=_("姓名、身份证号或后几位")),
        ChoiceFilter("town", _("镇街道"), field="person__town_id", choices=_towns),
        ChoiceFilter("method", _("认证方式"), choices=Method.choices),
        DateRangeFilter("on", _("认证日期"), field="certified_on"),
    ]
    extra_fields = ("id", "person_id")
    default_sort = "-certified_on"
    export_name = _("生存认证附件")
    dom_id = "cert-attachments"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)

    def cell_attachment_name(self, value, row):
        from django.utils.html import format_html

        return format_html('<a href="{}" download>{}</a>', reverse("certification:attachment", args=[row["id"]]),
                           value or gettext("附件"))


@page(VIEW_RULE)
def attachments(request):
    """认证附件: certifications of the user's scope that carry a photo or scan, each downloadable."""
    table = AttachmentsTable(request, sel.certifications(user=request.user).exclude(attachment=""))
    return render_table(request, table, "certification/attachments.html", {
        "breadcrumbs": _crumbs((str(_("生存认证")), reverse("certification:list")), (str(_("认证附件")), "")),
    })


@page(VIEW_RULE)
def attachment(request, pk: int):
    """Download one certification's attachment: found through the user's scope (another town's or
    另一村社区's looks missing), served as a download (never inline) under its cleaned name, with the
    content type its first bytes show; audited (evidence about a person)."""
    from urllib.parse import quote

    from django.core.exceptions import SuspiciousFileOperation
    from django.http import FileResponse

    from shebao.common.audit import audit_record
    from shebao.web.guards import person_in_scope

    cert = sel.certifications(user=request.user).filter(pk=pk).exclude(attachment="").first()
    if cert is None:
        raise Http404(gettext("附件不存在或不在您的管辖范围内"))
    person_in_scope(request.user, cert.person)
    try:
        handle = cert.attachment.open("rb")
    except (FileNotFoundError, SuspiciousFileOperation):
        raise Http404(gettext("附件文件已不存在")) from None
    head = handle.read(16)
    handle.seek(0)
    ext, content_type = "bin", "application/octet-stream"
    for kind, (ctype, magics) in ATTACHMENT_KINDS.items():
        if any(head.startswith(m) for m in magics):
            ext, content_type = ("jpg" if kind == "jpeg" else kind), ctype
            break
    name = attachment_safe_name(cert.attachment_name or f"认证附件-{cert.certified_on:%Y%m%d}", ext)
    with transaction.atomic():
        audit_record(user=request.user, action="certification_attachment_download", obj=cert, person_id=cert.person_id,
                     summary=f"下载 {cert.person.name} {cert.certified_on:%Y-%m-%d} 生存认证附件 {name}")
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename=\"certification-{cert.pk}.{ext}\"; filename*=UTF-8''{quote(name)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
