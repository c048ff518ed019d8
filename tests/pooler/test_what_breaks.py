"""What a transaction pooler breaks, made to happen: two clients of the one-server-connection
entry share a PostgreSQL backend, so whatever outlives a transaction on it reaches the other
client. The project keeps all of this out of its code (test_session_state.py); these tests
show the check guards something real."""

import psycopg
import pytest

pytestmark = pytest.mark.django_db


def backend(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_two_clients_of_the_entry_share_one_backend(pooled):
    first, second = pooled(), pooled()

    assert backend(first) == backend(second)


def test_a_session_set_leaks_to_the_next_client(pooled):
    """The 1 ms statement_timeout the scale-out notes saw reach another client."""
    first, second = pooled(), pooled()
    first.execute("SET statement_timeout = '1ms'")

    (seen,) = second.execute("SHOW statement_timeout").fetchone()

    assert seen == "1ms"
    with pytest.raises(psycopg.errors.QueryCanceled):
        second.execute("SELECT pg_sleep(0.01)")


def test_set_local_ends_with_its_transaction(pooled):
    first, second = pooled(), pooled()
    with first.transaction():
        first.execute("SET LOCAL statement_timeout = '1ms'")

    (seen,) = second.execute("SHOW statement_timeout").fetchone()

    assert seen == "0"


def test_a_session_advisory_lock_is_held_for_every_client_of_the_backend(pooled):
    """pg_advisory_lock belongs to the backend: the other client 'takes' the same lock at
    once (re-entrant), so it excludes no one; the xact variant ends with the transaction."""
    first, second = pooled(), pooled()
    first.execute("SELECT pg_advisory_lock(4242)")

    (also_taken,) = second.execute("SELECT pg_try_advisory_lock(4242)").fetchone()
    (held,) = second.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 "
        "AND pid = pg_backend_pid()"
    ).fetchone()
    second.execute("SELECT pg_advisory_unlock_all()")

    assert (also_taken, held) == (True, 1)


def test_a_temporary_table_is_seen_by_the_next_client(pooled):
    first, second = pooled(), pooled()
    first.execute("CREATE TEMP TABLE pooler_probe (secret text)")
    first.execute("INSERT INTO pooler_probe VALUES ('first client only')")

    rows = second.execute("SELECT secret FROM pooler_probe").fetchall()

    assert rows == [("first client only",)]


def test_the_protocol_backend_key_is_pgbouncers_not_the_backends_pid(pooled):
    """psycopg's info.backend_pid through PgBouncer is a key PgBouncer made up: cancelling or
    terminating "that pid" would signal some other process, or none."""
    conn = pooled()

    assert conn.info.backend_pid != backend(conn)


def test_listen_belongs_to_the_backend_not_the_client(pooled):
    first, second = pooled(), pooled()
    first.execute("LISTEN pooler_probe")

    (channels,) = second.execute("SELECT pg_listening_channels()").fetchone()

    assert channels == "pooler_probe"


def test_a_with_hold_cursor_is_fetched_by_the_next_client(pooled):
    """Django's iterator() outside a transaction declares one: behind a pooler its next FETCH
    may reach another backend, and another client may read it here."""
    first, second = pooled(), pooled()
    first.execute("DECLARE pooler_rows CURSOR WITH HOLD FOR SELECT generate_series(1, 3)")

    rows = second.execute("FETCH ALL FROM pooler_rows").fetchall()

    assert rows == [(1,), (2,), (3,)]
