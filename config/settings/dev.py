"""Local development: `make run`. DATABASE_URL and REDIS_URL come from scripts/stack.py."""

import os

os.environ.setdefault("SECRET_KEY", "django-insecure-dev-only-key-never-used-in-production")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# A developer trying logins by hand: production's 5 a minute per address bites at once.
os.environ.setdefault("THROTTLE_LOGIN", "60/min")
os.environ.setdefault("THROTTLE_LOGIN_ACCOUNT", "100/hour")

from .base import *  # noqa: E402, F403
from .base import MIDDLEWARE  # noqa: E402

# gunicorn serves `make run` and, unlike runserver, not /static/: WhiteNoise does, as in
# production, but from the apps' folders (no collectstatic) and re-reading changed files.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
