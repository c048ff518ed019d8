"""Settings for `make bench`: development settings as production runs them, plus bench URLs.

DEBUG off (no per-query logging), throttles out of the way (the bench is one client
hammering one account), and bench.urls on top of the project's URLs: a trivial view (the
baseline every read is compared with) and the product detail without its cache.
"""

import os

os.environ["DEBUG"] = "false"
os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"  # testserver: Django's Client
os.environ.setdefault("THROTTLE_ANON", "100000000/min")
os.environ.setdefault("THROTTLE_USER", "100000000/min")

from config.settings.dev import *  # noqa: E402, F403

ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False}  # no access/query logs in timings
