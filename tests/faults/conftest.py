"""Fault tests: real servers of their own (scripts/stack.py), broken on purpose.

Each test starts what it breaks in a temporary folder on free ports, so the servers the
suite itself runs on are never touched. Every wait is bounded.
"""

import contextlib
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

TIMEOUT = 30  # seconds for any one HTTP request or server start


def request(url: str, *, body: dict | None = None, token: str | None = None, key=None):
    """(status, headers, parsed JSON body) of one HTTP request; never raises on 4xx/5xx."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as failure:
        raw = failure.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")  # not JSON: the test shows what came back
        return failure.code, dict(failure.headers), parsed


@contextlib.contextmanager
def browsing(urls: list[str], token: str, threads: int = 4):
    """`threads` threads browse `urls` in turn until the block ends, the first two as the
    shopper with `token`, the others anonymously. Yields the list of answers: each status,
    or -1 for a 200 with an empty body."""
    answers: list[int] = []
    stop = threading.Event()

    def browser(n: int) -> None:
        while not stop.is_set():
            status, _, body = request(urls[n % 2], token=token if n < 2 else None)
            answers.append(status if status != 200 or body else -1)

    workers = [threading.Thread(target=browser, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield answers
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=TIMEOUT)


def django_env(**extra: str) -> dict[str, str]:
    """The environment of a child Django process (test settings; extra overrides). Its own
    server has no login roles: it runs as the owner, without the suite's role emulation, and
    no replica."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DB_ROLE_EMULATION": "false",
        "DATABASE_REPLICA_URL": "",  # the suite's replica streams another server
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def is_clean_503(answer) -> bool:
    """request()'s answer is the API's outage answer: 503, Retry-After, the JSON error shape."""
    status, headers, body = answer
    return (
        status == 503
        and headers.get("Retry-After") == "5"
        and headers.get("Content-Type") == "application/json"
        and body["code"] == "unavailable"
    )
