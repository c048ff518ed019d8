"""Server settings from pg_settings (readable by every role; pg_read_all_settings, part of
pg_monitor, adds the superuser-only ones)."""

from __future__ import annotations

from .cursor import rows

SETTINGS_SQL = """
SELECT name,
       -- reset_val: the server's (or role's) value, not this page's own SET LOCAL timeouts
       reset_val AS setting, unit,
       CASE source WHEN 'session' THEN 'configured' ELSE source END AS source,
       pending_restart, context
  FROM pg_settings
 WHERE name = ANY(%s)
"""


def settings(cursor, names: list[str]) -> dict[str, dict]:
    """name -> {setting, unit, source, pending_restart, context}, for the names given."""
    return {r["name"]: r for r in rows(cursor, SETTINGS_SQL, [names])}
