-- verify-triggers 0001: keep product_supplier_sheets.is_verified in step with confirmed matches.
--
-- The rule, for every sheet row: the pair (sku, supplier_name) is confirmed when some
-- supplier_products row matched to it (products.sku, suppliers.name) has manual_confirmed.
-- A confirmed pair's row is verified (stamped 'verify-triggers' when the sync does it);
-- when the pair stops being confirmed, rows the sync verified are un-verified; rows
-- verified by people are never touched.
--
-- Concurrency. Every writer that can change a pair's outcome serialises on the pair:
--   1. a shared lock on the "epoch" row (bucket -1), which renames of products.sku and
--      suppliers.name (and deletes of either) take exclusively: pairs are derived from
--      names, so nothing may derive pairs while a name is changing;
--   2. the pair's bucket rows (pair hash folded into 1024 buckets), locked in bucket
--      order and *updated*, so a REPEATABLE READ or SERIALIZABLE transaction whose
--      snapshot predates a concurrent committed sync of the same bucket gets 40001
--      instead of recomputing from a stale snapshot;
--   3. the recomputation, in a statement that starts after the locks are granted (a
--      fresh snapshot at READ COMMITTED).
-- The table holds 1025 fixed rows (buckets -1..1023), so integer keys cannot overflow.
-- Row locks live in the tuples, not in the shared lock table, so a bulk statement over
-- a million pairs holds at most 1025 of them.
--
-- Every function pins search_path and qualifies every name, and runs with jit = off (a plan
-- costed for a bulk statement was JIT-compiled again on each later call); they run as their owner
-- (SECURITY DEFINER) so an application role needs no privilege on the lock table.

CREATE TABLE {schema}.verify_triggers_lock (
    -- squawk-ignore prefer-bigint-over-int
    bucket integer PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

COMMENT ON TABLE {schema}.verify_triggers_lock IS
'verify-triggers: serialises the is_verified sync per pair bucket; row -1 is the rename epoch.';

INSERT INTO {schema}.verify_triggers_lock (bucket)
SELECT b.bucket FROM pg_catalog.generate_series(-1, 1023) AS b (bucket);

REVOKE ALL ON {schema}.verify_triggers_lock FROM public;

-- The bucket of a pair: a stable hash folded into 0..1023.
CREATE FUNCTION {schema}.verify_triggers_bucket(p_sku text, p_supplier_name text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
-- A SQL-standard body binds its names when created, so it needs no pinned search_path
-- and stays inlinable.
RETURN (
    pg_catalog.hashtextextended(p_sku || pg_catalog.chr(31) || p_supplier_name, 0) & 1023
)::integer;

-- Shared epoch lock: waits for (and, under snapshot isolation, conflicts with) renames.
CREATE FUNCTION {schema}.verify_triggers_lock_epoch()
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

-- Exclusive epoch lock, taken by renames, deletes and truncates of products and suppliers,
-- once per transaction: the epoch row exclusively, then every bucket in order, updated. A
-- rename re-derives pairs from names, so at REPEATABLE READ it must fail with 40001 when any
-- sync committed after its snapshot; at READ COMMITTED it only waits for syncs in flight.
CREATE FUNCTION {schema}.verify_triggers_bump_epoch()
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

-- Lock the buckets of the given pairs, then bring their sheet rows in line with the rule.
-- Returns the number of sheet rows changed.
--
-- A direct write to sheet rows locks the rows first and the buckets after (in its statement
-- trigger), while the sync holds buckets and then updates rows: holding buckets, the sync
-- therefore never waits long for a row. If a row stays locked past a short lock_timeout the
-- subtransaction is rolled back (releasing the buckets), the sync waits for those rows
-- holding no bucket, and tries again, rows first like every other writer.
CREATE FUNCTION {schema}.verify_triggers_sync_pairs(p_skus text[], p_supplier_names text[])
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

-- Repair every drifted row (p_skus NULL) or those of the given SKUs; returns rows changed.
-- Used once by the migration and by `verify-triggers sync`.
CREATE FUNCTION {schema}.verify_triggers_sync(p_skus text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
-- a generic plan cannot fold "p_skus IS NULL OR ..." and scans every row per call
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    skus text[];
    supplier_names text[];
BEGIN
    PERFORM {schema}.verify_triggers_lock_epoch();

    WITH confirmed AS (
        SELECT DISTINCT
            pr.sku,
            su.name AS supplier_name
        FROM {schema}.supplier_products AS sp
        INNER JOIN {schema}.products AS pr ON sp.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
        WHERE
            sp.manual_confirmed
            AND (p_skus IS NULL OR pr.sku = ANY(p_skus))
    )

    SELECT
        pg_catalog.array_agg(sh.sku),
        pg_catalog.array_agg(sh.supplier_name)
    INTO skus, supplier_names
    FROM {schema}.product_supplier_sheets AS sh
    LEFT JOIN confirmed AS c
        ON
            sh.sku = c.sku
            AND sh.supplier_name = c.supplier_name
    WHERE
        (p_skus IS NULL OR sh.sku = ANY(p_skus))
        AND (
            (c.sku IS NOT NULL AND sh.is_verified IS NOT TRUE)
            OR (c.sku IS NULL AND sh.verified_by = 'verify-triggers')
        );

    RETURN {schema}.verify_triggers_sync_pairs(skus, supplier_names);
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync_pairs(text[], text[]) FROM public;
REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync(text[]) FROM public;
REVOKE ALL ON FUNCTION {schema}.verify_triggers_lock_epoch() FROM public;
REVOKE ALL ON FUNCTION {schema}.verify_triggers_bump_epoch() FROM public;

-- supplier_products: statement-level, one pass over the transition table per statement.
-- Only confirmed rows can confirm a pair, so a pair is affected when a row confirming it
-- appears (new side) or disappears (old side).

CREATE FUNCTION {schema}.verify_triggers_sp_insert()
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

CREATE FUNCTION {schema}.verify_triggers_sp_update()
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

CREATE FUNCTION {schema}.verify_triggers_sp_delete()
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

-- TRUNCATE has no transition table: re-derive every pair (the table is locked exclusively).
CREATE FUNCTION {schema}.verify_triggers_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
BEGIN
    IF TG_TABLE_NAME <> 'supplier_products' THEN
        PERFORM {schema}.verify_triggers_bump_epoch();
    END IF;
    PERFORM {schema}.verify_triggers_sync(NULL);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER verify_triggers_sp_insert
AFTER INSERT ON {schema}.supplier_products
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sp_insert();

CREATE TRIGGER verify_triggers_sp_update
AFTER UPDATE ON {schema}.supplier_products
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sp_update();

CREATE TRIGGER verify_triggers_sp_delete
AFTER DELETE ON {schema}.supplier_products
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sp_delete();

CREATE TRIGGER verify_triggers_sp_truncate
AFTER TRUNCATE ON {schema}.supplier_products
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_truncate();

-- product_supplier_sheets: bulk imports are statement-level; updates are recomputed
-- only for rows whose pair or verification changed, and never for the sync's own writes.

CREATE FUNCTION {schema}.verify_triggers_sheet_insert()
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
    SELECT
        pg_catalog.array_agg(p.sku),
        pg_catalog.array_agg(p.supplier_name)
    INTO skus, supplier_names
    FROM (
        SELECT DISTINCT
            n.sku,
            n.supplier_name
        FROM new_rows AS n
        WHERE n.sku IS NOT NULL AND n.supplier_name IS NOT NULL
    ) AS p;

    IF skus IS NULL THEN
        RETURN NULL;
    END IF;

    -- Pairs come from the rows themselves; the epoch still orders the recomputation
    -- after any rename in flight, whose products.sku or suppliers.name it reads.
    PERFORM {schema}.verify_triggers_lock_epoch();
    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE FUNCTION {schema}.verify_triggers_sheet_update()
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

CREATE TRIGGER verify_triggers_sheet_insert
AFTER INSERT ON {schema}.product_supplier_sheets
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sheet_insert();

CREATE TRIGGER verify_triggers_sheet_update
AFTER UPDATE ON {schema}.product_supplier_sheets
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sheet_update();

-- products.sku and suppliers.name: renames are rare, so a row trigger with a WHEN clause
-- costs nothing on the frequent updates of other columns (stock, prices). A rename takes
-- the epoch exclusively, then recomputes every sheet row under the old and the new name.

CREATE FUNCTION {schema}.verify_triggers_product_renamed()
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
    PERFORM {schema}.verify_triggers_bump_epoch();

    SELECT
        pg_catalog.array_agg(sh.sku),
        pg_catalog.array_agg(sh.supplier_name)
    INTO skus, supplier_names
    FROM {schema}.product_supplier_sheets AS sh
    WHERE sh.sku IN (old.sku, new.sku);

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE FUNCTION {schema}.verify_triggers_supplier_renamed()
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
    PERFORM {schema}.verify_triggers_bump_epoch();

    SELECT
        pg_catalog.array_agg(sh.sku),
        pg_catalog.array_agg(sh.supplier_name)
    INTO skus, supplier_names
    FROM {schema}.product_supplier_sheets AS sh
    WHERE sh.supplier_name IN (old.name, new.name);

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- Deleting a product or supplier un-confirms its pairs even when no match row changes
-- in a way the supplier_products triggers could attribute to a name.
CREATE FUNCTION {schema}.verify_triggers_product_delete()
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
    PERFORM {schema}.verify_triggers_bump_epoch();

    SELECT
        pg_catalog.array_agg(sh.sku),
        pg_catalog.array_agg(sh.supplier_name)
    INTO skus, supplier_names
    FROM {schema}.product_supplier_sheets AS sh
    WHERE sh.sku IN (SELECT o.sku FROM old_rows AS o);

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE FUNCTION {schema}.verify_triggers_supplier_delete()
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
    PERFORM {schema}.verify_triggers_bump_epoch();

    SELECT
        pg_catalog.array_agg(sh.sku),
        pg_catalog.array_agg(sh.supplier_name)
    INTO skus, supplier_names
    FROM {schema}.product_supplier_sheets AS sh
    WHERE sh.supplier_name IN (SELECT o.name FROM old_rows AS o);

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER verify_triggers_product_renamed
AFTER UPDATE OF sku ON {schema}.products
FOR EACH ROW
WHEN (old.sku IS DISTINCT FROM new.sku)
EXECUTE FUNCTION {schema}.verify_triggers_product_renamed();

CREATE TRIGGER verify_triggers_product_delete
AFTER DELETE ON {schema}.products
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_product_delete();

CREATE TRIGGER verify_triggers_product_truncate
AFTER TRUNCATE ON {schema}.products
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_truncate();

CREATE TRIGGER verify_triggers_supplier_renamed
AFTER UPDATE OF name ON {schema}.suppliers
FOR EACH ROW
WHEN (old.name IS DISTINCT FROM new.name)
EXECUTE FUNCTION {schema}.verify_triggers_supplier_renamed();

CREATE TRIGGER verify_triggers_supplier_delete
AFTER DELETE ON {schema}.suppliers
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_supplier_delete();

CREATE TRIGGER verify_triggers_supplier_truncate
AFTER TRUNCATE ON {schema}.suppliers
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_truncate();
