"""The Prometheus HTTP API under ``/api/prom/api/v1/``: what Grafana's Prometheus data source
calls. GET and form-encoded POST, as Prometheus accepts both; a read token as
``Authorization: Bearer <token>`` or as the password of basic auth (Grafana sends either).
Every answer has Prometheus' envelope: ``{"status": "success", "data": …}`` or
``{"status": "error", "errorType": …, "error": …}``."""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from collections.abc import Callable
from datetime import datetime
from functools import wraps

import promql_parser
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from ninja.errors import HttpError

from collectors.promql import answers, catalog
from collectors.promql.ast import parse
from collectors.promql.engine import MAX_POINTS, evaluate_instant, evaluate_range, steps_for
from collectors.promql.errors import PromQLError
from collectors.store.api import may_read
from penguinmon.api_auth import token_for

# Times Prometheus accepts (years 1–9999), in seconds.
MIN_TIME_S, MAX_TIME_S = -62_135_596_800, 253_402_300_799
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
BUILD_INFO = {
    "version": "2.42.0",
    "revision": "penguinmon",
    "branch": "penguinmon-promql-subset",
    "buildUser": "penguinmon",
    "buildDate": "",
    "goVersion": "",
}


def _credentials(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    return None


def prom_endpoint(view: Callable) -> Callable:
    """Authenticate with a read token, answer errors in Prometheus' shape."""

    @login_not_required  # a token, not a session
    @csrf_exempt  # read-only; Grafana POSTs form-encoded queries without a CSRF token
    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        raw = _credentials(request)
        if raw is None:
            response = answers.error(
                PromQLError(
                    "send a read token as Authorization: Bearer <token> "
                    "or as the basic-auth password",
                    kind="unauthorized",
                    status=401,
                )
            )
            response["WWW-Authenticate"] = 'Basic realm="PenguinMon"'
            return response
        try:
            token = token_for(raw, "read", request)
        except HttpError as exc:
            return answers.error(PromQLError(str(exc.message), kind="forbidden", status=403))
        if token is None:
            return answers.error(
                PromQLError("unknown or revoked token", kind="unauthorized", status=401)
            )
        request.user = token.user
        request.api_token = token
        try:
            return view(request, *args, **kwargs)
        except PromQLError as exc:
            return answers.error(exc)

    return wrapped


def _param(request: HttpRequest, name: str) -> str | None:
    value = request.POST.get(name) if request.method == "POST" else None
    if value is None:
        value = request.GET.get(name)
    if value is not None and "\x00" in value:
        raise PromQLError(f'invalid parameter "{name}": contains a NUL character')
    return value


def _params(request: HttpRequest, name: str) -> list[str]:
    values = request.POST.getlist(name) if request.method == "POST" else []
    values = values or request.GET.getlist(name)
    for value in values:
        if "\x00" in value:
            raise PromQLError(f'invalid parameter "{name}": contains a NUL character')
    return values


def parse_time_ms(text: str | None, name: str, default_ms: int) -> int:
    """Unix seconds (with decimals) or RFC 3339, as Prometheus' parseTime; in milliseconds."""
    if text is None or text == "":
        return default_ms
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is None:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is None or when.tzinfo is None or "T" not in text:
            raise PromQLError(
                f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
            )
        seconds = when.timestamp()
    if not math.isfinite(seconds) or not MIN_TIME_S <= seconds <= MAX_TIME_S:
        raise PromQLError(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp')
    whole = math.trunc(seconds)
    return whole * 1000 + round((seconds - whole) * 1000)


def parse_step_ms(text: str | None) -> int:
    if not text:
        raise PromQLError('invalid parameter "step": cannot parse "" to a valid duration')
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is None:
        try:
            seconds = promql_parser.parse_duration(text).total_seconds()
        except (ValueError, OverflowError):
            raise PromQLError(
                f'invalid parameter "step": cannot parse "{text}" to a valid duration'
            ) from None
    if not math.isfinite(seconds) or abs(seconds) > 2**63 / 1e9:
        raise PromQLError(
            f'invalid parameter "step": cannot parse "{text}" to a valid duration. '
            "It overflows int64"
        )
    if seconds <= 0:
        raise PromQLError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    return max(1, round(seconds * 1000))


def _gate(request: HttpRequest):
    """Metric reads follow the role table, as on /api/v1/query."""
    user = request.user
    return lambda metric: may_read(user, metric)


def _now_ms() -> int:
    return int(time.time() * 1000)


@prom_endpoint
def query(request: HttpRequest) -> HttpResponse:
    node = parse(_param(request, "query") or "")
    at_ms = parse_time_ms(_param(request, "time"), "time", _now_ms())
    return answers.success(
        answers.instant_data(evaluate_instant(node, at_ms, _gate(request)), at_ms)
    )


@prom_endpoint
def query_range(request: HttpRequest) -> HttpResponse:
    start_text, end_text = _param(request, "start"), _param(request, "end")
    if not start_text:
        raise PromQLError('invalid parameter "start": cannot parse "" to a valid timestamp')
    if not end_text:
        raise PromQLError('invalid parameter "end": cannot parse "" to a valid timestamp')
    start = parse_time_ms(start_text, "start", 0)
    end = parse_time_ms(end_text, "end", 0)
    if end < start:
        raise PromQLError("end timestamp must not be before start time")
    step = parse_step_ms(_param(request, "step"))
    if (end - start) // step > MAX_POINTS:
        raise PromQLError(
            f"exceeded maximum resolution of {MAX_POINTS:,} points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )
    node = parse(_param(request, "query") or "")
    value = evaluate_range(node, start, end, step, _gate(request))
    return answers.success(answers.range_data(value, steps_for(start, end, step)))


def _match_selectors(request: HttpRequest, *, required: bool) -> list:
    texts = _params(request, "match[]")
    if required and not texts:
        raise PromQLError("no match[] parameter provided")
    return [catalog.match_selector(text) for text in texts]


@prom_endpoint
def series(request: HttpRequest) -> HttpResponse:
    selectors = _match_selectors(request, required=True)
    return answers.success(catalog.series(selectors, _gate(request)))


@prom_endpoint
def labels(request: HttpRequest) -> HttpResponse:
    selectors = _match_selectors(request, required=False)
    return answers.success(catalog.label_names(selectors, _gate(request)))


@prom_endpoint
def label_values(request: HttpRequest, name: str) -> HttpResponse:
    if not LABEL_NAME.fullmatch(name):
        raise PromQLError(f'invalid label name: "{name}"')
    selectors = _match_selectors(request, required=False)
    return answers.success(catalog.label_values(name, selectors, _gate(request)))


@prom_endpoint
def metadata(request: HttpRequest) -> HttpResponse:
    limit_text = _param(request, "limit")
    try:
        limit = int(limit_text) if limit_text else None
    except ValueError:
        raise PromQLError(f'invalid parameter "limit": cannot parse "{limit_text}"') from None
    return answers.success(catalog.metadata(_param(request, "metric"), limit, _gate(request)))


@prom_endpoint
def buildinfo(request: HttpRequest) -> HttpResponse:
    return answers.success(BUILD_INFO)
