import json
import math
import re

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse

from penguinmon.api_errors import error_response

# The JSON API authenticates itself (bearer tokens or session, see penguinmon/api_auth.py)
# and answers 401 in JSON; /metrics and static files are for machines.
PUBLIC_PREFIXES = ("/api/", "/metrics", "/static/", "/favicon.ico")


class LoginRequiredMiddleware(DjangoLoginRequired):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(PUBLIC_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


# Receivers whose errors have their protocol's own shape (remote_write: plain text; OTLP: a
# google.rpc.Status in the request's encoding): their senders parse those, not our JSON.
PROTOCOL_PATHS = ("/api/v1/write", "/api/otlp/")


class ApiErrorsMiddleware:
    """Outermost: whatever fails under /api/ answers JSON. The API's own handler covers its
    views; this covers what fails around them (a path no route matches, a middleware losing
    the database, an error page Django rendered) so a script never parses an HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and not request.path.startswith(PROTOCOL_PATHS)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            if status == 404:
                message = "not found: no API route or object matches this path"
            elif status >= 500:
                message = "internal error; it has been logged"
            else:
                message = response.reason_phrase.lower()
            response = HttpResponse(
                json.dumps({"error": message}), status=status, content_type="application/json"
            )
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        return error_response(request, exception)


# Characters no field of the API accepts: NUL (Postgres text and jsonb cannot hold it) and
# the other C0 controls and DEL. Tab, newline and carriage return stay allowed (notes,
# postmortems, messages are multi-line).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ISO_DATE = re.compile(r"(\d{4})-\d\d-\d\d(?:[T ].*)?\Z")
INT_MAX = 2**63 - 1  # the widest integer any column (bigint) or JSON value is stored as
YEAR_MIN, YEAR_MAX = 1970, 2999
# Endpoints that validate their own bodies item by item (ingest batches; Alertmanager's
# webhook, whose firing alerts carry endsAt 0001-01-01 by design).
SELF_VALIDATING = (
    "/api/v1/samples",
    "/api/v1/requests",
    "/api/v1/integrations/alertmanager",
    "/api/v1/write",
    "/api/otlp/v1/metrics",
)
# Prometheus' query API validates its own parameters and answers in Prometheus' error shape.
SELF_VALIDATING_PREFIXES = ("/api/prom/",)


class InputRefused(ValueError):
    pass


def _check_text(text: str, where: str) -> None:
    bad = CONTROL_CHARACTERS.search(text)
    if bad:
        raise InputRefused(f"{where}: contains the control character U+{ord(bad.group()):04X}")
    date = _ISO_DATE.match(text)
    if date and not YEAR_MIN <= int(date.group(1)) <= YEAR_MAX:
        raise InputRefused(f"{where}: dates must fall between {YEAR_MIN} and {YEAR_MAX}")


def _check_value(value, where: str) -> None:
    if isinstance(value, str):
        _check_text(value, where or "body")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -INT_MAX <= value <= INT_MAX:
            raise InputRefused(f"{where}: integer out of range (at most {INT_MAX})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputRefused(f"{where}: must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{where}.{key}" if where else key)
            _check_value(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")


def check_query(query) -> None:
    """InputRefused, naming the parameter, when a query string (a QueryDict) holds what no API
    field may."""
    for key, values in query.lists():
        _check_text(key, "query")
        for value in values:
            _check_text(value, f"query.{key}")


class ApiInputGuardMiddleware:
    """Refuses, with a 422 naming the field, input no API field may hold, before any view
    runs: control characters (NUL above all) in the path, query or JSON body, integers wider
    than 64 bits, NaN/Infinity, and dates outside 1970–2999 (year 0308 broke date arithmetic).
    Each endpoint still validates its own fields; this is the floor under all of them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.path.startswith("/api/")
            and request.path not in SELF_VALIDATING
            and not request.path.startswith(SELF_VALIDATING_PREFIXES)
        ):
            try:
                self._check(request)
            except InputRefused as exc:
                return HttpResponse(
                    json.dumps({"error": str(exc)}), status=422, content_type="application/json"
                )
        return self.get_response(request)

    def _check(self, request) -> None:
        _check_text(request.path, "path")
        check_query(request.GET)
        if (
            request.method in ("POST", "PUT", "PATCH")
            and request.content_type == "application/json"
        ):
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                return  # malformed JSON: the endpoint's parser answers it
            except RecursionError as exc:
                raise InputRefused("body: nested too deeply") from exc
            _check_value(body, "body")


# What csp.decorators set on a response to change its policy; such responses (and those of a
# request that used a nonce) get the library's own per-response build.
CSP_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
# report_only → (header value, excluded path prefixes), built from settings once.
_csp_built: dict[bool, tuple[str, tuple[str, ...]]] = {}


def _csp_policy(report_only: bool) -> tuple[str, tuple[str, ...]]:
    built = _csp_built.get(report_only)
    if built is None:
        name = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
        prefixes = tuple((getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
        built = _csp_built[report_only] = (build_policy(report_only=report_only), prefixes)
    return built


@receiver(setting_changed, dispatch_uid="penguinmon-csp-settings")
def _csp_settings_changed(setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _csp_built.clear()


class CSPMiddleware(LibraryCSPMiddleware):
    """django-csp's middleware with the policy built once: the library rebuilds the same
    header from settings for every response (two dataclass deep copies and a copy per
    directive, ~40-55 µs: more than the other 13 middlewares together on an API answer).
    Same headers, exemptions and nonce guard; a response whose policy a decorator or a nonce
    changes is built by the library as before."""

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in CSP_PER_RESPONSE
        ):
            return super().process_response(request, response)
        if response.status_code in (404, 500) and settings.DEBUG:
            return response  # Django's debug pages, as the library leaves them
        for header, report_only, exempt in (
            (HEADER, False, "_csp_exempt"),
            (HEADER_REPORT_ONLY, True, "_csp_exempt_ro"),
        ):
            policy, excluded = _csp_policy(report_only)
            if (
                policy
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As the library does: a nonce asked for after the header was written raises.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
