"""A real Prometheus (Debian's prometheus 2.42) on 127.0.0.1 for conformance tests and
benchmarks, and helpers to send it (and PenguinMon) the same remote_write payloads and compare
query answers."""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import cramjam
import requests

from collectors.receivers.remote_write_pb import WriteRequest
from tests.support.net import free_port

PROMETHEUS = "/usr/bin/prometheus"
REMOTE_WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


@contextmanager
def prometheus(*, storage: str | None = None, extra: list[str] | None = None, seconds: float = 60):
    """Start Prometheus with the remote-write receiver over ``storage``/data (a temporary
    directory, removed after, when None); yields its base URL once it is ready, waiting up to
    ``seconds`` (a large TSDB takes longer to open)."""
    port = free_port()
    own = storage is None
    storage = storage or tempfile.mkdtemp(prefix="pm-prometheus-")
    config = Path(storage) / "prometheus.yml"
    config.write_text("global: {}\n")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={storage}/data",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            "--log.level=warn",
            *(extra or []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if requests.get(f"{base}/-/ready", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("Prometheus did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if own:
            shutil.rmtree(storage, ignore_errors=True)


def write_request(series: list[tuple[dict, list[tuple[int, float]]]]) -> bytes:
    """Snappy-compressed WriteRequest of (labels with __name__, [(unix ms, value)])."""
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in sorted(labels.items()):
            ts.labels.add(name=name, value=value)
        for when, value in samples:
            ts.samples.add(value=value, timestamp=when)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def canonical(data: dict):
    """A Prometheus ``data`` object as comparable Python values (labels as sorted tuples)."""
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        return kind, (result[0], float(result[1]))
    if kind == "vector":
        return kind, {
            tuple(sorted(r["metric"].items())): (r["value"][0], float(r["value"][1]))
            for r in result
        }
    return kind, {
        tuple(sorted(r["metric"].items())): [(t, float(v)) for t, v in r["values"]] for r in result
    }


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def differences(ours, theirs, rel: float = 1e-9) -> list[str]:
    """What differs between two canonical answers (empty when they agree)."""
    (kind_a, a), (kind_b, b) = ours, theirs
    if kind_a != kind_b:
        return [f"resultType {kind_a} != {kind_b}"]
    if kind_a == "scalar":
        same = a[0] == b[0] and close(a[1], b[1], rel)
        return [] if same else [f"scalar {a} != {b}"]
    problems = []
    for labels in sorted(set(a) | set(b)):
        if labels not in a:
            problems.append(f"missing series {dict(labels)}")
        elif labels not in b:
            problems.append(f"extra series {dict(labels)}")
        elif kind_a == "vector":
            (ta, va), (tb, vb) = a[labels], b[labels]
            if ta != tb or not close(va, vb, rel):
                problems.append(f"{dict(labels)}: {a[labels]} != {b[labels]}")
        else:
            pa, pb = a[labels], b[labels]
            ts_a, ts_b = [t for t, _ in pa], [t for t, _ in pb]
            if ts_a != ts_b:
                problems.append(
                    f"{dict(labels)}: timestamps differ ({len(ts_a)} vs {len(ts_b)} points; "
                    f"only ours {sorted(set(ts_a) - set(ts_b))[:3]}, "
                    f"only theirs {sorted(set(ts_b) - set(ts_a))[:3]})"
                )
                continue
            bad = [
                (t, va, vb)
                for (t, va), (_, vb) in zip(pa, pb, strict=True)
                if not close(va, vb, rel)
            ]
            if bad:
                problems.append(f"{dict(labels)}: {len(bad)} values differ, first {bad[0]}")
    return problems
