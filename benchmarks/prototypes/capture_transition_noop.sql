-- Capture-cost experiment (python -m benchmarks.capture_cost): what a statement-level
-- AFTER UPDATE trigger with transition tables costs before its function does anything.
-- PostgreSQL copies every updated row, old and new, into the transition tuplestores, even
-- when only a price changed; transition tables rule out a column list (UPDATE OF ...).
CREATE FUNCTION {schema}.capture_noop()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    RETURN NULL;
END
$fn$;

CREATE TRIGGER capture_transition_noop
AFTER UPDATE ON {schema}.supplier_products
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.capture_noop();
