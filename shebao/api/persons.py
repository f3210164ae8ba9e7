"""人员: search, list, detail, create, update, payment accounts. Thin: parse, call a selector or service."""

from __future__ import annotations

from typing import Literal

from ninja import Path, Query, Router, Status
from ninja.errors import HttpError

from shebao.api.pagination import DEFAULT_PAGE_SIZE, MAX_ID, MAX_PAGE, MAX_PAGE_SIZE, page_of
from shebao.api.permissions import require
from shebao.api.schemas import (
    BankAccountChangeOut,
    BankAccountIn,
    BankAccountOut,
    PersonCreateIn,
    PersonDetail,
    PersonItem,
    PersonPage,
    PersonUpdateIn,
)
from shebao.registry.models import Region
from shebao.registry.rules import ADD, CHANGE, CHANGE_ACCOUNT, VIEW
from shebao.registry.selectors import bank_codes, person_get, person_search, persons_visible
from shebao.registry.services import bank_account_set, person_create, person_update

router = Router(tags=["人员"])


def _region(region_id: int | None, level: str, label: str) -> Region | None:
    if region_id is None:
        return None
    region = Region.objects.filter(pk=region_id, level=level).first()
    if region is None:
        raise HttpError(400, f"{label}（编号 {region_id}）不存在")
    return region


@router.get("/search", response=list[PersonItem], summary="按身份证号、尾号、姓名或拼音首字母查找")
def persons_search(request, q: str = Query(..., max_length=100), limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE)):
    require(request, VIEW)
    return list(person_search(user=request.auth, q=q, limit=limit))


@router.get("", response=PersonPage, summary="人员列表")
def persons_list(
    request,
    town: int | None = Query(None, ge=1, le=MAX_ID),
    community: int | None = Query(None, ge=1, le=MAX_ID),
    sex: Literal["M", "F"] | None = None,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    limit: int | None = Query(None, ge=1, le=MAX_PAGE_SIZE, description="每页条数（同 page_size，优先）"),
):
    """Within the caller's towns, by name; ``limit`` (or ``page_size``) persons a page, at most 200."""
    require(request, VIEW)
    qs = persons_visible(request.auth).order_by("name_pinyin", "id")  # pinyin order (Person.name_pinyin)
    if town is not None:
        qs = qs.filter(town_id=town)
    if community is not None:
        qs = qs.filter(community_id=community)
    if sex:
        qs = qs.filter(sex=sex)
    return page_of(qs, page=page, page_size=limit or page_size)


@router.post("", response={201: PersonDetail}, summary="新增人员")
def persons_create(request, payload: PersonCreateIn):
    require(request, ADD)
    data = payload.dict()
    town = _region(data.pop("town_id"), Region.Level.TOWN, "镇街道")
    community = _region(data.pop("community_id"), Region.Level.COMMUNITY, "村社区")
    return Status(201, person_create(
        user=request.auth, id_number=data.pop("id_number"), name=data.pop("name"), town=town,
        community=community, sex=data.pop("sex") or None, birth_date=data.pop("birth_date"),
        reason=data.pop("reason"), **data,
    ))


@router.get("/{int:person_id}", response=PersonDetail, summary="人员详情")
def persons_detail(request, person_id: int = Path(..., ge=1, le=MAX_ID)):
    require(request, VIEW)
    return person_get(user=request.auth, pk=person_id)


@router.patch("/{int:person_id}", response=PersonDetail, summary="修改人员信息（须填写原因）")
def persons_update(request, payload: PersonUpdateIn, person_id: int = Path(..., ge=1, le=MAX_ID)):
    require(request, CHANGE)
    person = person_get(user=request.auth, pk=person_id)
    changes = payload.dict(exclude_unset=True)
    reason = changes.pop("reason", "").strip()
    if not reason:
        raise HttpError(400, "请填写修改原因")
    if "town_id" in changes:
        changes["town"] = _region(changes.pop("town_id"), Region.Level.TOWN, "镇街道")
        if changes["town"] is None:
            raise HttpError(400, "镇街道不能为空")
    if "community_id" in changes:
        changes["community"] = _region(changes.pop("community_id"), Region.Level.COMMUNITY, "村社区")
    for key in ("name", "hukou_address", "residence_address", "mobile", "phone", "notes"):
        if key in changes and changes[key] is None:
            changes[key] = ""
    return person_update(user=request.auth, person=person, reason=reason, **changes)


@router.get("/{int:person_id}/bank-accounts", response=list[BankAccountOut], summary="支付账户（含历史）")
def bank_accounts_list(request, person_id: int = Path(..., ge=1, le=MAX_ID)):
    require(request, VIEW)
    person = person_get(user=request.auth, pk=person_id)
    return list(person.bank_accounts.order_by("-valid_from", "-id"))


@router.post(
    "/{int:person_id}/bank-accounts", response={201: BankAccountChangeOut},
    summary="设置当前支付账户（Luhn 校验不通过只提示）",
)
def bank_accounts_set(request, payload: BankAccountIn, person_id: int = Path(..., ge=1, le=MAX_ID)):
    require(request, CHANGE_ACCOUNT)
    person = person_get(user=request.auth, pk=person_id)
    codes = bank_codes()
    if payload.bank not in codes:
        raise HttpError(400, f"未知的开户银行代码 {payload.bank}（可选：{'、'.join(codes)}）")
    change = bank_account_set(
        user=request.auth, person=person, bank=payload.bank, account_number=payload.account_number,
        holder_name=payload.holder_name, branch=payload.branch, valid_from=payload.valid_from,
        reason=payload.reason,
    )
    return Status(201, {"account": change.account, "warnings": change.warnings})
