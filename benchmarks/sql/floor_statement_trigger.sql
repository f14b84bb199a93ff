-- The statement-level trigger floor (floor_triggers.sql): transition tables, as the sync uses.
CREATE TRIGGER floor_statement_sync
AFTER UPDATE ON {schema}.supplier_products
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION bench.floor_statement_sync();
