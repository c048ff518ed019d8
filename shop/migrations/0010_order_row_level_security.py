"""Row-level security on orders and their items (shop/api/rls.py says who sets what).

A statement that carries app.rls_user_id (every statement of a shopper's API request) sees
and writes only that user's orders and their items; a statement without it (staff, tasks,
commands) is not restricted. Superusers and the tables' owner bypass RLS in PostgreSQL
anyway: the policies bind the application role (core/roles.py).
"""

from django.db import migrations

SHOPPER = "NULLIF(current_setting('app.rls_user_id', true), '')::bigint"

FORWARD = f"""
ALTER TABLE shop_order ENABLE ROW LEVEL SECURITY;
CREATE POLICY shop_order_shopper ON shop_order
    USING ({SHOPPER} IS NULL OR user_id = {SHOPPER})
    WITH CHECK ({SHOPPER} IS NULL OR user_id = {SHOPPER});
ALTER TABLE shop_orderitem ENABLE ROW LEVEL SECURITY;
CREATE POLICY shop_orderitem_shopper ON shop_orderitem
    USING ({SHOPPER} IS NULL
           OR EXISTS (SELECT 1 FROM shop_order o WHERE o.id = order_id AND o.user_id = {SHOPPER}))
    WITH CHECK ({SHOPPER} IS NULL
           OR EXISTS (SELECT 1 FROM shop_order o WHERE o.id = order_id AND o.user_id = {SHOPPER}));
"""

BACKWARD = """
DROP POLICY shop_orderitem_shopper ON shop_orderitem;
ALTER TABLE shop_orderitem DISABLE ROW LEVEL SECURITY;
DROP POLICY shop_order_shopper ON shop_order;
ALTER TABLE shop_order DISABLE ROW LEVEL SECURITY;
"""


class Migration(migrations.Migration):
    dependencies = [("shop", "0009_audit_triggers")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
