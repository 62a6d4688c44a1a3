"""Debian's chromium driven by Playwright, logged in as a test user, for the page tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.test import Client

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Headless as root, and nothing that reaches for Google's servers (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def launch(playwright):
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make test-deps` installs Debian's chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def session_cookie(user, url: str) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}


@contextmanager
def allow_sync_orm() -> Iterator[None]:
    # Playwright's sync API keeps an event loop on the test thread; the ORM calls the tests
    # make there are plain synchronous ones.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@contextmanager
def logged_in_page(live_server_url: str, user, *, width: int = 1280, height: int = 900):
    """A page of a fresh browser logged in as ``user``. ``page.base`` is the server's URL and
    ``page.errors`` collects uncaught JavaScript errors and console errors (tests assert it
    stays empty)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with allow_sync_orm(), sync_playwright() as p:
        browser = launch(p)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": height})
            ctx.add_cookies([session_cookie(user, live_server_url)])
            page = ctx.new_page()
            page.errors = []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
            page.base = live_server_url
            yield page
        finally:
            browser.close()


@contextmanager
def anonymous_page(live_server_url: str, *, width: int = 1280, height: int = 900):
    """A page of a fresh browser with no session (public pages). ``page.errors`` as in
    ``logged_in_page``; ``page.requests`` lists every URL the page asked for."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with allow_sync_orm(), sync_playwright() as p:
        browser = launch(p)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": height})
            page = ctx.new_page()
            page.errors = []
            page.requests = []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
            page.on("request", lambda r: page.requests.append(r.url))
            page.base = live_server_url
            yield page
        finally:
            browser.close()
