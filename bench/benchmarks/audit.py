"""audit: order writes with history on against off (bench/audit_history.py, run apart)."""

import os
import re
import subprocess

from bench.harness import PY, ROOT, ROUNDS, SMOKE, record


def run() -> None:
    rounds = os.environ.get("AUDIT_ROUNDS", str(max(ROUNDS, 3)))
    env = {**os.environ, "ROUNDS": rounds, "ORDERS": "20" if SMOKE else "200"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    done = subprocess.run(
        [PY, "bench/audit_history.py"], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    ratios = [float(r) for r in re.findall(r"round ratio on/off: ([0-9.]+)", done.stdout)]
    record("audit", "orders/s history on / history off", ratios, ">= 0.75")
