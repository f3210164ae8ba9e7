"""Where a form goes back to after its write: the ``next`` it was given, only when it stays on this site."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, default: str) -> str:
    """``next`` from the POST (else the query string) when it is a URL of this site — a relative path,
    or this host, https when the request came over https — otherwise ``default``. Stops a link like
    ``?next=https://evil.example/x`` from sending a user off-site after a write-off (open redirect)."""
    target = (request.POST.get("next") or request.GET.get("next") or "").strip()
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default
