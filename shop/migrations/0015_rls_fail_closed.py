"""Row-level security that fails closed, and the staff login's explicit way in.

Replaces 0010's policies ("no scope means every row") with (shop/api/rls.py, docs/security.md):

- shoppers: a statement sees and writes only the rows of the user named in the
  transaction-local app.rls_user_id. No scope, or an empty one, compares user_id with NULL,
  which is never true: no rows. This binds every role RLS applies to, so the application login
  pgshop_app first of all;
- staff: the login role pgshop_staff (the admin, the staff API, Celery, management commands)
  sees and writes every row through its own policy. pgshop_app is not a member of it, so no
  statement of a shopper's session can SET ROLE to it (core/roles.py).

The shopper data in history gets the same rule: the event tables of users, their groups,
permissions and profiles, orders and order items are readable only for the scoped shopper
(and by staff). The INSERT policy lets any row in: events are written by the audit
triggers, which run as the owner (SECURITY DEFINER, core/roles.py lock_triggers) and so
past RLS, and no application role holds INSERT on an event table, so nobody forges one. The audit_log view becomes
security_invoker, or it would read the event tables with its owner's rights, past RLS.

The owner and superusers bypass RLS, as PostgreSQL intends. The staff role is created here,
without LOGIN, when missing, because a policy must name an existing role; db_roles gives it
LOGIN and its password.
"""

from django.db import migrations

STAFF = "pgshop_staff"
SHOPPER = "NULLIF(current_setting('app.rls_user_id', true), '')::bigint"
OWN_ORDER = f"EXISTS (SELECT 1 FROM shop_order o WHERE o.id = order_id AND o.user_id = {SHOPPER})"

# table -> the shopper's rows of it
ROWS = {"shop_order": f"user_id = {SHOPPER}", "shop_orderitem": OWN_ORDER}
EVENT_ROWS = {
    "audit_userevent": f"id = {SHOPPER}",
    "audit_usergroupevent": f"user_id = {SHOPPER}",
    "audit_userpermissionevent": f"user_id = {SHOPPER}",
    "audit_userprofileevent": f"user_id = {SHOPPER}",
    "audit_orderevent": f"user_id = {SHOPPER}",
    "audit_orderitemevent": OWN_ORDER,
}


def _forward() -> str:
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{STAFF}') THEN "
        f"CREATE ROLE {STAFF} NOLOGIN; END IF; END $$",
        "DROP POLICY shop_orderitem_shopper ON shop_orderitem",
        "DROP POLICY shop_order_shopper ON shop_order",
    ]
    for table, rows in ROWS.items():
        statements += [
            f"CREATE POLICY {table}_shopper ON {table} USING ({rows}) WITH CHECK ({rows})",
            f"CREATE POLICY {table}_staff ON {table} TO {STAFF} USING (true) WITH CHECK (true)",
        ]
    for table, rows in EVENT_ROWS.items():
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"CREATE POLICY {table}_shopper ON {table} FOR SELECT USING ({rows})",
            f"CREATE POLICY {table}_record ON {table} FOR INSERT WITH CHECK (true)",
            f"CREATE POLICY {table}_staff ON {table} TO {STAFF} USING (true) WITH CHECK (true)",
        ]
    statements.append("ALTER VIEW audit_log SET (security_invoker = true)")
    return ";\n".join(statements) + ";"


def _backward() -> str:
    old = "NULLIF(current_setting('app.rls_user_id', true), '')::bigint"
    statements = ["ALTER VIEW audit_log RESET (security_invoker)"]
    for table in EVENT_ROWS:
        statements += [
            f"DROP POLICY {table}_staff ON {table}",
            f"DROP POLICY {table}_record ON {table}",
            f"DROP POLICY {table}_shopper ON {table}",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
        ]
    for table in ROWS:
        statements += [
            f"DROP POLICY {table}_staff ON {table}",
            f"DROP POLICY {table}_shopper ON {table}",
        ]
    # 0010's fail-open policies, as they were. The staff role is left: it may own grants.
    statements += [
        f"CREATE POLICY shop_order_shopper ON shop_order USING ({old} IS NULL OR user_id = {old}) "
        f"WITH CHECK ({old} IS NULL OR user_id = {old})",
        f"CREATE POLICY shop_orderitem_shopper ON shop_orderitem "
        f"USING ({old} IS NULL OR {OWN_ORDER}) WITH CHECK ({old} IS NULL OR {OWN_ORDER})",
    ]
    return ";\n".join(statements) + ";"


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0014_idemkey_created_idx"),
        ("audit", "0001_event_tables"),
    ]

    operations = [migrations.RunSQL(_forward(), _backward())]
