"""Schemathesis against the live schema: every operation of /api/openapi.json, called on a
running server with an admin token (read, ingest, write), with valid and invalid input, and
every check schemathesis has (`--checks all`). No answer may be a 5xx.

`make test` runs a short pass (PENGUINMON_FUZZ_EXAMPLES, default 5 per operation and mode);
`make fuzz` runs a long one.
"""

from __future__ import annotations

import contextlib
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode

from penguinmon.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("PENGUINMON_FUZZ_EXAMPLES", "5"))


@pytest.fixture
def token(make_user) -> str:
    admin = make_user(username="fuzz-admin", staff=True)
    admin.is_superuser = True
    admin.save()
    _, raw = ApiToken.issue(user=admin, scopes=["read", "ingest", "write"])
    return raw


# Binary protocol receivers (remote_write) are fuzzed by their own tests, not from the schema.
PROTOCOL_PATHS = {"/v1/write", "/api/v1/write"}


def test_no_operation_answers_a_server_error(live_server, token, settings_override):
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json", headers=auth)
    server_errors: list[str] = []
    other_failures: dict[str, int] = {}
    calls = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in PROTOCOL_PATHS:
            continue  # a snappy protobuf body: its own tests send corrupt and oversize ones
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                # make test replays the same cases every run (reproducible CI); make fuzz
                # (PENGUINMON_FUZZ_EXAMPLES set) explores new ones each time.
                derandomize="PENGUINMON_FUZZ_EXAMPLES" not in os.environ,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                nonlocal calls
                calls += 1
                response = case.call(base_url=live_server.url, headers=auth, timeout=30)
                content_type = (response.headers.get("content-type") or [""])[0]
                # A 5xx, or an error that is not JSON (a YAML export is fine when it succeeds).
                if response.status_code >= 500 or (
                    response.status_code >= 400 and not content_type.startswith("application/json")
                ):
                    server_errors.append(
                        f"{case.operation.label} -> {response.status_code} "
                        f"{content_type}: "
                        f"{response.text[:200]} (request: {case.as_curl_command(headers=auth)[:400]})"
                    )
                    return
                try:
                    case.validate_response(response, headers=auth)
                except (Exception, FailureGroup) as exc:  # noqa: BLE001 - counted below
                    failures = getattr(exc, "exceptions", None) or [exc]
                    name = ", ".join(sorted({type(f).__name__ for f in failures}))
                    other_failures[name] = other_failures.get(name, 0) + 1

            # Unsatisfiable: nothing invalid to send (negative mode of a parameterless GET).
            with contextlib.suppress(Unsatisfiable):
                run()

    print(f"\nschemathesis: {calls} calls, conformance findings (not 5xx): {other_failures}")
    assert calls > 0
    assert server_errors == [], "\n".join(server_errors[:20])


@pytest.fixture
def settings_override(settings):
    # Look-ups a fuzzed request may start go to a closed local port and give up fast.
    settings.REPUTATION_RESOLVER = "127.0.0.1:9"
    settings.REPUTATION_DNS_TIMEOUT = 0.2
    return settings
