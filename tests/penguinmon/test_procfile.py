"""The Procfile's web process, started as honcho starts it, keeps to its own directory."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_gunicorn_uses_its_own_control_socket_under_var(tmp_path):
    web = next(
        line.split(":", 1)[1]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    args = shlex.split(web.replace("127.0.0.1:8000", f"127.0.0.1:{free_port()}"))
    args[0] = str(Path(sys.executable).parent / "gunicorn")
    (tmp_path / "var").mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "var" / "gunicorn.ctl").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, "gunicorn exited"
            time.sleep(0.1)
        assert (tmp_path / "var" / "gunicorn.ctl").is_socket()
        # Not the per-user default that every other gunicorn on the host would share.
        assert not (home / ".gunicorn").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
