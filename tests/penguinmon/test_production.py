"""The production profile: behind a TLS-terminating proxy, with the variables the README
documents, Django's deployment checks pass and the app answers as an HTTPS site must."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PENGUINMON_BASE_URL": "https://penguinmon.example",
    "SECRET_KEY": "k3Y-for-tests_only-qz8VnR2mW5tL9pXc4bJ7hF1sD6gA0eUyTi",
}
# What a request through the proxy and a plain one look like, seen by the real settings.
PROBE = """
import json, django
django.setup()
from django.test import Client
out = {}
plain = Client().get("/accounts/login/", HTTP_HOST="penguinmon.example")
out["plain"] = [plain.status_code, plain.get("Location", "")]
proxied = Client().get("/accounts/login/", HTTP_HOST="penguinmon.example", HTTP_X_FORWARDED_PROTO="https")
out["proxied"] = [proxied.status_code, proxied.get("Strict-Transport-Security", "")]
out["cookie_secure"] = bool(proxied.cookies["csrftoken"]["secure"])
health = Client().get("/api/health", HTTP_HOST="127.0.0.1")
out["health"] = health.status_code
print(json.dumps(out))
"""


def _run(args: list[str], extra_env: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="penguinmon.settings", PENGUINMON_TESTING="1", **extra_env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_documented_variables():
    done = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_the_plain_http_default_keeps_the_warnings_it_should():
    done = _run(
        ["manage.py", "check", "--deploy"], {"PENGUINMON_BASE_URL": "http://127.0.0.1:8000"}
    )
    for warning in ("W004", "W008", "W012", "W016"):
        assert warning in done.stderr + done.stdout


def test_behind_the_proxy_http_is_redirected_and_https_gets_hsts_and_secure_cookies():
    done = _run(["-c", PROBE], PRODUCTION)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://penguinmon.example/accounts/login/"]
    assert seen["proxied"][0] == 200
    assert seen["proxied"][1] == "max-age=31536000; includeSubDomains"
    assert seen["cookie_secure"] is True
    assert seen["health"] == 200  # the container health check speaks plain HTTP


def test_secure_cookies_can_be_turned_off_explicitly():
    probe = "import django; django.setup(); from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    done = _run(["-c", probe], {**PRODUCTION, "SECURE_COOKIES": "false"})
    assert done.stdout.split() == ["False", "False"], done.stderr
    done = _run(["-c", probe], {**PRODUCTION, "SECURE_COOKIES": ""})  # compose's empty = default
    assert done.stdout.split() == ["True", "True"], done.stderr
