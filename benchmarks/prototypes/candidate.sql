-- A CANDIDATE for a later revision, measured by `python -m benchmarks.run --candidate
-- benchmarks/prototypes/candidate.sql`: applied on top of the installed revision in the
-- benchmark's own database only. It is not a migration and installs nothing anywhere else.
--
-- What it changes, and why (docs/benchmarks.md has the measurements). Written against
-- sql/triggers/0001_install.sql as of 34d75b3, which already adopted part of this (jit = off;
-- changed rows found by an aggregate rather than a join). The functions it replaces must be
-- re-derived if that file changes again.
--
-- 1. No transition-table query can be handed a plan made for another statement's size.
--    PL/pgSQL caches the plan of a query without parameters at its first execution in the
--    session. For `new_rows JOIN old_rows ON id` made for a 1-row statement that is a
--    Nested Loop with a join filter, so a later 100k-row statement on the same connection
--    compares 10^10 pairs; made for a bulk statement it is Hash Joins over seq scans of
--    products and suppliers, JIT-compiled on every later single-row confirm (~220 ms each at
--    N = 100k). Here the changed rows are found by grouping old and new rows together and
--    keeping the groups seen once (an aggregate, hashed or sorted: linear whatever the
--    cached plan; for supplier_products only CONFIRMED rows take part, so an update of
--    unconfirmed rows only scans the tuplestores); the names are then looked up with the
--    changed ids as array parameters, planned per call for the actual array
--    (force_custom_plan), after the epoch lock as before.
-- 2. Nothing to sync, no lock: an update that changes no confirmed (product, supplier)
--    returns before taking the epoch row lock (a row lock is a WAL record).
-- 3. One pair, cached plans: the common single-row confirm syncs its pair with scalar
--    statements whose generic plans are cached (unique-key lookups, safe to cache), instead
--    of planning the set-based CTE statements on every call (planning was ~55% of a
--    single-row confirm's backend CPU).
-- 4. jit = off in every trigger function: a cached plan with a bulk-sized cost estimate was
--    JIT-compiled again on every execution (and a bulk confirm's own JIT took ~260 ms at 100k).
-- 5. work_mem = 64MB for the set-based sync and the changed-row detection: their hashes and
--    sorts spilled to disk at the default 4MB from N = 100k.
-- 6. The bulk sync updates the sheet rows in (sku, supplier_name) order. The pair arrays come
--    out of hash aggregates in random order; at N = 1M (3M sheet rows, indexes larger than
--    shared_buffers) updating in that order spent half its time in _bt_doinsert reading and
--    writing index pages (perf), and the sync UPDATE took 53 s against 11-17 s for the
--    hand-written one, which scans the sheets in heap order. Sorted: 19-28 s.

-- (3) one pair: lock its bucket, recompute it. The same locking, rule and deadlock retry as
-- sync_pairs (ca1378f), with scalar statements whose generic plans are cached.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync_one(p_sku text, p_supplier_name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = auto
SET jit = off
AS $fn$
DECLARE
    changed bigint;
    outer_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    recomputing boolean;
BEGIN
    LOOP
        recomputing := false;
        BEGIN
            UPDATE {schema}.verify_triggers_lock AS l
            SET generation = l.generation + 1
            WHERE l.bucket = {schema}.verify_triggers_bucket(p_sku, p_supplier_name);

            PERFORM pg_catalog.set_config('verify_triggers.syncing', 'on', true);
            PERFORM pg_catalog.set_config('lock_timeout', '100ms', true);
            recomputing := true;

            -- A new statement, so at READ COMMITTED it sees all committed before the lock.
            UPDATE {schema}.product_supplier_sheets AS sh
            SET
                is_verified = c.is_confirmed,
                verified_by = CASE WHEN c.is_confirmed THEN 'verify-triggers' END,
                verified_at = CASE WHEN c.is_confirmed THEN pg_catalog.now() END
            FROM (
                SELECT EXISTS (
                    SELECT 1
                    FROM {schema}.products AS pr
                    INNER JOIN {schema}.supplier_products AS sp ON pr.id = sp.local_product_id
                    INNER JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
                    WHERE pr.sku = p_sku AND su.name = p_supplier_name AND sp.manual_confirmed
                ) AS is_confirmed
            ) AS c
            WHERE
                sh.sku = p_sku
                AND sh.supplier_name = p_supplier_name
                AND (
                    (c.is_confirmed AND sh.is_verified IS NOT TRUE)
                    OR (NOT c.is_confirmed AND sh.verified_by = 'verify-triggers')
                );

            GET DIAGNOSTICS changed = ROW_COUNT;
            PERFORM pg_catalog.set_config('lock_timeout', outer_lock_timeout, true);
            PERFORM pg_catalog.set_config('verify_triggers.syncing', 'off', true);
            RETURN changed;
        EXCEPTION
            WHEN lock_not_available THEN
                IF NOT recomputing THEN
                    RAISE;  -- the caller's own lock_timeout, waiting for the bucket
                END IF;
                -- The bucket released with the subtransaction: wait for the row, then retry.
                PERFORM 1
                FROM {schema}.product_supplier_sheets AS sh
                WHERE sh.sku = p_sku AND sh.supplier_name = p_supplier_name
                FOR UPDATE OF sh;
        END;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync_one(text, text) FROM public;

-- (3) sync_pairs hands a single pair to sync_one; (5) work_mem and (6) key order for the
-- set-based path. Otherwise verbatim from the installed revision as of 34d75b3 (subtransaction
-- and deadlock retry of ca1378f, per-row confirmation probe of 17a59c2, jit off).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync_pairs(p_skus text[], p_supplier_names text[])
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
SET work_mem = '64MB'
AS $fn$
DECLARE
    changed bigint;
    outer_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    recomputing boolean;
BEGIN
    IF p_skus IS NULL OR pg_catalog.cardinality(p_skus) = 0 THEN
        RETURN 0;
    END IF;
    IF pg_catalog.cardinality(p_skus) = 1 THEN
        RETURN {schema}.verify_triggers_sync_one(p_skus[1], p_supplier_names[1]);
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
            -- (6) In key order: the arrays arrive in hash order, and updating 1M sheet rows
            -- in random order thrashes their indexes once they outgrow shared_buffers.
            WITH pairs AS MATERIALIZED (
                SELECT DISTINCT
                    p.sku,
                    p.supplier_name
                FROM unnest(p_skus, p_supplier_names) AS p (sku, supplier_name)
                ORDER BY p.sku, p.supplier_name
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

-- The (product, supplier) ids -> pairs, after the epoch lock. One pair (a single-row
-- confirm): primary-key lookups with a cached plan. More: EXECUTE, so the join is planned
-- for the actual arrays every time and no plan is cached.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync_ids(p_product_ids integer[], p_supplier_ids integer[])
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
DECLARE
    skus text[];
    supplier_names text[];
    one_sku text;
    one_supplier_name text;
BEGIN
    IF p_product_ids IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM {schema}.verify_triggers_lock_epoch();

    IF pg_catalog.cardinality(p_product_ids) = 1 THEN
        SELECT pr.sku, su.name
        INTO one_sku, one_supplier_name
        FROM {schema}.products AS pr, {schema}.suppliers AS su
        WHERE pr.id = p_product_ids[1] AND su.id = p_supplier_ids[1];
        IF NOT FOUND THEN
            RETURN 0;
        END IF;
        RETURN {schema}.verify_triggers_sync_one(one_sku, one_supplier_name);
    END IF;

    EXECUTE $q$
        SELECT
            pg_catalog.array_agg(p.sku),
            pg_catalog.array_agg(p.supplier_name)
        FROM (
            SELECT DISTINCT
                pr.sku,
                su.name AS supplier_name
            FROM unnest($1, $2) AS s (product_id, supplier_id)
            INNER JOIN {schema}.products AS pr ON s.product_id = pr.id
            INNER JOIN {schema}.suppliers AS su ON s.supplier_id = su.id
        ) AS p
    $q$
    INTO skus, supplier_names
    USING p_product_ids, p_supplier_ids;

    RETURN {schema}.verify_triggers_sync_pairs(skus, supplier_names);
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync_ids(integer[], integer[]) FROM public;

-- (1) (2) supplier_products: confirmed (id, product, supplier) triples that appear or
-- disappear, by set difference; nothing else is read before we know there is work.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '64MB'
AS $fn$
DECLARE
    product_ids integer[];
    supplier_ids integer[];
BEGIN
    -- A confirmed (id, product, supplier) triple on one side only appeared or disappeared.
    SELECT
        pg_catalog.array_agg(x.local_product_id),
        pg_catalog.array_agg(x.supplier_id)
    INTO product_ids, supplier_ids
    FROM (
        SELECT DISTINCT
            c.local_product_id,
            c.supplier_id
        FROM (
            SELECT
                s.local_product_id,
                s.supplier_id
            FROM (
                SELECT r.id, r.local_product_id, r.supplier_id
                FROM old_rows AS r
                WHERE r.manual_confirmed
                UNION ALL
                SELECT r.id, r.local_product_id, r.supplier_id
                FROM new_rows AS r
                WHERE r.manual_confirmed
            ) AS s
            GROUP BY s.id, s.local_product_id, s.supplier_id
            HAVING pg_catalog.count(*) = 1
        ) AS c
        WHERE c.local_product_id IS NOT NULL
    ) AS x;

    PERFORM {schema}.verify_triggers_sync_ids(product_ids, supplier_ids);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
DECLARE
    product_ids integer[];
    supplier_ids integer[];
BEGIN
    SELECT
        pg_catalog.array_agg(s.local_product_id),
        pg_catalog.array_agg(s.supplier_id)
    INTO product_ids, supplier_ids
    FROM (
        SELECT DISTINCT r.local_product_id, r.supplier_id
        FROM new_rows AS r
        WHERE r.manual_confirmed AND r.local_product_id IS NOT NULL
    ) AS s;

    PERFORM {schema}.verify_triggers_sync_ids(product_ids, supplier_ids);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
DECLARE
    product_ids integer[];
    supplier_ids integer[];
BEGIN
    SELECT
        pg_catalog.array_agg(s.local_product_id),
        pg_catalog.array_agg(s.supplier_id)
    INTO product_ids, supplier_ids
    FROM (
        SELECT DISTINCT r.local_product_id, r.supplier_id
        FROM old_rows AS r
        WHERE r.manual_confirmed AND r.local_product_id IS NOT NULL
    ) AS s;

    PERFORM {schema}.verify_triggers_sync_ids(product_ids, supplier_ids);
    RETURN NULL;
END
$fn$;

-- (1) sheets: rows whose (sku, supplier_name, is_verified, verified_by) changed, by set
-- difference (every row takes part here: any of them may have been renamed).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sheet_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '64MB'
AS $fn$
DECLARE
    skus text[];
    supplier_names text[];
BEGIN
    IF pg_catalog.current_setting('verify_triggers.syncing', true) = 'on' THEN
        RETURN NULL;
    END IF;

    -- A (id, sku, supplier_name, is_verified, verified_by) row on one side only changed.
    SELECT
        pg_catalog.array_agg(p.sku),
        pg_catalog.array_agg(p.supplier_name)
    INTO skus, supplier_names
    FROM (
        SELECT DISTINCT
            c.sku,
            c.supplier_name
        FROM (
            SELECT
                s.sku,
                s.supplier_name
            FROM (
                SELECT r.id, r.sku, r.supplier_name, r.is_verified, r.verified_by
                FROM old_rows AS r
                UNION ALL
                SELECT r.id, r.sku, r.supplier_name, r.is_verified, r.verified_by
                FROM new_rows AS r
            ) AS s
            GROUP BY s.id, s.sku, s.supplier_name, s.is_verified, s.verified_by
            HAVING pg_catalog.count(*) = 1
        ) AS c
        WHERE c.sku IS NOT NULL AND c.supplier_name IS NOT NULL
    ) AS p;

    IF skus IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM {schema}.verify_triggers_lock_epoch();
    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- (4) the rest: no JIT for plans cached inside trigger functions.
ALTER FUNCTION {schema}.verify_triggers_sheet_insert() SET jit = off;
ALTER FUNCTION {schema}.verify_triggers_product_renamed() SET jit = off;
ALTER FUNCTION {schema}.verify_triggers_supplier_renamed() SET jit = off;
ALTER FUNCTION {schema}.verify_triggers_product_delete() SET jit = off;
ALTER FUNCTION {schema}.verify_triggers_supplier_delete() SET jit = off;
ALTER FUNCTION {schema}.verify_triggers_sync(text[]) SET jit = off;
