-- The floor of a trigger: the rule's writes for a confirm or an unconfirm (the pair's bucket
-- row and its sheet rows) in ONE statement run by a PL/pgSQL trigger on supplier_products,
-- and nothing else: no epoch, no recheck after the lock, no token, no sheets' trigger, no
-- SECURITY DEFINER or SET clauses. `python -m benchmarks.floor` creates one of the two
-- triggers per database (floor_statement_trigger.sql, floor_row_trigger.sql), to see what the
-- trigger around the writes costs by itself, next to the same writes with no trigger
-- (floor_bucket_cycle.sql).
--
-- Benchmark only, and NOT correct: it decides from a snapshot taken before its lock, covers
-- only the UPDATE of manual_confirmed, and trusts any session.

CREATE FUNCTION bench.floor_statement_sync()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    WITH changed AS (
        SELECT
            n.local_product_id,
            n.supplier_id,
            n.manual_confirmed
        FROM old_rows AS o
        INNER JOIN new_rows AS n ON o.id = n.id
        WHERE o.manual_confirmed IS DISTINCT FROM n.manual_confirmed
    ),

    nm AS (
        SELECT
            c.manual_confirmed AS confirmed,
            pr.sku,
            su.name
        FROM changed AS c
        INNER JOIN {schema}.products AS pr ON c.local_product_id = pr.id
        INNER JOIN {schema}.suppliers AS su ON c.supplier_id = su.id
    ),

    b AS (
        UPDATE bench.floor_lock AS l
        SET generation = l.generation + 1
        FROM nm
        WHERE l.bucket = (hashtextextended(nm.sku || chr(31) || nm.name, 0) & 1023)::integer
    )

    UPDATE {schema}.product_supplier_sheets AS sh
    SET
        is_verified = nm.confirmed,
        verified_by = CASE WHEN nm.confirmed THEN 'verify-triggers' END,
        verified_at = CASE WHEN nm.confirmed THEN now() END
    FROM nm
    WHERE
        sh.sku = nm.sku
        AND sh.supplier_name = nm.name
        AND (
            (nm.confirmed AND sh.is_verified IS NOT TRUE)
            OR (
                NOT nm.confirmed
                AND sh.verified_by = 'verify-triggers'
                AND NOT EXISTS (
                    SELECT 1
                    FROM {schema}.supplier_products AS o
                    INNER JOIN {schema}.products AS opr ON o.local_product_id = opr.id
                    INNER JOIN {schema}.suppliers AS osu ON o.supplier_id = osu.id
                    WHERE o.manual_confirmed AND opr.sku = sh.sku AND osu.name = sh.supplier_name
                )
            )
        );
    RETURN NULL;
END
$fn$;

CREATE FUNCTION bench.floor_row_sync()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    WITH nm AS (
        SELECT
            pr.sku,
            su.name
        FROM {schema}.products AS pr
        CROSS JOIN {schema}.suppliers AS su
        WHERE pr.id = new.local_product_id AND su.id = new.supplier_id
    ),

    b AS (
        UPDATE bench.floor_lock AS l
        SET generation = l.generation + 1
        FROM nm
        WHERE l.bucket = (hashtextextended(nm.sku || chr(31) || nm.name, 0) & 1023)::integer
    )

    UPDATE {schema}.product_supplier_sheets AS sh
    SET
        is_verified = new.manual_confirmed,
        verified_by = CASE WHEN new.manual_confirmed THEN 'verify-triggers' END,
        verified_at = CASE WHEN new.manual_confirmed THEN now() END
    FROM nm
    WHERE
        sh.sku = nm.sku
        AND sh.supplier_name = nm.name
        AND (
            (new.manual_confirmed AND sh.is_verified IS NOT TRUE)
            OR (
                NOT new.manual_confirmed
                AND sh.verified_by = 'verify-triggers'
                AND NOT EXISTS (
                    SELECT 1
                    FROM {schema}.supplier_products AS o
                    INNER JOIN {schema}.products AS opr ON o.local_product_id = opr.id
                    INNER JOIN {schema}.suppliers AS osu ON o.supplier_id = osu.id
                    WHERE o.manual_confirmed AND opr.sku = sh.sku AND osu.name = sh.supplier_name
                )
            )
        );
    RETURN NULL;
END
$fn$;
