-- verify-triggers 0002 downgrade: back to 0001's definitions. The marks and
-- verify_triggers_sync_one go; the functions 0002 replaced get 0001's bodies and settings
-- back, copied verbatim from 0001_install.sql (CREATE OR REPLACE resets a function's SET
-- options to those given). Sheet rows are data and keep their values.
-- squawk-ignore-file ban-drop-function
-- squawk: these drops are the point of a downgrade; the objects are verify-triggers' own.

DROP TRIGGER IF EXISTS verify_triggers_sp_changed ON {schema}.supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sheet_changed ON {schema}.product_supplier_sheets;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync_pairs(
    p_skus text[], p_supplier_names text[]
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
-- keep the written join order of the per-row probe: the unique sku first, then the
-- partial index of confirmed matches by product (statistics taken before a bulk confirm
-- say no match is confirmed, and the planner then scanned that whole index per row)
SET join_collapse_limit = 1
AS $fn$
DECLARE
    changed bigint;
    outer_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    recomputing boolean;
BEGIN
    IF p_skus IS NULL OR pg_catalog.cardinality(p_skus) = 0 THEN
        RETURN 0;
    END IF;

    LOOP
        recomputing := false;
        BEGIN
            -- Locks in bucket order (LockRows above the Sort), and an update of each bucket
            -- row so that a concurrent snapshot-isolated sync of the bucket fails with 40001.
            UPDATE {schema}.verify_triggers_lock AS l
            SET generation = l.generation + 1
            WHERE l.bucket IN (
                SELECT k.bucket
                FROM {schema}.verify_triggers_lock AS k
                WHERE k.bucket IN (
                    SELECT {schema}.verify_triggers_bucket(p.sku, p.supplier_name)
                    FROM unnest(p_skus, p_supplier_names) AS p (sku, supplier_name)
                )
                ORDER BY k.bucket
                FOR UPDATE
            );

            PERFORM pg_catalog.set_config('verify_triggers.syncing', 'on', true);
            PERFORM pg_catalog.set_config('lock_timeout', '100ms', true);
            recomputing := true;

            -- A new statement, so at READ COMMITTED it sees all committed before the locks.
            -- Confirmation is probed per sheet row (a unique sku, then the partial index of
            -- confirmed matches): linear in the pairs whatever the statistics say. A join
            -- planned from stale statistics ("nothing is confirmed") turned a 100k-match
            -- bulk confirm into a nested loop over all pairs that never finished.
            WITH pairs AS (
                SELECT DISTINCT
                    p.sku,
                    p.supplier_name
                FROM unnest(p_skus, p_supplier_names) AS p (sku, supplier_name)
            ),

            target AS (
                SELECT
                    sh.id,
                    EXISTS (
                        SELECT 1
                        FROM {schema}.products AS pr
                        INNER JOIN {schema}.supplier_products AS sp
                            ON pr.id = sp.local_product_id
                        INNER JOIN {schema}.suppliers AS su
                            ON sp.supplier_id = su.id
                        WHERE
                            pr.sku = sh.sku
                            AND su.name = sh.supplier_name
                            AND sp.manual_confirmed
                    ) AS is_confirmed
                FROM pairs
                INNER JOIN {schema}.product_supplier_sheets AS sh
                    ON
                        pairs.sku = sh.sku
                        AND pairs.supplier_name = sh.supplier_name
            )

            UPDATE {schema}.product_supplier_sheets AS sh
            SET
                is_verified = t.is_confirmed,
                verified_by = CASE WHEN t.is_confirmed THEN 'verify-triggers' END,
                verified_at = CASE WHEN t.is_confirmed THEN pg_catalog.now() END
            FROM target AS t
            WHERE
                sh.id = t.id
                AND (
                    (t.is_confirmed AND sh.is_verified IS NOT TRUE)
                    OR (NOT t.is_confirmed AND sh.verified_by = 'verify-triggers')
                );

            GET DIAGNOSTICS changed = ROW_COUNT;
            PERFORM pg_catalog.set_config('lock_timeout', outer_lock_timeout, true);
            PERFORM pg_catalog.set_config('verify_triggers.syncing', 'off', true);
            RETURN changed;
        EXCEPTION
            WHEN lock_not_available THEN
                IF NOT recomputing THEN
                    RAISE;  -- the caller's own lock_timeout, waiting for a bucket
                END IF;
                -- Buckets released with the subtransaction: wait for the rows, then retry.
                PERFORM 1
                FROM {schema}.product_supplier_sheets AS sh
                INNER JOIN unnest(p_skus, p_supplier_names) AS p (sku, supplier_name)
                    ON
                        sh.sku = p.sku
                        AND sh.supplier_name = p.supplier_name
                ORDER BY sh.id
                FOR UPDATE OF sh;
        END;
    END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    skus text[];
    supplier_names text[];
BEGIN
    PERFORM {schema}.verify_triggers_lock_epoch();

    SELECT
        pg_catalog.array_agg(p.sku),
        pg_catalog.array_agg(p.supplier_name)
    INTO skus, supplier_names
    FROM (
        SELECT DISTINCT
            pr.sku,
            su.name AS supplier_name
        FROM new_rows AS n
        INNER JOIN {schema}.products AS pr ON n.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON n.supplier_id = su.id
        WHERE n.manual_confirmed
    ) AS p;

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    skus text[];
    supplier_names text[];
BEGIN
    PERFORM {schema}.verify_triggers_lock_epoch();

    -- Statement triggers with transition tables cannot name columns: filter here. The
    -- changed rows are the (id, product, supplier, confirmed) versions seen once among old
    -- and new rows: an aggregate, linear whatever plan PL/pgSQL cached for this query in
    -- the session (a join of the two tuplestores planned for one row and reused for 100k
    -- compared every row with every other). A pair is affected where a confirmed version
    -- appears or disappears.
    WITH versions AS (
        SELECT
            o.id,
            o.local_product_id,
            o.supplier_id,
            o.manual_confirmed
        FROM old_rows AS o
        UNION ALL
        SELECT
            n.id,
            n.local_product_id,
            n.supplier_id,
            n.manual_confirmed
        FROM new_rows AS n
    ),

    sides AS (
        SELECT
            versions.local_product_id AS product_id,
            versions.supplier_id
        FROM versions
        GROUP BY
            versions.id, versions.local_product_id, versions.supplier_id,
            versions.manual_confirmed
        HAVING pg_catalog.count(*) = 1 AND versions.manual_confirmed
    )

    SELECT
        pg_catalog.array_agg(p.sku),
        pg_catalog.array_agg(p.supplier_name)
    INTO skus, supplier_names
    FROM (
        SELECT DISTINCT
            pr.sku,
            su.name AS supplier_name
        FROM sides
        INNER JOIN {schema}.products AS pr ON sides.product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON sides.supplier_id = su.id
    ) AS p;

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    skus text[];
    supplier_names text[];
BEGIN
    PERFORM {schema}.verify_triggers_lock_epoch();

    SELECT
        pg_catalog.array_agg(p.sku),
        pg_catalog.array_agg(p.supplier_name)
    INTO skus, supplier_names
    FROM (
        SELECT DISTINCT
            pr.sku,
            su.name AS supplier_name
        FROM old_rows AS o
        INNER JOIN {schema}.products AS pr ON o.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON o.supplier_id = su.id
        WHERE o.manual_confirmed
    ) AS p;

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sheet_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    skus text[];
    supplier_names text[];
BEGIN
    IF pg_catalog.current_setting('verify_triggers.syncing', true) = 'on' THEN
        RETURN NULL;
    END IF;

    -- Rows whose pair or verification changed: the versions seen once among old and new
    -- rows (an aggregate, linear whatever plan is cached; see verify_triggers_sp_update).
    WITH versions AS (
        SELECT
            o.id,
            o.sku,
            o.supplier_name,
            o.is_verified,
            o.verified_by
        FROM old_rows AS o
        UNION ALL
        SELECT
            n.id,
            n.sku,
            n.supplier_name,
            n.is_verified,
            n.verified_by
        FROM new_rows AS n
    )

    SELECT
        pg_catalog.array_agg(p.sku),
        pg_catalog.array_agg(p.supplier_name)
    INTO skus, supplier_names
    FROM (
        SELECT DISTINCT
            changed.sku,
            changed.supplier_name
        FROM (
            SELECT
                versions.sku,
                versions.supplier_name
            FROM versions
            GROUP BY
                versions.id, versions.sku, versions.supplier_name,
                versions.is_verified, versions.verified_by
            HAVING pg_catalog.count(*) = 1
        ) AS changed
        WHERE changed.sku IS NOT NULL AND changed.supplier_name IS NOT NULL
    ) AS p;

    IF skus IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM {schema}.verify_triggers_lock_epoch();
    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_lock_epoch()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
BEGIN
    PERFORM 1 FROM {schema}.verify_triggers_lock AS l WHERE l.bucket = -1 FOR SHARE;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_bump_epoch()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
BEGIN
    IF pg_catalog.current_setting('verify_triggers.epoch_held', true) = 'on' THEN
        RETURN;
    END IF;

    UPDATE {schema}.verify_triggers_lock AS l
    SET generation = l.generation + 1
    WHERE l.bucket = -1;

    UPDATE {schema}.verify_triggers_lock AS l
    SET generation = l.generation + 1
    WHERE l.bucket IN (
        SELECT k.bucket
        FROM {schema}.verify_triggers_lock AS k
        WHERE k.bucket >= 0
        ORDER BY k.bucket
        FOR UPDATE
    );

    PERFORM pg_catalog.set_config('verify_triggers.epoch_held', 'on', true);
END
$fn$;

ALTER TABLE {schema}.verify_triggers_lock SET (fillfactor = 50);

DROP FUNCTION IF EXISTS {schema}.verify_triggers_never_called();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_sync_one(text, text);
