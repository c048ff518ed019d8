"""Local development: `make run`. DATABASE_URL and REDIS_URL come from scripts/stack.py."""

import os

os.environ.setdefault("SECRET_KEY", "django-insecure-dev-only-key-never-used-in-production")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

from .base import *  # noqa: E402, F403
