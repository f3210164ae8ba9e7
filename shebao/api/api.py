"""The JSON API (/api/v1/, OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs).

Auth: ``Authorization: Bearer <token>`` for scripts, the Django session (with CSRF) for the web UI.
Errors are JSON ``{"detail": "中文消息"}``: 400 refused change, 401 not signed in, 403 no right,
404 missing or outside the caller's region scope, 422 malformed request."""

from django.core.exceptions import PermissionDenied
from django.db import DataError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from shebao.accounts.services import AccountError
from shebao.api.audit import router as audit_router
from shebao.api.auth import AUTH
from shebao.api.bank import router as bank_router
from shebao.api.bz import router as bz_router
from shebao.api.finance import router as finance_router
from shebao.api.nb import router as nb_router
from shebao.api.payroll import router as payroll_router
from shebao.api.persons import router as persons_router
from shebao.api.regions import router as regions_router
from shebao.api.zg import router as zg_router
from shebao.registry.services import RegistryError

api = NinjaAPI(
    title="慈溪社保本地系统 API", version="1", urls_namespace="api", auth=AUTH,
    description="人员登记、行政区划、审计日志、月度结算、银行报盘回盘、自管人员、老农保、养老保障与社会保险特殊业务收支。脚本使用 `Authorization: Bearer <令牌>`（在“API 令牌”页面签发）。",
)


def _detail(request, message: str, status: int, **extra):
    return api.create_response(request, {"detail": message, **extra}, status=status)


@api.exception_handler(RegistryError)
@api.exception_handler(AccountError)
def _refused(request, exc):
    return _detail(request, str(exc), 400)


@api.exception_handler(DataError)
def _out_of_range(request, exc):
    """A value the database cannot hold (a number past bigint, a date past its range) that got past the
    schemas: the caller's mistake, said in Chinese, never a 500."""
    return _detail(request, "请求数据超出范围（数字或日期过大）", 400)


@api.exception_handler(Http404)
def _not_found(request, exc):
    message = str(exc) if exc.args and str(exc) else "记录不存在或不在您的管辖范围内"
    return _detail(request, message, 404)


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return _detail(request, str(exc) or "您没有进行此操作的权限", 403)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return _detail(request, "未登录，或 API 令牌无效、已吊销或已过期", 401)


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    parts = []
    for error in exc.errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload", "query", "path"))
        parts.append(f"{where}：{error.get('msg', '')}" if where else str(error.get("msg", "")))
    return _detail(request, "请求数据有误：" + "；".join(parts), 422, errors=exc.errors)


api.add_router("/persons", persons_router)
api.add_router("/regions", regions_router)
api.add_router("/audit", audit_router)
api.add_router("/payroll", payroll_router)
api.add_router("/bank", bank_router)
api.add_router("/zg", zg_router)
api.add_router("/nb", nb_router)
api.add_router("/bz", bz_router)
api.add_router("/finance", finance_router)
