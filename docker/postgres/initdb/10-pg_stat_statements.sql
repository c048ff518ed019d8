-- Run once by the postgres image's entrypoint, when the data volume is first initialised,
-- in the POSTGRES_DB database (shop). The library itself is preloaded by the server's
-- command line in docker-compose.yml (shared_preload_libraries); the extension's view,
-- pg_stat_statements, is what the /admin/dbhealth/ queries panel reads.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
