"""Start the production profile as a child process and wait until it is ready (bench, tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from settings import PROJECT_ROOT


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(env: Mapping[str, str], *, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``gunicorn -c gunicorn.conf.py app:server`` with ``env`` added to this environment.

    Output (the JSON or text log) goes to ``log_path``. The caller stops it with
    :func:`stop_gunicorn`.
    """
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "app:server"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    """Wait until ``GET /readyz`` answers 200, or raise if the server exits or never gets there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base_url} not ready after {timeout_s:.0f} s")


def worker_pids(master_pid: int) -> list[int]:
    """Return the pids of the gunicorn workers of ``master_pid`` (Linux ``/proc``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master_pid:
            pids.append(int(entry.name))
    return sorted(pids)


def stop_gunicorn(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Stop gunicorn gracefully (SIGTERM), killing it if it does not exit in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
