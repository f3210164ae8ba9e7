"""行政区划: towns (镇街道) with their communities (村社区)."""

from __future__ import annotations

from django.db.models import Prefetch
from ninja import Router

from shebao.api.permissions import require
from shebao.api.schemas import Town
from shebao.common.policy import SIGNED_IN
from shebao.registry.models import Region
from shebao.registry.selectors import towns, towns_visible

router = Router(tags=["行政区划"])


@router.get("/towns", response=list[Town], summary="镇街道及其村社区")
def towns_list(request, mine: bool = False):
    """``mine=true``: only the towns in the caller's scope. Region names are no personal data: anyone
    signed in may read them."""
    require(request, SIGNED_IN)
    qs = towns_visible(request.auth) if mine else towns()
    qs = qs.prefetch_related(
        Prefetch("children", queryset=Region.objects.order_by("sort", "code"), to_attr="communities")
    )
    return list(qs)
