-- verify-triggers CLI: for the rest of the transaction, resolve names in pg_catalog only,
-- so the catalog's deparse functions schema-qualify every object of the target schema.
SELECT pg_catalog.set_config('search_path', 'pg_catalog', true);
