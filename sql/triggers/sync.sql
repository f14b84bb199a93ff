-- verify-triggers: everything the head revision installs, each object defined once.
--
-- THE RULE. For every row of product_supplier_sheets, the pair (sku, supplier_name) is
-- confirmed when some supplier_products row with manual_confirmed has a product whose sku and a
-- supplier whose name make that pair (verify_triggers_confirmation is the rule's one
-- definition). A confirmed pair's rows are verified; when the sync verifies a row it stamps
-- verified_by with the sync's stamp and verified_at with now(). When a pair stops being
-- confirmed, the rows carrying the sync's stamp are un-verified and the stamp cleared. Rows
-- verified by anyone else are never touched. A write that contradicts the rule is corrected in
-- the same statement.
--
-- LOCKING. Every writer that can change a pair's outcome
--   1. shares the epoch (an advisory lock, verify_triggers_lock_epoch) before it reads a name:
--      pairs are derived from names, so a rename or delete of a product or supplier takes the
--      epoch exclusively (verify_triggers_bump_epoch);
--   2. locks and updates the pair's bucket row in verify_triggers_lock (a hash of the pair
--      folded into a fixed number of rows), buckets in ascending order. The update makes a
--      REPEATABLE READ or SERIALIZABLE transaction whose snapshot predates a committed sync of
--      the bucket fail with 40001 instead of recomputing from a stale snapshot;
--   3. recomputes the pair's rows in a statement that starts after the locks are granted, so
--      at READ COMMITTED it sees everything committed before them.
-- Row locks live in the tuples: a statement over a million pairs holds one row lock per bucket
-- and no heavyweight lock per pair. A direct write to sheet rows holds the rows before it
-- takes the buckets, and the sync holds buckets before it writes rows; so the sync waits for a
-- row only briefly (lock_timeout 100ms), and on timeout releases its buckets, waits for the
-- rows holding none, and tries again: no deadlock.
--
-- BOUNDED WORK. Every statement does work in proportion to the rows it syncs, whatever indexes
-- the host has and whatever its statistics say:
--   - a lookup by a key is written `(SELECT ... WHERE key = value OFFSET 0)`: OFFSET 0 keeps
--     every other condition out of that scan, so only an index leading with the key can serve
--     it, never one on manual_confirmed or on a supplier with a hundred thousand rows;
--   - the functions that read the host's tables pin the planner to index lookups in nested
--     loops, joined in the written order (their SET clauses, or their callers': see
--     verify_triggers_sync_one);
--   - no statement joins a host table plainly: each is reached through a LATERAL lookup by key
--     from the rows that drive the statement (written rows, pairs), which stay outside whatever
--     the statistics say, and sheet rows are updated by id alone (revision 0007);
--   - where the host has no index leading with a key the sync looks up, the install builds one
--     (indexes.sql), and the installed revision records which index serves each lookup.
--
-- NO SESSION SETTING SWITCHES IT OFF. Functions run as their owner (SECURITY DEFINER) with a
-- pinned search_path, or are revoked from PUBLIC and called only from those, and name
-- everything with its schema. The one custom setting they read,
-- verify_triggers.syncing, which lets the sheet trigger skip the sync's own writes, counts only
-- while it holds the token (verify_triggers_sync_token), which no role but the owner can compute.
-- Which rows a statement changed is read from its transition tables, old and new versions
-- joined by id, never from anything a session can set. Bypasses that need the owner or a superuser
-- (DISABLE TRIGGER, session_replication_role) are reported by `verify-triggers status` and
-- `check` and repaired by `verify-triggers sync`.
--
-- NOTHING PINS THE HOST'S COLUMNS. No trigger names a column (WHEN clauses pass whole rows to
-- a function), and no function body is bound at creation to a host table, so the host may
-- widen a column or drop and re-create its tables; the functions look everything up by name
-- when they run.
--
-- Every object is written so it can be run again (CREATE OR REPLACE, IF NOT EXISTS) and is
-- introduced by a line `-- object: <kind> <name>`, which scripts/cut_revision.py reads to cut a
-- revision. The target schema is filled in at install; the stamp and the bucket count
-- (src/verify_triggers/constants.py) when a revision is cut.

-- object: table verify_triggers_lock
-- Buckets 0 and up serialise the sync per pair. Row -1 is the epoch: its generation holds the
-- id of the last transaction that renamed or deleted a product or supplier. Row -2 holds a
-- random value that only the owner can read, from which verify_triggers_sync_token is made.
-- Every sync updates its bucket rows; at fillfactor 100 a page is pruned every few dozen
-- updates rather than after each.
CREATE TABLE IF NOT EXISTS {schema}.verify_triggers_lock (
    -- squawk-ignore prefer-bigint-over-int
    bucket integer PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 100);

ALTER TABLE {schema}.verify_triggers_lock SET (fillfactor = 100);

COMMENT ON TABLE {schema}.verify_triggers_lock IS
'verify-triggers: serialises the is_verified sync per pair bucket; row -1 is the rename epoch.';

-- Only the rows that are not there yet: inserting over a bucket row that a writer holds would
-- wait for the writer, while the install holds the tables' trigger locks.
INSERT INTO {schema}.verify_triggers_lock (bucket, generation)
SELECT
    b.bucket,
    CASE
        WHEN b.bucket = -2
            -- 63 random bits from the server's strong random source
            THEN (
                'x' || pg_catalog.substr(
                    pg_catalog.md5(pg_catalog.gen_random_uuid()::text), 1, 16
                )
            )::bit(64)::bigint
        ELSE 0
    END AS generation
FROM pg_catalog.generate_series(-2, {last_bucket}) AS b (bucket)
WHERE NOT EXISTS (
    SELECT 1
    FROM {schema}.verify_triggers_lock AS l
    WHERE l.bucket = b.bucket
)
ON CONFLICT (bucket) DO NOTHING;

REVOKE ALL ON {schema}.verify_triggers_lock FROM public;

-- object: table verify_triggers_objects
-- What the installed revision created: one row per object, with a fingerprint (a hash of the
-- server's own rendering of its definition) taken at install, and for each key the sync looks
-- up, the index that serves it. `verify-triggers status` compares the catalog with this.
CREATE TABLE IF NOT EXISTS {schema}.verify_triggers_objects (
    kind text NOT NULL,
    name text NOT NULL,
    table_name text,
    revision text NOT NULL,
    fingerprint text,
    served_by text,
    PRIMARY KEY (kind, name)
);

COMMENT ON TABLE {schema}.verify_triggers_objects IS
'verify-triggers: the objects the installed revision created, with their fingerprints.';

-- Anyone may read it (as anyone may read the catalog it describes): `verify-triggers status`
-- and `check` run as a monitoring role.
REVOKE ALL ON {schema}.verify_triggers_objects FROM public;
GRANT SELECT ON {schema}.verify_triggers_objects TO public;

-- object: function verify_triggers_bucket(text, text)
-- The bucket of a pair: a stable hash folded into the lock rows. A SQL-standard body binds its
-- names when created, so it needs no pinned search_path and is inlined where it is called.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_bucket(p_sku text, p_supplier_name text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN (
    pg_catalog.hashtextextended(p_sku || pg_catalog.chr(31) || p_supplier_name, 0) & {bucket_mask}
)::integer;

-- object: function verify_triggers_epoch_key()
-- The epoch's advisory lock key, with -1 as its second half: one per schema.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_epoch_key()
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN pg_catalog.hashtext('verify_triggers.' || {schema_name});

-- object: function verify_triggers_lock_epoch()
-- The epoch, shared: taken by every sync before it reads a name; waits for renames in flight.
-- An advisory lock writes nothing; a snapshot older than a rename still gets 40001, because
-- the rename updates every bucket row and every sync updates its own.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_lock_epoch()
RETURNS void
LANGUAGE sql
VOLATILE
RETURN pg_catalog.pg_advisory_xact_lock_shared({schema}.verify_triggers_epoch_key(), -1);

REVOKE ALL ON FUNCTION {schema}.verify_triggers_lock_epoch() FROM public;

-- object: function verify_triggers_bump_epoch()
-- The epoch, exclusively, once per transaction: the advisory lock (waits for syncs in flight),
-- then row -1 and every bucket row in order, updated, so that a REPEATABLE READ rename fails
-- with 40001 when a sync committed after its snapshot, and the reverse. Row -1 remembers the
-- transaction, so its later renames skip the buckets; rolling back to a savepoint undoes that
-- memory with the updates.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_bump_epoch()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
DECLARE
    me bigint := pg_catalog.pg_current_xact_id()::text::bigint;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock({schema}.verify_triggers_epoch_key(), -1);

    PERFORM 1
    FROM {schema}.verify_triggers_lock AS l
    WHERE l.bucket = -1 AND l.generation = me;
    IF FOUND THEN
        RETURN;
    END IF;

    UPDATE {schema}.verify_triggers_lock AS l
    SET generation = me
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
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_bump_epoch() FROM public;

-- object: function verify_triggers_secret()
-- The random value of lock row -2, which only the owner can read. IMMUTABLE, as it is: the row
-- is written once, at install, and nothing updates it. So the planner evaluates it when it
-- plans a statement that calls it (always as the owner: it is revoked from PUBLIC and reads the
-- lock table with its caller's rights) and keeps the value in that plan, which the owner's
-- functions cache for the session: the token costs no read of the lock table. Up to 0008 every
-- single-row confirm and unconfirm read row -2 twice: 6% of its instructions (revision 0009).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_secret()
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $fn$
    SELECT l.generation::text
    FROM {schema}.verify_triggers_lock AS l
    WHERE l.bucket OPERATOR(pg_catalog.=) -2
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_secret() FROM public;

-- object: function verify_triggers_sync_token()
-- THE TOKEN, its one definition: the value verify_triggers.syncing holds while the sync writes
-- sheet rows, a hash of the writing transaction and the secret. An expression in SQL, with
-- neither SECURITY DEFINER nor SET clauses, so the planner inlines it where the owner's
-- functions call it and folds the secret in: computing or checking the token is a hash, with no
-- function call and no table read. It runs with its caller's rights: only a role that may read
-- lock row -2 can compute it.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync_token()
RETURNS text
LANGUAGE sql
STABLE
AS $fn$
    SELECT pg_catalog.md5(
        {schema}.verify_triggers_secret() || ':' || pg_catalog.pg_current_xact_id()::text
    )
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync_token() FROM public;

-- object: function verify_triggers_lock_buckets(text[], text[])
-- The buckets of the pairs (p_skus[i], p_supplier_names[i]), locked in bucket order (LockRows
-- above the Sort) so that two syncs of overlapping pairs cannot deadlock, and each bucket row
-- updated, so that a concurrent snapshot-isolated sync of a bucket fails with 40001. Called by
-- the multi-pair sync and by the import, once per statement, from the owner's functions.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_lock_buckets(
    p_skus text[], p_supplier_names text[]
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
BEGIN
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
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_lock_buckets(text[], text[]) FROM public;

-- object: function verify_triggers_confirmation(text, text)
-- THE RULE: one row, is_confirmed, for the pair (p_sku, p_supplier_name). Used as
-- `CROSS JOIN LATERAL verify_triggers_confirmation(sku, supplier_name)` and inlined there by the
-- planner. The matches are found by product id alone (fenced by OFFSET 0), then filtered for
-- manual_confirmed and the supplier's name: reads = the matches of the sku's products. Its body
-- is text, bound when called, so it pins no column of the host's (callers have a pinned
-- search_path; every name is qualified).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_confirmation(
    p_sku text, p_supplier_name text
)
RETURNS TABLE (is_confirmed boolean)
LANGUAGE sql
STABLE
AS $fn$
    SELECT EXISTS (
        SELECT 1
        FROM (
            SELECT
                sp.supplier_id,
                sp.manual_confirmed
            FROM (
                SELECT pr.id
                FROM {schema}.products AS pr
                WHERE pr.sku OPERATOR(pg_catalog.=) p_sku
                OFFSET 0
            ) AS pr
            INNER JOIN LATERAL (
                SELECT
                    m.supplier_id,
                    m.manual_confirmed
                FROM {schema}.supplier_products AS m
                WHERE m.local_product_id OPERATOR(pg_catalog.=) pr.id
                OFFSET 0
            ) AS sp ON true
        ) AS matched
        WHERE
            matched.manual_confirmed
            AND matched.supplier_id OPERATOR(pg_catalog.=) ANY(ARRAY(
                SELECT su.id
                FROM {schema}.suppliers AS su
                WHERE su.name OPERATOR(pg_catalog.=) p_supplier_name
                OFFSET 0
            ))
    ) AS is_confirmed
    -- computed once per pair: pulled up into the caller, the EXISTS would be copied into
    -- every expression that reads is_confirmed, and the probe run that many times
    OFFSET 0
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_confirmation(text, text) FROM public;

-- object: function verify_triggers_names(bigint, bigint)
-- The sku of a product and the name of a supplier, by their ids: one row, or none if either is
-- gone. Used as `CROSS JOIN LATERAL verify_triggers_names(product_id, supplier_id)` and inlined
-- there by the planner, so the written rows stay outside and each is looked up by key. A plain
-- join lets the planner put products or suppliers outside: with statistics of an emptied table
-- (one row estimated) it rescanned the written rows once per product (a bulk confirm of 8,000
-- matches: 21 s instead of 0.4 s, revision 0006). Each lookup is fenced by OFFSET 0, so only an
-- index leading with the id can serve it.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_names(
    p_product_id bigint, p_supplier_id bigint
)
RETURNS TABLE (sku text, supplier_name text)
LANGUAGE sql
STABLE
AS $fn$
    SELECT
        pr.sku::text,
        su.name::text
    FROM (
        SELECT p.sku
        FROM {schema}.products AS p
        WHERE p.id OPERATOR(pg_catalog.=) p_product_id
        OFFSET 0
    ) AS pr
    CROSS JOIN (
        SELECT s.name
        FROM {schema}.suppliers AS s
        WHERE s.id OPERATOR(pg_catalog.=) p_supplier_id
        OFFSET 0
    ) AS su
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_names(bigint, bigint) FROM public;

-- object: function verify_triggers_sync_one(text, text)
-- One pair: lock its bucket, recompute its sheet rows; returns the rows changed. Every
-- statement is a lookup by key, so a generic plan is right for every value and is cached.
-- It runs with its caller's rights and settings: no SECURITY DEFINER and no SET clause, each of
-- which costs a call of a function on the hot path (0007: 3% of a single-row confirm's
-- instructions). It is revoked from PUBLIC, and its callers (the supplier_products triggers and
-- verify_triggers_sync_pairs) are the owner's, each pinning search_path, jit and the planner
-- settings its statements are planned under; the supplier_products triggers also pin
-- plan_cache_mode = force_generic_plan, for this function's sake.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync_one(p_sku text, p_supplier_name text)
RETURNS bigint
LANGUAGE plpgsql
AS $fn$
DECLARE
    changed bigint;
    outer_lock_timeout text := pg_catalog.current_setting('lock_timeout');
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

            recomputing := true;
            PERFORM
                pg_catalog.set_config('lock_timeout', '100ms', true),
                pg_catalog.set_config(
                    'verify_triggers.syncing', {schema}.verify_triggers_sync_token(), true
                );

            UPDATE {schema}.product_supplier_sheets AS sh
            SET
                is_verified = c.is_confirmed,
                verified_by = CASE WHEN c.is_confirmed THEN {stamp} END,
                verified_at = CASE WHEN c.is_confirmed THEN pg_catalog.now() END
            FROM {schema}.verify_triggers_confirmation(p_sku, p_supplier_name) AS c
            WHERE
                sh.sku = p_sku
                -- an expression, which no index on supplier_name can serve: the rows are
                -- found by sku (a few per sku), then filtered by name
                AND sh.supplier_name || '' = p_supplier_name
                AND (
                    (c.is_confirmed AND sh.is_verified IS NOT TRUE)
                    OR (NOT c.is_confirmed AND sh.verified_by = {stamp})
                );

            GET DIAGNOSTICS changed = ROW_COUNT;
            PERFORM
                pg_catalog.set_config('verify_triggers.syncing', '', true),
                pg_catalog.set_config('lock_timeout', outer_lock_timeout, true);
            RETURN changed;
        EXCEPTION
            WHEN lock_not_available THEN
                IF NOT recomputing THEN
                    RAISE;  -- the caller's own lock_timeout, waiting for the bucket
                END IF;
                -- The bucket was released with the subtransaction: wait for the rows holding
                -- no bucket, then try again.
                PERFORM 1
                FROM {schema}.product_supplier_sheets AS sh
                WHERE sh.sku = p_sku AND sh.supplier_name || '' = p_supplier_name
                ORDER BY sh.id
                FOR UPDATE OF sh;
        END;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync_one(text, text) FROM public;

-- object: function verify_triggers_sync_pairs(text[], text[])
-- Several pairs (p_skus[i], p_supplier_names[i]): lock their buckets in order, then recompute
-- their sheet rows: the ids to change first, then one UPDATE by id for the rows to verify and
-- one for the rows to un-verify (as the import does since 0006); returns the rows changed. One
-- pair goes to verify_triggers_sync_one.
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
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $fn$
DECLARE
    to_verify bigint [];
    to_unverify bigint [];
    verified bigint;
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
            PERFORM {schema}.verify_triggers_lock_buckets(p_skus, p_supplier_names);

            recomputing := true;
            PERFORM
                pg_catalog.set_config('lock_timeout', '100ms', true),
                pg_catalog.set_config(
                    'verify_triggers.syncing', {schema}.verify_triggers_sync_token(), true
                );

            -- The rows to change, read from the pairs' side, in key order (each index read in
            -- its order, not at random): each pair's sheet rows by sku (a few rows per sku),
            -- each pair's confirmation. No statement joins the sheets to anything: a join leaves
            -- the planner free to put the sheets outside (0006's UPDATE ... FROM did).
            SELECT
                pg_catalog.array_agg(r.id) FILTER (
                    WHERE c.is_confirmed AND r.is_verified IS NOT TRUE
                ),
                pg_catalog.array_agg(r.id) FILTER (
                    WHERE NOT c.is_confirmed AND r.verified_by = {stamp}
                )
            INTO to_verify, to_unverify
            FROM (
                SELECT DISTINCT
                    p.sku,
                    p.supplier_name
                FROM unnest(p_skus, p_supplier_names) AS p (sku, supplier_name)
                WHERE p.sku IS NOT NULL AND p.supplier_name IS NOT NULL
                ORDER BY p.sku, p.supplier_name
            ) AS pairs
            CROSS JOIN LATERAL (
                SELECT
                    x.id,
                    x.supplier_name,
                    x.is_verified,
                    x.verified_by
                FROM {schema}.product_supplier_sheets AS x
                WHERE x.sku = pairs.sku
                OFFSET 0
            ) AS r
            CROSS JOIN LATERAL {schema}.verify_triggers_confirmation(
                pairs.sku, pairs.supplier_name
            ) AS c
            WHERE r.supplier_name = pairs.supplier_name;

            -- One relation each, looked up by primary key, in id order; the conditions again,
            -- for a row a direct writer changed in between (it is waited for, then rechecked),
            -- each written so that no index can serve it: an index on verified_by would
            -- otherwise read every row the sync ever stamped.
            UPDATE {schema}.product_supplier_sheets AS sh
            SET
                is_verified = true,
                verified_by = {stamp},
                verified_at = pg_catalog.now()
            WHERE sh.id = ANY(to_verify) AND sh.is_verified IS NOT TRUE;

            GET DIAGNOSTICS verified = ROW_COUNT;

            UPDATE {schema}.product_supplier_sheets AS sh
            SET
                is_verified = false,
                verified_by = NULL,
                verified_at = NULL
            WHERE sh.id = ANY(to_unverify) AND (sh.verified_by = {stamp}) IS TRUE;

            GET DIAGNOSTICS changed = ROW_COUNT;
            PERFORM
                pg_catalog.set_config('verify_triggers.syncing', '', true),
                pg_catalog.set_config('lock_timeout', outer_lock_timeout, true);
            RETURN verified + changed;
        EXCEPTION
            WHEN lock_not_available THEN
                IF NOT recomputing THEN
                    RAISE;  -- the caller's own lock_timeout, waiting for a bucket
                END IF;
                -- The buckets were released with the subtransaction: wait for the rows it was
                -- to change, holding no bucket, then try again.
                PERFORM 1
                FROM {schema}.product_supplier_sheets AS sh
                WHERE sh.id = ANY(to_verify || to_unverify)
                ORDER BY sh.id
                FOR UPDATE OF sh;
        END;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync_pairs(text[], text[]) FROM public;

-- object: function verify_triggers_sync(text[])
-- Repair the rows of the given SKUs (every SKU when NULL) that disagree with the rule; returns
-- the rows changed. Used by `verify-triggers sync`, the install's reconcile and TRUNCATE.
-- SKUs are taken a thousand at a time, each batch read by sku.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sync(p_skus text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $fn$
DECLARE
    batch text [];
    last_sku text;
    skus text [];
    supplier_names text [];
    changed bigint := 0;
BEGIN
    PERFORM {schema}.verify_triggers_lock_epoch();

    LOOP
        IF p_skus IS NOT NULL THEN
            EXIT WHEN last_sku IS NOT NULL;
            batch := p_skus;
            last_sku := '';
        ELSE
            SELECT pg_catalog.array_agg(s.sku ORDER BY s.sku)
            INTO batch
            FROM (
                SELECT DISTINCT x.sku
                FROM {schema}.product_supplier_sheets AS x
                WHERE last_sku IS NULL OR x.sku > last_sku
                ORDER BY x.sku
                LIMIT 1000
            ) AS s;
            EXIT WHEN batch IS NULL;
            last_sku := batch[pg_catalog.array_upper(batch, 1)];
        END IF;

        SELECT
            pg_catalog.array_agg(r.sku),
            pg_catalog.array_agg(r.supplier_name)
        INTO skus, supplier_names
        FROM (SELECT DISTINCT b.sku FROM unnest(batch) AS b (sku)) AS b
        CROSS JOIN LATERAL (
            SELECT
                x.sku,
                x.supplier_name,
                x.is_verified,
                x.verified_by
            FROM {schema}.product_supplier_sheets AS x
            WHERE x.sku = b.sku
            OFFSET 0
        ) AS r
        CROSS JOIN LATERAL {schema}.verify_triggers_confirmation(r.sku, r.supplier_name) AS c
        WHERE
            (c.is_confirmed AND r.is_verified IS NOT TRUE)
            OR (NOT c.is_confirmed AND r.verified_by = {stamp});

        changed := changed + {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    END LOOP;

    RETURN changed;
END
$fn$;

REVOKE ALL ON FUNCTION {schema}.verify_triggers_sync(text[]) FROM public;

-- object: function verify_triggers_sp_rows()
-- supplier_products, INSERT and DELETE (their triggers call the written rows written_rows):
-- each confirmed row written confirms, or stops confirming, its pair. One row written, the
-- common case: nothing is read unless it is confirmed, and its pair goes to
-- verify_triggers_sync_one. Several: the epoch, then their pairs in one statement planned for
-- this transition table (EXECUTE), so no plan made for one row is reused for a million.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_rows()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
SET work_mem = '64MB'
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $fn$
DECLARE
    confirmed boolean;
    sku text;
    supplier_name text;
    skus text [];
    supplier_names text [];
BEGIN
    PERFORM 1 FROM written_rows OFFSET 1 LIMIT 1;

    IF NOT FOUND THEN
        SELECT r.manual_confirmed INTO confirmed FROM written_rows AS r;
        IF confirmed IS NOT TRUE THEN
            RETURN NULL;
        END IF;

        PERFORM {schema}.verify_triggers_lock_epoch();

        SELECT
            nm.sku,
            nm.supplier_name
        INTO sku, supplier_name
        FROM written_rows AS r
        CROSS JOIN LATERAL {schema}.verify_triggers_names(
            r.local_product_id, r.supplier_id
        ) AS nm;

        PERFORM {schema}.verify_triggers_sync_one(sku, supplier_name);
        RETURN NULL;
    END IF;

    PERFORM {schema}.verify_triggers_lock_epoch();

    EXECUTE $q$
        SELECT
            pg_catalog.array_agg(nm.sku),
            pg_catalog.array_agg(nm.supplier_name)
        FROM written_rows AS r
        CROSS JOIN LATERAL {schema}.verify_triggers_names(
            r.local_product_id, r.supplier_id
        ) AS nm
        WHERE r.manual_confirmed
    $q$
    INTO skus, supplier_names;

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- object: function verify_triggers_sp_update()
-- supplier_products, UPDATE: a pair changes where a confirmed (product, supplier) appears or
-- disappears. One row written: its two versions compared, nothing read unless its pair
-- changed. Several: the confirmed versions, old and new, joined by id, product and supplier; a
-- version without its twin is a confirmation that appeared or disappeared. The FULL JOIN can
-- only be a hash or merge join, linear in the rows written whatever plan is cached, and reads
-- no table: after a price refresh it finds nothing, and the trigger returns without a lock.
-- Otherwise the epoch, then the names of those (product, supplier), in one statement planned
-- for them.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sp_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
SET work_mem = '64MB'
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $fn$
DECLARE
    product_ids bigint [];
    supplier_ids bigint [];
    was_confirmed boolean;
    confirmed boolean;
    same_match boolean;
    sku text;
    supplier_name text;
    skus text [];
    supplier_names text [];
BEGIN
    PERFORM 1 FROM new_rows OFFSET 1 LIMIT 1;

    IF NOT FOUND THEN
        SELECT
            o.manual_confirmed IS TRUE,
            n.manual_confirmed IS TRUE,
            o.local_product_id IS NOT DISTINCT FROM n.local_product_id
            AND o.supplier_id IS NOT DISTINCT FROM n.supplier_id
        INTO was_confirmed, confirmed, same_match
        FROM old_rows AS o, new_rows AS n;

        IF NOT FOUND OR NOT (was_confirmed OR confirmed) THEN
            RETURN NULL;  -- no row, or unconfirmed before and after
        END IF;
        IF was_confirmed AND confirmed AND same_match THEN
            RETURN NULL;  -- confirmed before and after, for the same pair
        END IF;

        PERFORM {schema}.verify_triggers_lock_epoch();

        -- Confirmed now, or not any more: one pair. (A confirmed match moved to another
        -- product or supplier changes two: below.)
        IF NOT (was_confirmed AND confirmed) THEN
            SELECT
                nm.sku,
                nm.supplier_name
            INTO sku, supplier_name
            FROM (
                SELECT
                    n.local_product_id,
                    n.supplier_id
                FROM new_rows AS n
                WHERE confirmed
                UNION ALL
                SELECT
                    o.local_product_id,
                    o.supplier_id
                FROM old_rows AS o
                WHERE NOT confirmed
            ) AS r
            CROSS JOIN LATERAL {schema}.verify_triggers_names(
                r.local_product_id, r.supplier_id
            ) AS nm;

            PERFORM {schema}.verify_triggers_sync_one(sku, supplier_name);
            RETURN NULL;
        END IF;
    END IF;

    SELECT
        pg_catalog.array_agg(coalesce(o.local_product_id, n.local_product_id)),
        pg_catalog.array_agg(coalesce(o.supplier_id, n.supplier_id))
    INTO product_ids, supplier_ids
    FROM (
        SELECT
            r.id,
            r.local_product_id,
            r.supplier_id
        FROM old_rows AS r
        WHERE r.manual_confirmed
    ) AS o
    FULL JOIN (
        SELECT
            r.id,
            r.local_product_id,
            r.supplier_id
        FROM new_rows AS r
        WHERE r.manual_confirmed
    ) AS n
        ON
            o.id = n.id
            AND o.local_product_id = n.local_product_id
            AND o.supplier_id = n.supplier_id
    WHERE o.id IS NULL OR n.id IS NULL;

    IF product_ids IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM {schema}.verify_triggers_lock_epoch();

    EXECUTE $q$
        SELECT
            pg_catalog.array_agg(nm.sku),
            pg_catalog.array_agg(nm.supplier_name)
        FROM unnest($1, $2) AS c (local_product_id, supplier_id)
        CROSS JOIN LATERAL {schema}.verify_triggers_names(
            c.local_product_id, c.supplier_id
        ) AS nm
    $q$
    INTO skus, supplier_names
    USING product_ids, supplier_ids;

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- object: function verify_triggers_sheet_insert()
-- product_supplier_sheets, INSERT (an import): the epoch, the buckets of the pairs written, in
-- order; then each inserted row is checked against its pair's confirmation and updated by id
-- where it disagrees. Only the inserted rows can disagree: a pair's other rows already keep the
-- rule, and a concurrent sync of the pair, which holds the bucket before it writes, cannot see
-- them. The rows are this transaction's own, so no other writer holds them: no wait on a row,
-- and no retry.
--
-- Two steps, so that no statement joins the sheets to anything: a join leaves the planner free
-- to put the sheets outside, and after a re-import's DELETE and an ANALYZE (0 rows counted over
-- the table's pages) it takes the sheets for one row and rereads every inserted row per sheet
-- row: quadratic (30,000 rows: over 30 s instead of 1.5 s, revision 0005). First the ids to
-- change, read from the inserted rows' side, each sheet row looked up by its id; then one
-- UPDATE by id for the rows to verify and one for the rows to un-verify.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sheet_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '64MB'
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $fn$
DECLARE
    skus text [];
    supplier_names text [];
    to_verify bigint [];
    to_unverify bigint [];
BEGIN
    SELECT
        pg_catalog.array_agg(n.sku),
        pg_catalog.array_agg(n.supplier_name)
    INTO skus, supplier_names
    FROM new_rows AS n
    WHERE n.sku IS NOT NULL AND n.supplier_name IS NOT NULL;

    IF skus IS NULL THEN
        RETURN NULL;
    END IF;

    -- The pairs come from the rows themselves; the epoch still orders the recomputation after
    -- any rename in flight, whose products.sku or suppliers.name it reads.
    PERFORM {schema}.verify_triggers_lock_epoch();

    PERFORM {schema}.verify_triggers_lock_buckets(skus, supplier_names);

    -- Filtered on the inserted values first (most rows of an import need nothing), then checked
    -- again against the row, which a row trigger may have changed since (and synced, under its
    -- pair, with its own UPDATE): a row no longer in the inserted pair is left alone. Every
    -- table is reached through a LATERAL lookup by key, so the inserted rows stay outside
    -- (planned for this transition table: EXECUTE).
    EXECUTE $q$
        SELECT
            pg_catalog.array_agg(r.id) FILTER (WHERE c.is_confirmed),
            pg_catalog.array_agg(r.id) FILTER (WHERE NOT c.is_confirmed)
        FROM new_rows AS n
        CROSS JOIN LATERAL {schema}.verify_triggers_confirmation(
            n.sku, n.supplier_name
        ) AS c
        CROSS JOIN LATERAL (
            SELECT
                x.id,
                x.sku,
                x.supplier_name,
                x.is_verified,
                x.verified_by
            FROM {schema}.product_supplier_sheets AS x
            WHERE x.id = n.id
            OFFSET 0
        ) AS r
        WHERE
            n.sku IS NOT NULL
            AND n.supplier_name IS NOT NULL
            AND (
                (c.is_confirmed AND n.is_verified IS NOT TRUE)
                OR (NOT c.is_confirmed AND n.verified_by = $1)
            )
            AND r.sku = n.sku
            AND r.supplier_name = n.supplier_name
            AND (
                (c.is_confirmed AND r.is_verified IS NOT TRUE)
                OR (NOT c.is_confirmed AND r.verified_by = $1)
            )
    $q$
    INTO to_verify, to_unverify
    USING {stamp}::text;

    IF to_verify IS NULL AND to_unverify IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM pg_catalog.set_config(
        'verify_triggers.syncing', {schema}.verify_triggers_sync_token(), true
    );

    -- One relation each, looked up by primary key: no join for the planner to order.
    IF to_verify IS NOT NULL THEN
        UPDATE {schema}.product_supplier_sheets AS sh
        SET
            is_verified = true,
            verified_by = {stamp},
            verified_at = pg_catalog.now()
        WHERE sh.id = ANY(to_verify);
    END IF;

    IF to_unverify IS NOT NULL THEN
        UPDATE {schema}.product_supplier_sheets AS sh
        SET
            is_verified = false,
            verified_by = NULL,
            verified_at = NULL
        WHERE sh.id = ANY(to_unverify);
    END IF;

    PERFORM pg_catalog.set_config('verify_triggers.syncing', '', true);
    RETURN NULL;
END
$fn$;

-- object: function verify_triggers_sheet_update()
-- product_supplier_sheets, UPDATE: rows whose pair or verification changed are recomputed, so
-- a write that contradicts the rule is put right. Returns at once for the sync's own writes
-- (verify_triggers.syncing holds this transaction's token). Old and new versions are joined by
-- id; a row whose sku, supplier name, is_verified or verified_by differs between them (or that
-- has no twin) has its pairs, old and new, recomputed. The FULL JOIN can only be a hash or
-- merge join: linear in the rows written whatever plan is cached. Merge joins are off, so it is
-- a hash join: a merge join sorts both versions of every row written (a price refresh of 300,000
-- rows: 329 ms in the trigger against 283 ms hashed).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sheet_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '64MB'
SET enable_mergejoin = off
AS $fn$
DECLARE
    syncing text := pg_catalog.current_setting('verify_triggers.syncing', true);
    skus text [];
    supplier_names text [];
BEGIN
    -- A hash and a comparison (the token inlined, the secret folded into the cached plan).
    -- Nested, so that a session that never synced does not plan it: planning reads the lock
    -- table, which a write that changes no pair must not touch.
    IF syncing <> '' THEN
        IF syncing = {schema}.verify_triggers_sync_token() THEN
            RETURN NULL;
        END IF;
    END IF;

    SELECT
        pg_catalog.array_agg(p.sku),
        pg_catalog.array_agg(p.supplier_name)
    INTO skus, supplier_names
    FROM (
        SELECT DISTINCT
            x.sku,
            x.supplier_name
        FROM old_rows AS o
        FULL JOIN new_rows AS n ON o.id = n.id
        CROSS JOIN LATERAL (
            VALUES (o.sku, o.supplier_name), (n.sku, n.supplier_name)
        ) AS x (sku, supplier_name)
        WHERE
            (o.sku, o.supplier_name, o.is_verified, o.verified_by)
            IS DISTINCT FROM (n.sku, n.supplier_name, n.is_verified, n.verified_by)
            AND x.sku IS NOT NULL
            AND x.supplier_name IS NOT NULL
    ) AS p;

    IF skus IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM {schema}.verify_triggers_lock_epoch();
    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- object: function verify_triggers_renamed()
-- products.sku or suppliers.name changed (a row trigger; renames are rare). The epoch,
-- exclusively; then the pairs of the renamed row's confirmed matches, under its old name and
-- its new one: reads = the renamed product's or supplier's matches.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_renamed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $fn$
DECLARE
    skus text [];
    supplier_names text [];
BEGIN
    PERFORM {schema}.verify_triggers_bump_epoch();

    IF TG_TABLE_NAME = 'products' THEN
        SELECT
            pg_catalog.array_agg(k.sku),
            pg_catalog.array_agg(su.name)
        INTO skus, supplier_names
        FROM (
            SELECT
                m.supplier_id,
                m.manual_confirmed
            FROM {schema}.supplier_products AS m
            WHERE m.local_product_id = ANY(ARRAY[old.id, new.id])
            OFFSET 0
        ) AS sp
        CROSS JOIN LATERAL (
            SELECT s.name
            FROM {schema}.suppliers AS s
            WHERE s.id = sp.supplier_id
            OFFSET 0
        ) AS su
        CROSS JOIN (VALUES (old.sku::text), (new.sku::text)) AS k (sku)
        WHERE sp.manual_confirmed;
    ELSE
        SELECT
            pg_catalog.array_agg(pr.sku),
            pg_catalog.array_agg(k.name)
        INTO skus, supplier_names
        FROM (
            SELECT
                m.local_product_id,
                m.manual_confirmed
            FROM {schema}.supplier_products AS m
            WHERE m.supplier_id = ANY(ARRAY[old.id, new.id])
            OFFSET 0
        ) AS sp
        CROSS JOIN LATERAL (
            SELECT p.sku
            FROM {schema}.products AS p
            WHERE p.id = sp.local_product_id
            OFFSET 0
        ) AS pr
        CROSS JOIN (VALUES (old.name::text), (new.name::text)) AS k (name)
        WHERE sp.manual_confirmed;
    END IF;

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- object: function verify_triggers_deleted()
-- Products or suppliers deleted (a statement trigger). A delete can only take confirmations
-- away, so only rows carrying the sync's stamp under a deleted sku or supplier name can change;
-- their matches may be gone already (ON DELETE CASCADE), so the rows are found by name. By sku
-- that is a few rows each; by supplier name it reads the supplier's rows through the host's
-- index on product_supplier_sheets (supplier_name), or scans the sheets where there is none.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_deleted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $fn$
DECLARE
    skus text [];
    supplier_names text [];
BEGIN
    PERFORM {schema}.verify_triggers_bump_epoch();

    IF TG_TABLE_NAME = 'products' THEN
        EXECUTE $q$
            SELECT
                pg_catalog.array_agg(sh.sku),
                pg_catalog.array_agg(sh.supplier_name)
            FROM (SELECT DISTINCT o.sku FROM old_rows AS o) AS d
            CROSS JOIN LATERAL (
                SELECT
                    x.sku,
                    x.supplier_name,
                    x.verified_by
                FROM {schema}.product_supplier_sheets AS x
                WHERE x.sku = d.sku
                OFFSET 0
            ) AS sh
            WHERE sh.verified_by = $1
        $q$
        INTO skus, supplier_names
        USING {stamp}::text;
    ELSE
        EXECUTE $q$
            SELECT
                pg_catalog.array_agg(sh.sku),
                pg_catalog.array_agg(sh.supplier_name)
            FROM (SELECT DISTINCT o.name FROM old_rows AS o) AS d
            CROSS JOIN LATERAL (
                SELECT
                    x.sku,
                    x.supplier_name,
                    x.verified_by
                FROM {schema}.product_supplier_sheets AS x
                WHERE x.supplier_name = d.name
                OFFSET 0
            ) AS sh
            WHERE sh.verified_by = $1
        $q$
        INTO skus, supplier_names
        USING {stamp}::text;
    END IF;

    PERFORM {schema}.verify_triggers_sync_pairs(skus, supplier_names);
    RETURN NULL;
END
$fn$;

-- object: function verify_triggers_truncate()
-- TRUNCATE of supplier_products, products or suppliers has no transition table: every sheet
-- row is recomputed (the truncated table is locked exclusively meanwhile).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_truncate()
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

-- object: function verify_triggers_sku_differs(anyelement, anyelement)
-- The WHEN clause of verify_triggers_product_renamed: the product's sku changed. It takes whole
-- rows, so no column of the host's is pinned, and is inlined by the planner into the clause:
-- plain comparisons, no call per row. The WHEN clauses run as the writer, with the writer's
-- search_path, so the equality operator is named with its schema (IS DISTINCT FROM would look
-- it up there). One function, no nested call: each SQL function inlined is parsed again for
-- every statement that updates the table.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_sku_differs(o anyelement, n anyelement)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $fn$
    SELECT
        (o.sku OPERATOR(pg_catalog.=) n.sku) IS NOT TRUE
        AND (o.sku IS NOT NULL OR n.sku IS NOT NULL)
$fn$;

-- object: function verify_triggers_name_differs(anyelement, anyelement)
-- The WHEN clause of verify_triggers_supplier_renamed: the supplier's name changed (as
-- verify_triggers_sku_differs).
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_name_differs(o anyelement, n anyelement)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $fn$
    SELECT
        (o.name OPERATOR(pg_catalog.=) n.name) IS NOT TRUE
        AND (o.name IS NOT NULL OR n.name IS NOT NULL)
$fn$;

-- object: trigger verify_triggers_sp_insert on supplier_products
CREATE OR REPLACE TRIGGER verify_triggers_sp_insert
AFTER INSERT ON {schema}.supplier_products
REFERENCING NEW TABLE AS written_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sp_rows();

-- object: trigger verify_triggers_sp_update on supplier_products
CREATE OR REPLACE TRIGGER verify_triggers_sp_update
AFTER UPDATE ON {schema}.supplier_products
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sp_update();

-- object: trigger verify_triggers_sp_delete on supplier_products
CREATE OR REPLACE TRIGGER verify_triggers_sp_delete
AFTER DELETE ON {schema}.supplier_products
REFERENCING OLD TABLE AS written_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sp_rows();

-- object: trigger verify_triggers_sp_truncate on supplier_products
CREATE OR REPLACE TRIGGER verify_triggers_sp_truncate
AFTER TRUNCATE ON {schema}.supplier_products
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_truncate();

-- object: trigger verify_triggers_sheet_insert on product_supplier_sheets
CREATE OR REPLACE TRIGGER verify_triggers_sheet_insert
AFTER INSERT ON {schema}.product_supplier_sheets
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sheet_insert();

-- object: trigger verify_triggers_sheet_update on product_supplier_sheets
CREATE OR REPLACE TRIGGER verify_triggers_sheet_update
AFTER UPDATE ON {schema}.product_supplier_sheets
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_sheet_update();

-- object: trigger verify_triggers_product_renamed on products
CREATE OR REPLACE TRIGGER verify_triggers_product_renamed
AFTER UPDATE ON {schema}.products
FOR EACH ROW
WHEN ({schema}.verify_triggers_sku_differs(old, new))
EXECUTE FUNCTION {schema}.verify_triggers_renamed();

-- object: trigger verify_triggers_product_delete on products
CREATE OR REPLACE TRIGGER verify_triggers_product_delete
AFTER DELETE ON {schema}.products
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_deleted();

-- object: trigger verify_triggers_product_truncate on products
CREATE OR REPLACE TRIGGER verify_triggers_product_truncate
AFTER TRUNCATE ON {schema}.products
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_truncate();

-- object: trigger verify_triggers_supplier_renamed on suppliers
CREATE OR REPLACE TRIGGER verify_triggers_supplier_renamed
AFTER UPDATE ON {schema}.suppliers
FOR EACH ROW
WHEN ({schema}.verify_triggers_name_differs(old, new))
EXECUTE FUNCTION {schema}.verify_triggers_renamed();

-- object: trigger verify_triggers_supplier_delete on suppliers
CREATE OR REPLACE TRIGGER verify_triggers_supplier_delete
AFTER DELETE ON {schema}.suppliers
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_deleted();

-- object: trigger verify_triggers_supplier_truncate on suppliers
CREATE OR REPLACE TRIGGER verify_triggers_supplier_truncate
AFTER TRUNCATE ON {schema}.suppliers
FOR EACH STATEMENT EXECUTE FUNCTION {schema}.verify_triggers_truncate();
