"""The NinjaAPI root: /api/health, /api/docs, /api/openapi.json. Each app's /api/v1/ router is
mounted by the root URLconf (penguinmon.urls), the wiring on top of the apps, so this module
imports no app."""

from __future__ import annotations

import orjson
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import BaseRenderer

from penguinmon.api_errors import error_response
from penguinmon.api_schemas import JSON_OPTIONS
from penguinmon.health import readiness


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, option=JSON_OPTIONS)


class PenguinMonAPI(NinjaAPI):
    # Operation ids are published in the schema and clients generated from it use them. Ninja
    # derives them from the view's module; these modules moved (issue 10), their ids did not.
    MOVED_MODULES = {
        "collectors.store.api": "collectors.api",
        "collectors.monitoring.api": "collectors.api_services",
    }

    def get_openapi_operation_id(self, operation) -> str:
        module = operation.view_func.__module__
        module = self.MOVED_MODULES.get(module, module)
        return f"{module}_{operation.view_func.__name__}".replace(".", "_")


api = PenguinMonAPI(
    title="PenguinMon API",
    version="1",
    description="Metrics ingest and query, services, alerts, incidents and IP reputation. "
    "Send `Authorization: Bearer <token>`; tokens come from `manage.py create_api_token`.",
    renderer=ORJSONRenderer(),
    urls_namespace="api",
)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    details = []
    for err in exc.errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        details.append(f"{loc}: {err.get('msg')}")
    return api.create_response(
        request, {"error": "; ".join(details) or "invalid input", "details": exc.errors}, status=422
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return api.create_response(request, {"error": str(exc.message)}, status=exc.status_code)


@api.exception_handler(Exception)
def _unexpected(request, exc: Exception):
    return error_response(request, exc)


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return api.create_response(
        request,
        {"error": "authentication required: send Authorization: Bearer <token>"},
        status=401,
    )


@api.get("/health", auth=None, tags=["system"])
def health(request):
    """Liveness and readiness: database and Redis reachability."""
    body, status = readiness()
    return api.create_response(request, body, status=status)
