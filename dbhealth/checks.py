"""System checks of the dashboard's settings: a wrong DBHEALTH is reported once, at start-up
(manage.py check, runserver, migrate, the test run), with an id, instead of failing every page.

    dbhealth.E001  settings.DBHEALTH has a key dbhealth/conf.py does not know (a typo)
    dbhealth.E002  settings.DBHEALTH is not a dict
"""

from django.conf import settings
from django.core.checks import Error

from dbhealth.conf import DEFAULTS


def dbhealth_settings_check(app_configs, **kwargs) -> list[Error]:
    overrides = getattr(settings, "DBHEALTH", {})
    if not isinstance(overrides, dict):
        return [
            Error(
                f"DBHEALTH must be a dict of thresholds, not {type(overrides).__name__}.",
                hint="See dbhealth/conf.py for every key and its default.",
                id="dbhealth.E002",
            )
        ]
    return [
        Error(
            f"Unknown DBHEALTH setting {key!r}.",
            hint="Every key and its default is in dbhealth/conf.py; check the spelling.",
            obj=key,
            id="dbhealth.E001",
        )
        for key in sorted(set(overrides) - set(DEFAULTS))
    ]
