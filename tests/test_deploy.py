"""config.settings.prod: Django's deployment checks pass, and missing settings stop start-up.

Each check runs `manage.py` in a subprocess with a clean environment (only PATH and what the
test passes), so nothing from the test settings (which set SECRET_KEY and ALLOWED_HOSTS in
os.environ) leaks into the production settings under test.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLEAN = "System check identified no issues"


def manage(*args: str, **overrides: str | None) -> subprocess.CompletedProcess:
    """manage.py ARGS under config.settings.prod; an override of None unsets the variable."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
    }
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={name: value for name, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# DEBUG=true in the environment must not matter: prod sets DEBUG = False outright.
@pytest.mark.parametrize("extra", [{}, {"DEBUG": "true"}], ids=["plain", "debug-env-ignored"])
def test_check_deploy_is_clean(extra):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **extra)
    assert result.returncode == 0, output(result)
    assert CLEAN in result.stdout, output(result)


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_prod_refuses_to_start_without(variable):
    result = manage("check", **{variable: None})
    assert result.returncode != 0, output(result)
    assert f"ImproperlyConfigured: Set the {variable} environment variable" in result.stderr, (
        output(result)
    )
    assert CLEAN not in result.stdout, output(result)


# Set but empty (or a weak key) gets past start-up today; the deployment checks catch it.
@pytest.mark.parametrize(
    ("variable", "value", "check_id"),
    [
        ("SECRET_KEY", "", "security.W009"),
        ("SECRET_KEY", "changeme", "security.W009"),
        ("ALLOWED_HOSTS", "", "security.W020"),
    ],
    ids=["empty-secret-key", "weak-secret-key", "empty-allowed-hosts"],
)
def test_check_deploy_fails_on_unusable_value(variable, value, check_id):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **{variable: value})
    assert result.returncode != 0, output(result)
    combined = result.stdout + result.stderr
    assert variable in combined, output(result)
    assert CLEAN not in combined, output(result)
    assert check_id in combined or "ImproperlyConfigured" in combined, output(result)
