-- The row-level floor (floor_triggers.sql): fires only where the confirmation changed.
CREATE TRIGGER floor_row_sync
AFTER UPDATE ON {schema}.supplier_products
FOR EACH ROW
WHEN (old.manual_confirmed IS DISTINCT FROM new.manual_confirmed)
EXECUTE FUNCTION bench.floor_row_sync();
