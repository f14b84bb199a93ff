-- The baseline a developer writes first: a plain FOR EACH ROW trigger on supplier_products
-- that recomputes the affected pair the way the sync does (same rule: stamp
-- 'verify-triggers' when verifying, un-verify only the rows it stamped, never touch a
-- person's verification), one row at a time.
--
-- Benchmark only. It takes no lock, so it is NOT correct under concurrency (the races of
-- issue 2 break it), and it covers only supplier_products: no sheet, product or supplier
-- triggers. It exists to show what a per-row trigger costs on a bulk statement.

CREATE FUNCTION {schema}.naive_sync_pair(p_product_id integer, p_supplier_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_sku text;
    v_supplier_name text;
    v_confirmed boolean;
BEGIN
    IF p_product_id IS NULL OR p_supplier_id IS NULL THEN
        RETURN;
    END IF;

    SELECT pr.sku INTO v_sku FROM {schema}.products AS pr WHERE pr.id = p_product_id;
    SELECT su.name INTO v_supplier_name FROM {schema}.suppliers AS su WHERE su.id = p_supplier_id;
    IF v_sku IS NULL OR v_supplier_name IS NULL THEN
        RETURN;
    END IF;

    SELECT EXISTS (
        SELECT 1
        FROM {schema}.supplier_products AS sp
        INNER JOIN {schema}.products AS pr ON sp.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
        WHERE sp.manual_confirmed AND pr.sku = v_sku AND su.name = v_supplier_name
    ) INTO v_confirmed;

    IF v_confirmed THEN
        UPDATE {schema}.product_supplier_sheets AS sh
        SET is_verified = true, verified_by = 'verify-triggers', verified_at = pg_catalog.now()
        WHERE sh.sku = v_sku AND sh.supplier_name = v_supplier_name AND sh.is_verified IS NOT TRUE;
    ELSE
        UPDATE {schema}.product_supplier_sheets AS sh
        SET is_verified = false, verified_by = NULL, verified_at = NULL
        WHERE sh.sku = v_sku AND sh.supplier_name = v_supplier_name
            AND sh.verified_by = 'verify-triggers';
    END IF;
END
$fn$;

CREATE FUNCTION {schema}.naive_sp_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM {schema}.naive_sync_pair(old.local_product_id, old.supplier_id);
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE'
        AND (old.local_product_id IS DISTINCT FROM new.local_product_id
            OR old.supplier_id IS DISTINCT FROM new.supplier_id) THEN
        PERFORM {schema}.naive_sync_pair(old.local_product_id, old.supplier_id);
    END IF;
    PERFORM {schema}.naive_sync_pair(new.local_product_id, new.supplier_id);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER naive_sp_row
AFTER INSERT OR DELETE OR UPDATE OF manual_confirmed, local_product_id, supplier_id
ON {schema}.supplier_products
FOR EACH ROW EXECUTE FUNCTION {schema}.naive_sp_row();
