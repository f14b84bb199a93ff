-- Capture-cost experiment (python -m benchmarks.capture_cost): the alternative capture for
-- the UPDATE path. A row trigger restricted to the columns the rule reads (UPDATE OF ...)
-- and to rows where one of them changed (WHEN) queues the changed rows in a temporary table;
-- a statement trigger with the same column list (no transition table, so a column list is
-- allowed) would then sync the queued pairs set-based, as today. A price update fires
-- neither. Only the capture is measured here: the statement trigger is a no-op.
CREATE FUNCTION {schema}.capture_queue_row()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    INSERT INTO pg_temp.verify_triggers_queue
    VALUES (old.local_product_id, old.supplier_id, old.manual_confirmed,
            new.local_product_id, new.supplier_id, new.manual_confirmed);
    RETURN NULL;
END
$fn$;

CREATE FUNCTION {schema}.capture_queue_statement()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    RETURN NULL;
END
$fn$;

CREATE TRIGGER capture_rowqueue_row
AFTER UPDATE OF manual_confirmed, local_product_id, supplier_id ON {schema}.supplier_products
FOR EACH ROW
WHEN (
    old.manual_confirmed IS DISTINCT FROM new.manual_confirmed
    OR old.local_product_id IS DISTINCT FROM new.local_product_id
    OR old.supplier_id IS DISTINCT FROM new.supplier_id
)
EXECUTE FUNCTION {schema}.capture_queue_row();

CREATE TRIGGER capture_rowqueue_statement
AFTER UPDATE OF manual_confirmed, local_product_id, supplier_id ON {schema}.supplier_products
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.capture_queue_statement();
