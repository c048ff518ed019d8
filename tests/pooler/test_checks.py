"""core/checks.py: behind a transaction pooler, a database entry that would keep state past
its transaction is a system check error at start-up."""

from django.conf import settings

from core.checks import pooler_problems, pooler_settings_check

POOLED = "postgres://shop@127.0.0.1:22038/shop"
DIRECT = "postgres://shop@127.0.0.1:22032/shop"


def entry(**overrides) -> dict:
    return {
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": {"server_side_binding": False},
        **overrides,
    }


def test_the_project_s_own_entries_pass_behind_a_pooler():
    """The settings of this run, in the pooler mode (server-side cursors follow it)."""
    databases = {
        alias: {**value, "DISABLE_SERVER_SIDE_CURSORS": True}
        for alias, value in settings.DATABASES.items()
    }

    assert pooler_problems(pooler=True, databases=databases, direct_url=DIRECT, url=POOLED) == []
    assert settings.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] is (
        settings.DB_TRANSACTION_POOLER
    )
    assert pooler_settings_check() == []  # this run's own settings, as they are


def test_server_side_cursors_and_binding_and_no_direct_url_are_reported():
    databases = {
        "default": entry(DISABLE_SERVER_SIDE_CURSORS=False),
        "staff": entry(OPTIONS={"server_side_binding": True}),
    }

    found = pooler_problems(pooler=True, databases=databases, direct_url=POOLED, url=POOLED)

    assert [(c.id, c.msg) for c in found] == [
        ("core.E001", "DATABASES['default'] keeps server-side cursors behind a transaction pooler"),
        ("core.E002", "DATABASES['staff'] binds server-side behind a transaction pooler"),
        ("core.W001", "DATABASE_DIRECT_URL is DATABASE_URL behind a transaction pooler"),
    ]


def test_without_a_pooler_nothing_is_checked():
    databases = {"default": entry(DISABLE_SERVER_SIDE_CURSORS=False)}

    assert pooler_problems(pooler=False, databases=databases, direct_url=POOLED, url=POOLED) == []
