"""A tiny HTTP GET helper for the probes that speak HTTP APIs (Elasticsearch, ClickHouse)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request


class HttpError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


def get(
    url: str, *, timeout: float, user: str = "", password: str = "", data: bytes | None = None
) -> str:
    request = urllib.request.Request(url, data=data, headers={"User-Agent": "PenguinMon-probe/1"})
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(4 << 20).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise HttpError(exc.code, exc.read(2000).decode("utf-8", "replace")) from exc


def get_json(url: str, **kwargs) -> dict:
    return json.loads(get(url, **kwargs))
