-- verify-triggers 0002: the same rule and locking as 0001, at the cost of the write.
--
-- What the benchmark (docs/benchmarks.md) found in 0001, and what this revision does:
--
-- 1. A single-row confirm planned set-based statements on every call (planning was about
--    half its CPU) and took the epoch lock even when nothing confirmed changed. Here a
--    statement that wrote one match compares that row's two versions, returns before any
--    lock when no confirmed (product, supplier) changed, and syncs one changed pair through
--    verify_triggers_sync_one, whose statements are unique-key lookups with cached plans.
-- 2. A bulk update of a column the rule does not read (a price refresh) paid for an
--    aggregate over every old and new row. A row trigger whose WHEN clause compares the
--    columns the rule reads now marks the transaction when one of them changed; the
--    statement trigger returns at once while none did.
-- 3. The per-row confirmation probe of sync_pairs could scan the whole partial index of
--    confirmed matches for every sheet row (a join filter instead of an index condition,
--    from statistics taken before a bulk confirm): about 0.2 ms a row. The probe now looks
--    the match up by (product ids, supplier ids) as index conditions, computed per row.
-- 4. The bulk sync updates sheet rows in (sku, supplier_name) order (random order thrashed
--    the sheets' indexes at 3M rows), and its hashes and sorts get 64MB of work_mem.
-- 5. Nothing here assumes the type of the id columns: single ids are held in %TYPE
--    variables, and several are joined in a statement planned per call (EXECUTE).
-- 6. The epoch is an advisory lock instead of a row lock (see verify_triggers_lock_epoch),
--    and the lock table's pages are pruned less often (fillfactor 100).
-- 7. 0001's partial index on manual_confirmed made every confirm a non-HOT update; the sync
--    now finds matches by product through an index without a predicate (0002_indexes.sql).
--
-- Otherwise the locking is 0001's: the epoch shared before any name is read, the pairs'
-- buckets updated in order, the recomputation in a statement after them.

-- A transaction that changed a column the rule reads. Set from the WHEN clause of the row
-- triggers below, which is evaluated for each updated row as it is queued; set_config
-- returns its value, never NULL, so the WHEN is false and the trigger function never runs.
-- The mark lasts until the end of the transaction (or the rollback of its savepoint): a
-- statement trigger cannot clear it, because a nested statement's trigger would clear it
-- before the outer statement's trigger had read it.
CREATE FUNCTION {schema}.verify_triggers_never_called()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN NULL;
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_never_called() FROM public;

-- The epoch, shared by every sync and taken exclusively by renames (verify_triggers_bump_epoch),
-- is now a transaction-level advisory lock keyed by the schema: 0001's FOR SHARE of row -1
-- wrote a lock record and, with concurrent writers, a new MultiXact into the WAL on every
-- write (a fifth of the WAL of a single-row confirm), and serialised them on one heap page.
-- The advisory lock blocks exactly as the row lock did and writes nothing. A snapshot older
-- than a rename still gets 40001: the rename updates every bucket row, and every sync
-- updates its buckets.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_lock_epoch()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(
        pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
    );
END
$fn$;

-- Exclusive epoch, once per transaction: the advisory lock (waits for syncs in flight), then,
-- as in 0001, the epoch row and every bucket in order, updated, so that a REPEATABLE READ
-- rename fails with 40001 when any sync committed after its snapshot, and the reverse.
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

    PERFORM pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
    );

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

-- Every sync updates its bucket rows. At fillfactor 50 a page of the lock table is pruned
-- whenever less than half of it is free, that is after nearly every update: a WAL record per
-- write (a third of the PRUNE records of a single-row confirm, pg_waldump). At 100 the pages,
-- filled to half by 0001, take dozens of updates between prunes.
ALTER TABLE {schema}.verify_triggers_lock SET (fillfactor = 100);

-- One pair: lock its bucket, recompute its sheet rows. The locking, rule and deadlock
-- retry of verify_triggers_sync_pairs, as statements with cached generic plans.
CREATE FUNCTION {schema}.verify_triggers_sync_one(p_sku text, p_supplier_name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
-- every statement below is a unique-key lookup: a generic plan is right for all values
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    changed bigint;
    outer_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    previous text;
    recomputing boolean;
BEGIN
    IF p_sku IS NULL OR p_supplier_name IS NULL THEN
        RETURN 0;
    END IF;

    LOOP
        recomputing := false;
        BEGIN
            UPDATE {schema}.verify_triggers_lock AS l
            SET generation = l.generation + 1
            WHERE l.bucket = {schema}.verify_triggers_bucket(p_sku, p_supplier_name);

            previous := pg_catalog.set_config('verify_triggers.syncing', 'on', true);
            previous := pg_catalog.set_config('lock_timeout', '100ms', true);
            recomputing := true;

            -- A new statement, so at READ COMMITTED it sees all committed before the lock.
            WITH target AS MATERIALIZED (
                SELECT EXISTS (
                    SELECT 1
                    FROM {schema}.supplier_products AS sp
                    WHERE
                        sp.manual_confirmed
                        AND sp.local_product_id = ANY(ARRAY(
                            SELECT pr.id
                            FROM {schema}.products AS pr
                            WHERE pr.sku = p_sku
                        ))
                        AND sp.supplier_id = ANY(ARRAY(
                            SELECT su.id
                            FROM {schema}.suppliers AS su
                            WHERE su.name = p_supplier_name
                        ))
                ) AS is_confirmed
            )

            UPDATE {schema}.product_supplier_sheets AS sh
            SET
                is_verified = t.is_confirmed,
                verified_by = CASE WHEN t.is_confirmed THEN 'verify-triggers' END,
                verified_at = CASE WHEN t.is_confirmed THEN pg_catalog.now() END
            FROM target AS t
            WHERE
                sh.sku = p_sku
                AND sh.supplier_name = p_supplier_name
                AND (
                    (t.is_confirmed AND sh.is_verified IS NOT TRUE)
                    OR (NOT t.is_confirmed AND sh.verified_by = 'verify-triggers')
                );

            GET DIAGNOSTICS changed = ROW_COUNT;
            previous := pg_catalog.set_config('lock_timeout', outer_lock_timeout, true);
            previous := pg_catalog.set_config('verify_triggers.syncing', 'off', true);
            RETURN changed;
        EXCEPTION
            WHEN lock_not_available THEN
                IF NOT recomputing THEN
                    RAISE;  -- the caller's own lock_timeout, waiting for the bucket
                END IF;
                -- The bucket released with the subtransaction: wait for the rows, then retry.
                PERFORM 1
                FROM {schema}.product_supplier_sheets AS sh
                WHERE sh.sku = p_sku AND sh.supplier_name = p_supplier_name
                ORDER BY sh.id
                FOR UPDATE OF sh;
        END;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync_one(text, text) FROM public;

-- Lock the buckets of the given pairs, then bring their sheet rows in line with the rule.
-- Returns the number of sheet rows changed. One pair goes to verify_triggers_sync_one.
--
-- A direct write to sheet rows locks the rows first and the buckets after (in its statement
-- trigger), while the sync holds buckets and then updates rows: holding buckets, the sync
-- therefore never waits long for a row. If a row stays locked past a short lock_timeout the
-- subtransaction is rolled back (releasing the buckets), the sync waits for those rows
-- holding no bucket, and tries again, rows first like every other writer.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync_pairs(
    p_skus text[], p_supplier_names text[]
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
AS $fn$
DECLARE
    changed bigint;
    outer_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    previous text;
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

            previous := pg_catalog.set_config('verify_triggers.syncing', 'on', true);
            previous := pg_catalog.set_config('lock_timeout', '100ms', true);
            recomputing := true;

            -- A new statement, so at READ COMMITTED it sees all committed before the locks.
            -- The pairs in key order, so the sheet rows and their indexes are visited in
            -- order. Confirmation is probed per sheet row by index conditions on the partial
            -- index of confirmed matches: linear in the pairs whatever the statistics say (a
            -- join planned from "nothing is confirmed" once never finished at 100k pairs).
            WITH pairs AS MATERIALIZED (
                SELECT DISTINCT
                    p.sku,
                    p.supplier_name
                FROM unnest(p_skus, p_supplier_names) AS p (sku, supplier_name)
                ORDER BY p.sku, p.supplier_name
            ),

            -- the suppliers' ids by name, once per statement: looked up per row, the
            -- small suppliers table was scanned 100k times (0.8 s of a 100k-row sync)
            supplier_ids AS MATERIALIZED (
                SELECT
                    su.name,
                    pg_catalog.array_agg(su.id) AS ids
                FROM {schema}.suppliers AS su
                WHERE su.name IN (SELECT pairs.supplier_name FROM pairs)
                GROUP BY su.name
            ),

            target AS MATERIALIZED (
                SELECT
                    sh.id,
                    EXISTS (
                        SELECT 1
                        FROM {schema}.supplier_products AS sp
                        WHERE
                            sp.manual_confirmed
                            AND sp.local_product_id = ANY(ARRAY(
                                SELECT pr.id
                                FROM {schema}.products AS pr
                                WHERE pr.sku = sh.sku
                            ))
                            AND sp.supplier_id = ANY(s.ids)
                    ) AS is_confirmed
                FROM pairs
                INNER JOIN {schema}.product_supplier_sheets AS sh
                    ON
                        pairs.sku = sh.sku
                        AND pairs.supplier_name = sh.supplier_name
                LEFT JOIN supplier_ids AS s ON sh.supplier_name = s.name
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
            previous := pg_catalog.set_config('lock_timeout', outer_lock_timeout, true);
            previous := pg_catalog.set_config('verify_triggers.syncing', 'off', true);
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

-- supplier_products. Only confirmed rows can confirm a pair, so a pair is affected where a
-- confirmed (product, supplier) appears or disappears. A statement that wrote one row (the
-- application's confirm) reads that row's versions from the transition tables, and takes
-- the epoch and reads names only when a pair changed: primary-key lookups with cached
-- plans. A statement that wrote several takes the epoch, then finds the changed matches
-- and their names in one statement planned for its transition tables (EXECUTE), so that
-- no plan made for one row is reused for a million, nor a million-row plan for one row.
-- (The pairs may repeat there; sync_pairs takes them distinct.)

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '64MB'
AS $fn$
DECLARE
    product_id {schema}.supplier_products.local_product_id%TYPE;
    supplier_id {schema}.supplier_products.supplier_id%TYPE;
    confirmed {schema}.supplier_products.manual_confirmed%TYPE;
    sku text;
    supplier_name text;
    skus text [];
    supplier_names text [];
    synced bigint;
BEGIN
    PERFORM 1 FROM new_rows OFFSET 1 LIMIT 1;

    IF NOT FOUND THEN
        -- One row written, the common case: its match, if confirmed, before any lock.
        SELECT
            r.local_product_id,
            r.supplier_id,
            r.manual_confirmed
        INTO product_id, supplier_id, confirmed
        FROM new_rows AS r;

        IF confirmed IS NOT TRUE THEN
            RETURN NULL;
        END IF;

        -- the epoch, shared (verify_triggers_lock_epoch, inlined: one call less per write)
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(
            pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
        );

        SELECT
            pr.sku,
            su.name
        INTO sku, supplier_name
        FROM {schema}.products AS pr, {schema}.suppliers AS su
        WHERE pr.id = product_id AND su.id = supplier_id;

        synced := {schema}.verify_triggers_sync_one(sku, supplier_name);
        RETURN NULL;
    ELSE
        -- Several rows: the epoch, then the changed matches and their names in one
        -- statement planned for these transition tables.
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(
            pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
        );
    END IF;

    EXECUTE $q$
        SELECT
            pg_catalog.array_agg(pr.sku),
            pg_catalog.array_agg(su.name)
        FROM new_rows AS r
        INNER JOIN {schema}.products AS pr ON r.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON r.supplier_id = su.id
        WHERE r.manual_confirmed
    $q$
    INTO skus, supplier_names;

    synced := {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '64MB'
AS $fn$
DECLARE
    old_product_id {schema}.supplier_products.local_product_id%TYPE;
    old_supplier_id {schema}.supplier_products.supplier_id%TYPE;
    old_confirmed {schema}.supplier_products.manual_confirmed%TYPE;
    product_id {schema}.supplier_products.local_product_id%TYPE;
    supplier_id {schema}.supplier_products.supplier_id%TYPE;
    confirmed {schema}.supplier_products.manual_confirmed%TYPE;
    sku text;
    supplier_name text;
    skus text [];
    supplier_names text [];
    synced bigint;
BEGIN
    -- Marked by the verify_triggers_sp_changed row trigger's WHEN clause.
    IF pg_catalog.current_setting('verify_triggers.sp_changed', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;
    END IF;

    PERFORM 1 FROM new_rows OFFSET 1 LIMIT 1;

    IF NOT FOUND THEN
        -- One row written, the common case: compare its two versions, before any lock.
        SELECT
            o.local_product_id,
            o.supplier_id,
            o.manual_confirmed,
            n.local_product_id,
            n.supplier_id,
            n.manual_confirmed
        INTO
            old_product_id, old_supplier_id, old_confirmed,
            product_id, supplier_id, confirmed
        FROM old_rows AS o, new_rows AS n;

        IF old_confirmed IS NOT TRUE AND confirmed IS NOT TRUE THEN
            RETURN NULL;  -- unconfirmed before and after: no pair can change
        END IF;
        IF
            old_confirmed AND confirmed
            AND old_product_id IS NOT DISTINCT FROM product_id
            AND old_supplier_id IS NOT DISTINCT FROM supplier_id
        THEN
            RETURN NULL;  -- confirmed before and after, for the same pair
        END IF;

        -- the epoch, shared (verify_triggers_lock_epoch, inlined: one call less per write)
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(
            pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
        );

        -- One pair: confirmed now, or unconfirmed now; a confirmed match moved to another
        -- product or supplier changes two pairs, below.
        IF old_confirmed IS NOT TRUE OR confirmed IS NOT TRUE THEN
            IF confirmed IS NOT TRUE THEN
                product_id := old_product_id;
                supplier_id := old_supplier_id;
            END IF;

            SELECT
                pr.sku,
                su.name
            INTO sku, supplier_name
            FROM {schema}.products AS pr, {schema}.suppliers AS su
            WHERE pr.id = product_id AND su.id = supplier_id;

            synced := {schema}.verify_triggers_sync_one(sku, supplier_name);
            RETURN NULL;
        END IF;
    ELSE
        -- Several rows: the epoch, then the changed matches and their names in one
        -- statement planned for these transition tables.
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(
            pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
        );
    END IF;

    EXECUTE $q$
        SELECT
            pg_catalog.array_agg(pr.sku),
            pg_catalog.array_agg(su.name)
        FROM (
            SELECT
                v.local_product_id,
                v.supplier_id
            FROM (
                SELECT
                    o.id,
                    o.local_product_id,
                    o.supplier_id
                FROM old_rows AS o
                WHERE o.manual_confirmed
                UNION ALL
                SELECT
                    n.id,
                    n.local_product_id,
                    n.supplier_id
                FROM new_rows AS n
                WHERE n.manual_confirmed
            ) AS v
            GROUP BY v.id, v.local_product_id, v.supplier_id
            HAVING pg_catalog.count(*) = 1
        ) AS s
        INNER JOIN {schema}.products AS pr ON s.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON s.supplier_id = su.id
    $q$
    INTO skus, supplier_names;

    synced := {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '64MB'
AS $fn$
DECLARE
    product_id {schema}.supplier_products.local_product_id%TYPE;
    supplier_id {schema}.supplier_products.supplier_id%TYPE;
    confirmed {schema}.supplier_products.manual_confirmed%TYPE;
    sku text;
    supplier_name text;
    skus text [];
    supplier_names text [];
    synced bigint;
BEGIN
    PERFORM 1 FROM old_rows OFFSET 1 LIMIT 1;

    IF NOT FOUND THEN
        -- One row written, the common case: its match, if confirmed, before any lock.
        SELECT
            r.local_product_id,
            r.supplier_id,
            r.manual_confirmed
        INTO product_id, supplier_id, confirmed
        FROM old_rows AS r;

        IF confirmed IS NOT TRUE THEN
            RETURN NULL;
        END IF;

        -- the epoch, shared (verify_triggers_lock_epoch, inlined: one call less per write)
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(
            pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
        );

        SELECT
            pr.sku,
            su.name
        INTO sku, supplier_name
        FROM {schema}.products AS pr, {schema}.suppliers AS su
        WHERE pr.id = product_id AND su.id = supplier_id;

        synced := {schema}.verify_triggers_sync_one(sku, supplier_name);
        RETURN NULL;
    ELSE
        -- Several rows: the epoch, then the changed matches and their names in one
        -- statement planned for these transition tables.
        PERFORM pg_catalog.pg_advisory_xact_lock_shared(
            pg_catalog.hashtext('verify_triggers.' || {schema_name}), -1
        );
    END IF;

    EXECUTE $q$
        SELECT
            pg_catalog.array_agg(pr.sku),
            pg_catalog.array_agg(su.name)
        FROM old_rows AS r
        INNER JOIN {schema}.products AS pr ON r.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON r.supplier_id = su.id
        WHERE r.manual_confirmed
    $q$
    INTO skus, supplier_names;

    synced := {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- product_supplier_sheets: as in 0001, recomputed for rows whose pair or verification
-- changed, never for the sync's own writes; and now nothing at all is read while no row
-- of the transaction changed one of those columns (a price refresh).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sheet_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
AS $fn$
DECLARE
    skus text [];
    supplier_names text [];
    synced bigint;
BEGIN
    IF pg_catalog.current_setting('verify_triggers.syncing', true) = 'on' THEN
        RETURN NULL;
    END IF;
    -- Marked by the verify_triggers_sheet_changed row trigger's WHEN clause.
    IF pg_catalog.current_setting('verify_triggers.sheet_changed', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;
    END IF;

    -- Rows whose pair or verification changed: the versions seen once among old and new
    -- rows (an aggregate, linear whatever plan is cached).
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
    synced := {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- The marks. No column list (UPDATE OF ...): PostgreSQL fires a column-list trigger only
-- when the UPDATE's SET list names one of the columns, not when an application's BEFORE
-- UPDATE trigger changes it, and such a change must be synced too. The WHEN clause is
-- evaluated for every updated row; it is a few comparisons, and queues nothing.
CREATE TRIGGER verify_triggers_sp_changed
AFTER UPDATE ON {schema}.supplier_products
FOR EACH ROW
WHEN (
    (
        old.manual_confirmed IS DISTINCT FROM new.manual_confirmed
        OR old.local_product_id IS DISTINCT FROM new.local_product_id
        OR old.supplier_id IS DISTINCT FROM new.supplier_id
    )
    AND pg_catalog.set_config('verify_triggers.sp_changed', 'on', TRUE) IS NULL
)
EXECUTE FUNCTION {schema}.verify_triggers_never_called();

CREATE TRIGGER verify_triggers_sheet_changed
AFTER UPDATE ON {schema}.product_supplier_sheets
FOR EACH ROW
WHEN (
    (
        old.sku IS DISTINCT FROM new.sku
        OR old.supplier_name IS DISTINCT FROM new.supplier_name
        OR old.is_verified IS DISTINCT FROM new.is_verified
        OR old.verified_by IS DISTINCT FROM new.verified_by
    )
    -- not for the sync's own writes (evaluated in the order written)
    AND pg_catalog.current_setting('verify_triggers.syncing', TRUE) IS DISTINCT FROM 'on'
    AND pg_catalog.set_config('verify_triggers.sheet_changed', 'on', TRUE) IS NULL
)
EXECUTE FUNCTION {schema}.verify_triggers_never_called();
