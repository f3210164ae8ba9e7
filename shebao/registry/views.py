"""Person pages: search/list, detail, create, edit, change of payment account. Thin: parse, call one
selector or service, render. Region scope comes from ``persons_visible``/``person_get`` (out of scope
is a 404, the same as missing)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from shebao.common.identity import IdNumberError, parse_id_number
from shebao.common.masking import masker_for
from shebao.common.models import AuditEvent
from shebao.payroll.selectors import payroll_account_rejections
from shebao.registry.forms import BankAccountForm, PersonCreateForm, PersonEditForm
from shebao.registry.models import Person, Region
from shebao.registry.rules import ADD, CHANGE, CHANGE_ACCOUNT, FORM_REGIONS, VIEW
from shebao.registry.selectors import (
    ID_FRAGMENT,
    person_get,
    person_search,
    persons_visible,
    town_choices,
    towns_visible,
)
from shebao.registry.services import RegistryError, bank_account_set, person_create, person_update
from shebao.web import person_sections
from shebao.web.audit import audit_rows
from shebao.web.guards import page
from shebao.web.tables import ChoiceFilter, Column, Table, TextFilter, render_table

SUGGEST_LIMIT = 8


def _search_filter(qs, value, request):
    return person_search(user=request.user, q=value, limit=None, within=qs)


class PersonTable(Table):
    columns = [
        Column("name", gettext_lazy("姓名"), sortable=True, link=("registry:person_detail", "pk")),
        Column("id_number", gettext_lazy("身份证号"), kind="id_number", sortable=True),
        Column("sex", gettext_lazy("性别"), kind="choice"),
        Column("birth_date", gettext_lazy("出生日期"), kind="date", sortable=True),
        Column("town__name", gettext_lazy("镇街道"), sortable=True, sort_field="town__sort"),
        Column("community__name", gettext_lazy("村社区"), sortable=True),
        Column("mobile", gettext_lazy("手机"), kind="phone"),
        Column("death_date", gettext_lazy("死亡日期"), kind="date", sortable=True),
        Column("created_at", gettext_lazy("登记时间"), kind="datetime", sortable=True),
    ]
    filters = [
        TextFilter("q", gettext_lazy("姓名/身份证号"), method=_search_filter,
                   placeholder=gettext_lazy("姓名、身份证号或后几位、拼音首字母")),
        ChoiceFilter("town", gettext_lazy("镇街道"), field="town_id",
                     choices=lambda request: town_choices(request.user)),
        ChoiceFilter("sex", gettext_lazy("性别"), choices=Person.Sex.choices),
    ]
    default_sort = "name"
    export_name = gettext_lazy("人员名单")
    dom_id = "persons"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)


def _exact_match(user, q: str) -> Person | None:
    """The one person an Enter in the search box should open: an exact 身份证号 or name match, or the
    only result of the search."""
    q = (q or "").strip()
    if not q:
        return None
    visible = persons_visible(user)
    exact = None
    if len(q) in (15, 18) and ID_FRAGMENT.match(q):
        try:
            number = parse_id_number(q).number
        except IdNumberError:
            number = q.upper()
        exact = list((visible.filter(id_number=number) | visible.filter(id_number_original=q))[:2])
    elif not ID_FRAGMENT.match(q):
        exact = list(visible.filter(name=q)[:2])
    if exact and len(exact) == 1:
        return exact[0]
    found = list(person_search(user=user, q=q, limit=2))
    return found[0] if len(found) == 1 else None


@page(VIEW)
def person_list(request):
    q = (request.GET.get("q") or "").strip()
    if request.GET.get("go") and q:
        person = _exact_match(request.user, q)
        if person is not None:
            return redirect("registry:person_detail", pk=person.pk)
    table = PersonTable(request, persons_visible(request.user), dom_id="persons")
    return render_table(request, table, "registry/person_list.html", {
        "can_add": request.user.has_perm("registry.add_person"),
        "q": q,
    })


@page(VIEW)
@require_GET
def person_suggest(request):
    """The live results under a search box (htmx): the first few matches and a link to all."""
    q = (request.GET.get("q") or "").strip()
    persons = list(person_search(user=request.user, q=q, limit=SUGGEST_LIMIT + 1)) if q else []
    masker = masker_for(request.user)
    items = [{
        "url": reverse("registry:person_detail", args=[p.pk]),
        "name": p.name,
        "id_number": masker.id_number(p.id_number),
        "sex": p.get_sex_display(),
        "town": p.town.name,
        "dead": p.death_date is not None,
    } for p in persons[:SUGGEST_LIMIT]]
    return render(request, "registry/person_suggest.html", {
        "q": q, "items": items, "more": len(persons) > SUGGEST_LIMIT,
        "all_url": reverse("registry:person_list") + "?" + request.GET.urlencode(),
    })


@page(VIEW)
def person_detail(request, pk: int):
    person = person_get(user=request.user, pk=pk)
    accounts = person.bank_accounts.order_by(F("valid_to").desc(nulls_first=True), "-valid_from", "-id")
    events = AuditEvent.objects.filter(person_id=person.pk).select_related("user").order_by("-id")[:100]
    user = request.user
    return render(request, "registry/person_detail.html", {
        "person": person,
        "accounts": list(accounts),
        "sections": person_sections.collect(person, request),
        "audit_rows": audit_rows(events, masker_for(user)),
        "can_edit": user.has_perm("registry.change_person"),
        "can_change_account": user.has_perm("registry.change_bankaccount"),
        "can_view_audit": user.has_perm("accounts.view_audit"),
        "breadcrumbs": [(_("人员查询"), reverse("registry:person_list")), (person.name, "")],
    })


def _form_error(form, exc: RegistryError) -> None:
    form.add_error(None, str(exc))


@page(ADD)
def person_create_view(request):
    form = PersonCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            person = person_create(user=request.user, **form.service_kwargs())
        except RegistryError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已新增人员 %(name)s") % {"name": person.name})
            return redirect("registry:person_detail", pk=person.pk)
    return render(request, "registry/person_form.html", {
        "form": form, "creating": True,
        "breadcrumbs": [(_("人员查询"), reverse("registry:person_list")), (_("新增人员"), "")],
    })


@page(CHANGE)
def person_edit_view(request, pk: int):
    person = person_get(user=request.user, pk=pk)
    form = PersonEditForm(request.POST or None, user=request.user, initial=PersonEditForm.initial_for(person))
    if request.method == "POST" and form.is_valid():
        try:
            before = person.updated_at
            person = person_update(user=request.user, person=person, reason=form.cleaned_data["reason"],
                                   **form.changes())
        except RegistryError as exc:
            _form_error(form, exc)
        else:
            if person.updated_at == before:
                messages.info(request, _("没有修改任何内容"))
            else:
                messages.success(request, _("已保存 %(name)s 的修改") % {"name": person.name})
            return redirect("registry:person_detail", pk=person.pk)
    return render(request, "registry/person_form.html", {
        "form": form, "creating": False, "person": person,
        "breadcrumbs": [(_("人员查询"), reverse("registry:person_list")),
                        (person.name, reverse("registry:person_detail", args=[person.pk])), (_("修改信息"), "")],
    })


@page(CHANGE_ACCOUNT)
def person_account_view(request, pk: int):
    person = person_get(user=request.user, pk=pk)
    form = BankAccountForm(request.POST or None, initial={"holder_name": person.name})
    if request.method == "POST" and form.is_valid():
        try:
            change = bank_account_set(user=request.user, person=person, **form.cleaned_data)
        except RegistryError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已变更 %(name)s 的支付账户") % {"name": person.name})
            for warning in change.warnings:
                messages.warning(request, _("请核对账号：%(warning)s") % {"warning": warning})
            for line in payroll_account_rejections(account_number=change.account.account_number):
                messages.warning(request, _("该账号曾被银行退回：%(period)s 结算批次 #%(run)s 第 %(seq)s 笔（%(reason)s）。"
                                            "如账户仍有问题，发往该账户的待遇在报盘时将作为风险明细暂缓，须审核员放行")
                                 % {"period": f"{line.run.period:%Y-%m}", "run": line.run_id, "seq": line.seq,
                                    "reason": line.reason or _("失败")})
            return redirect("registry:person_detail", pk=person.pk)
    current = person.bank_accounts.filter(valid_to__isnull=True).first()
    return render(request, "registry/person_account_form.html", {
        "form": form, "person": person, "current": current,
        "breadcrumbs": [(_("人员查询"), reverse("registry:person_list")),
                        (person.name, reverse("registry:person_detail", args=[person.pk])), (_("变更支付账户"), "")],
    })


@page(FORM_REGIONS)
@require_GET
def communities(request):
    """<option>s of the communities of one town, for the person form (htmx)."""
    try:
        town_id = int(request.GET.get("town") or 0)
    except ValueError:
        town_id = 0
    options = Region.objects.none()
    if town_id and towns_visible(request.user).filter(pk=town_id).exists():
        options = Region.objects.filter(parent_id=town_id, level=Region.Level.COMMUNITY).order_by("sort", "code")
    return render(request, "registry/community_options.html", {"options": options})
