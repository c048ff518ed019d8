-- shop_order partitioned by month against plain: docs/scaling.md shows what it printed.
-- Run with `make manage ARGS="dbshell -- -f bench/partition_shop_order.sql"` on a scratch database:
-- it makes two throwaway tables of 1,000,000 rows and drops them at the end.
CREATE TABLE probe_order_plain (id bigint PRIMARY KEY, user_id bigint NOT NULL,
    created_at timestamptz NOT NULL, status text NOT NULL, total numeric(12,2) NOT NULL);
CREATE TABLE probe_order_part (LIKE probe_order_plain, PRIMARY KEY (id, created_at))
    PARTITION BY RANGE (created_at);
DO $$ BEGIN FOR m IN 0..23 LOOP
  EXECUTE format('CREATE TABLE probe_order_part_%s PARTITION OF probe_order_part '
                 'FOR VALUES FROM (%L) TO (%L)', m,
                 '2025-01-01'::timestamptz + make_interval(months => m),
                 '2025-01-01'::timestamptz + make_interval(months => m + 1));
END LOOP; END $$;
INSERT INTO probe_order_plain SELECT g, g % 20000,
    '2025-01-01'::timestamptz + g * interval '63 s', 'pending', 10
  FROM generate_series(1, 1000000) g;
INSERT INTO probe_order_part SELECT * FROM probe_order_plain;
CREATE INDEX ON probe_order_plain (user_id, created_at DESC);
CREATE INDEX ON probe_order_part (user_id, created_at DESC);
VACUUM ANALYZE probe_order_plain; VACUUM ANALYZE probe_order_part;
CREATE FUNCTION pg_temp.bench(q text, n int) RETURNS numeric LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz := clock_timestamp(); BEGIN
  FOR i IN 1..n LOOP EXECUTE q USING (i * 7919) % 1000000 + 1, i % 20000; END LOOP;
  RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / n, 1);
END $f$;
-- Microseconds per query, a plan per run (EXECUTE), as Django's client-side binding gives.
-- The first runs after the load are slower (cold caches): the figures are from later runs.
SELECT r,
       pg_temp.bench('SELECT * FROM probe_order_plain WHERE id = $1 AND $2 >= 0', 5000) AS plain_id,
       pg_temp.bench('SELECT * FROM probe_order_part WHERE id = $1 AND $2 >= 0', 5000) AS part_id,
       pg_temp.bench('SELECT * FROM probe_order_plain WHERE user_id = $2 AND $1 > 0
                      ORDER BY created_at DESC LIMIT 20', 5000) AS plain_page,
       pg_temp.bench('SELECT * FROM probe_order_part WHERE user_id = $2 AND $1 > 0
                      ORDER BY created_at DESC LIMIT 20', 5000) AS part_page
  FROM generate_series(1, 3) r;
-- A foreign key to the order by id alone is refused once it is partitioned:
CREATE TABLE probe_item (order_id bigint REFERENCES probe_order_part (id));
DROP TABLE probe_order_plain, probe_order_part;
