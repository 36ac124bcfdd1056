"""Helpers for the end-to-end tests: `rpm-scrubber` commands as real processes, HTTP requests,
and waiting for the outbox to drain."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

from scrubber.store import Store


def start(args, env, module: str = "scrubber.cli", stdout=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=stdout,
                            stderr=subprocess.DEVNULL, text=True)


def stop(process: subprocess.Popen, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=timeout)
    if process.stdout:
        process.stdout.close()
    return code


@contextmanager
def serving(env: dict, *args: str, module: str = "scrubber.cli"):
    """`serve --port 0 --demo` (and `args`) until the block ends; yields the printed lines by name
    (URL, API, Reviewer, Submitter token)."""
    process = start(["serve", "--port", "0", "--demo", *args], env, module)
    lines = {}
    deadline = time.monotonic() + 60
    while not {"URL", "Submitter token"} <= set(lines) and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        key, _, value = line.strip().partition(": ")
        lines[key] = value
    try:
        assert {"URL", "API", "Reviewer", "Submitter token"} <= set(lines), lines
        yield lines
    finally:
        stop(process)


def instance_env(folder) -> dict:
    env = {**os.environ, "SCRUBBER_INSTANCE_PATH": str(folder)}
    env.pop("SCRUBBER_DATABASE_URL", None)
    return env


def post(url: str, token: str, body: str, timeout: float = 60) -> dict:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def series(metrics_text: str) -> dict[str, float]:
    """The samples of a Prometheus text page by series (name and labels); a series given twice
    fails the caller's test (a scraper refuses such a page)."""
    found: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            assert name not in found, f"{name} is given twice"
            found[name] = float(value)
    return found


def outbox_counts(store: Store) -> dict[str, int]:
    with store.transaction() as session:
        return store.outbox_counts(session)


def wait_until(condition, seconds: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
