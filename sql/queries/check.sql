-- verify-triggers CLI `check`: the rule's verdict on every sheet row in scope, in one
-- statement. When nothing is wrong (no drift, no confirmed pair without its sheet row, no
-- dangling match) it reads supplier_products (with products and suppliers) once and the
-- sheets once: the confirmed pairs come from one join of the confirmed matches, and one
-- FULL JOIN of the sheet rows in scope with those pairs yields every count. Each listing
-- (drifted rows, unmatched pairs and their near misses, dangling matches, match ids) sits
-- behind a one-time filter on its count, and runs only when that count is not zero.
--
-- Bound values: {skus} (text[]; NULL checks every row) and {limit} (bigint; NULL lists
-- every row). One row per result, as (kind, detail jsonb):
--   summary           the counts: rows checked, SYNCED, NEEDS SYNC, STALE, MANUAL
--   drift             a drifted row (NEEDS SYNC or STALE), with its confirming match ids
--   name_mismatch     a confirmed pair with no sheet row, but one whose sku and supplier
--                     name differ only by case or spaces
--   no_sheet_row      a confirmed pair with no sheet row at all
--   no_local_product  a confirmed match whose local product is NULL or does not exist
--   no_supplier       a confirmed match whose supplier does not exist
-- Each listing row carries `total`, the number of rows of its kind before the limit.
--
-- A pair is confirmed when a supplier_products row with manual_confirmed joins to it
-- through products.sku and suppliers.name. Verdicts: NEEDS SYNC, a confirmed pair's row
-- not verified; STALE, a row stamped {stamp} whose pair is not confirmed; MANUAL,
-- verified by a person with no confirmed match (not drift); SYNCED, the rest.
-- The SKU filter reads `{skus} IS NULL OR ...`: with the value bound at planning time
-- it folds away, or becomes an index condition.

-- The pairs the confirmed matches in scope confirm, from one read of supplier_products with
-- products and suppliers. A match whose product or supplier is missing gives a pair with a
-- NULL, which no sheet row equals: the counts see it as dangling. Not materialised, so the
-- planner keeps the columns' statistics and hashes the pairs, not the sheets (a CTE scan
-- has none: 1M sheet rows went to a 16-batch hash); a listing that runs joins it again.
WITH confirmed AS NOT MATERIALIZED (
    SELECT DISTINCT
        pr.sku,
        su.name AS supplier_name
    FROM {schema}.supplier_products AS sp
    LEFT JOIN {schema}.products AS pr ON sp.local_product_id = pr.id
    LEFT JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
    WHERE
        sp.manual_confirmed
        AND (CAST({skus} AS text[]) IS NULL OR pr.sku = ANY(CAST({skus} AS text[])))
),

-- Every count in one pass over the sheet rows in scope: a sheet row whose pair is not
-- confirmed has c NULL; a confirmed pair without a sheet row, or a pair with a NULL (from
-- dangling matches), has sh NULL. `dangling` counts those pairs, not the matches: it only
-- gates the listing, which counts the matches.
counts AS MATERIALIZED (
    SELECT
        pg_catalog.count(sh.id) AS checked,
        pg_catalog.count(*) FILTER (
            WHERE sh.id IS NOT NULL AND c.sku IS NOT NULL AND sh.is_verified IS NOT TRUE
        ) AS needs_sync,
        pg_catalog.count(*) FILTER (
            WHERE c.sku IS NULL AND sh.verified_by = {stamp}
        ) AS stale,
        pg_catalog.count(*) FILTER (
            WHERE
            c.sku IS NULL
            AND sh.is_verified
            AND sh.verified_by IS DISTINCT FROM {stamp}
        ) AS manual,
        pg_catalog.count(*) FILTER (
            WHERE sh.id IS NULL AND c.sku IS NOT NULL AND c.supplier_name IS NOT NULL
        ) AS unmatched,
        pg_catalog.count(*) FILTER (
            WHERE sh.id IS NULL AND (c.sku IS NULL OR c.supplier_name IS NULL)
        ) AS dangling
    FROM (
        SELECT
            s.id,
            s.sku,
            s.supplier_name,
            s.is_verified,
            s.verified_by
        FROM {schema}.product_supplier_sheets AS s
        WHERE
            CAST({skus} AS text[]) IS NULL
            OR s.sku = ANY(CAST({skus} AS text[]))
    ) AS sh
    FULL JOIN confirmed AS c
        ON
            sh.sku = c.sku
            AND sh.supplier_name = c.supplier_name
),

summary AS (
    SELECT
        ct.checked,
        ct.needs_sync,
        ct.stale,
        ct.manual,
        ct.checked - ct.needs_sync - ct.stale - ct.manual AS synced
    FROM counts AS ct
),

-- The drifted rows, in a second pass over the sheets only when there are some: all of
-- them are counted for `total`, and a top-N sort keeps {limit} of them.
drift AS (
    SELECT
        sh.sku,
        sh.supplier_name,
        sh.is_verified,
        sh.verified_by,
        CASE WHEN c.sku IS NOT NULL THEN 'NEEDS SYNC' ELSE 'STALE' END AS state,
        pg_catalog.count(*) OVER () AS total
    FROM {schema}.product_supplier_sheets AS sh
    LEFT JOIN confirmed AS c
        ON
            sh.sku = c.sku
            AND sh.supplier_name = c.supplier_name
    WHERE
        (
            CAST({skus} AS text[]) IS NULL
            OR sh.sku = ANY(CAST({skus} AS text[]))
        )
        AND (
            (c.sku IS NOT NULL AND sh.is_verified IS NOT TRUE)
            OR (c.sku IS NULL AND sh.verified_by = {stamp})
        )
        AND (SELECT ct.needs_sync + ct.stale FROM counts AS ct) > 0
    ORDER BY sh.sku, sh.supplier_name, sh.id
    LIMIT {limit}
),

-- confirmed pairs that no sheet row carries under exactly that sku and supplier name, only
-- when the counts found some
unmatched AS (
    SELECT
        c.sku,
        c.supplier_name
    FROM confirmed AS c
    WHERE
        c.sku IS NOT NULL
        AND c.supplier_name IS NOT NULL
        AND NOT EXISTS (
            SELECT 1
            FROM {schema}.product_supplier_sheets AS sh
            WHERE
                sh.sku = c.sku
                AND sh.supplier_name = c.supplier_name
        )
        AND (SELECT ct.unmatched FROM counts AS ct) > 0
    ORDER BY c.sku, c.supplier_name
    LIMIT {limit}
),

-- for each listed one, a sheet row whose sku and supplier name differ only by case or
-- spaces ("Kemeising " for KEMEISING)
near AS (
    SELECT DISTINCT ON (u.sku, u.supplier_name)
        u.sku,
        u.supplier_name,
        sh.sku AS sheet_sku,
        sh.supplier_name AS sheet_supplier_name
    FROM unmatched AS u
    INNER JOIN {schema}.product_supplier_sheets AS sh
        ON
            pg_catalog.lower(pg_catalog.replace(u.sku, ' ', ''))
            = pg_catalog.lower(pg_catalog.replace(sh.sku, ' ', ''))
            AND pg_catalog.lower(pg_catalog.replace(u.supplier_name, ' ', ''))
            = pg_catalog.lower(pg_catalog.replace(sh.supplier_name, ' ', ''))
    WHERE (SELECT ct.unmatched FROM counts AS ct) > 0
    ORDER BY u.sku, u.supplier_name, sh.id
),

-- confirmed matches that cannot confirm any pair (only reported without a SKU filter), read
-- again only when the counts found some
dangling AS (
    SELECT
        sp.id::bigint AS match_id,
        sp.local_product_id::bigint AS product_id,
        sp.supplier_id::bigint AS supplier_id,
        su.name AS supplier_name,
        (pr.id IS NULL) AS no_product,
        pg_catalog.count(*) OVER () AS total
    FROM {schema}.supplier_products AS sp
    LEFT JOIN {schema}.products AS pr ON sp.local_product_id = pr.id
    LEFT JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
    WHERE
        sp.manual_confirmed
        AND (pr.id IS NULL OR su.id IS NULL)
        AND CAST({skus} AS text[]) IS NULL
        AND (SELECT ct.dangling FROM counts AS ct) > 0
    ORDER BY sp.id
    LIMIT {limit}
),

-- the ids of the matches confirming each listed pair
listed AS (
    SELECT
        d.sku,
        d.supplier_name
    FROM drift AS d
    UNION
    SELECT
        u.sku,
        u.supplier_name
    FROM unmatched AS u
),

match_ids AS (
    SELECT
        l.sku,
        l.supplier_name,
        pg_catalog.array_agg(sp.id::bigint ORDER BY sp.id) AS ids
    FROM listed AS l
    INNER JOIN {schema}.products AS pr ON l.sku = pr.sku
    INNER JOIN {schema}.suppliers AS su ON l.supplier_name = su.name
    INNER JOIN {schema}.supplier_products AS sp
        ON
            pr.id = sp.local_product_id
            AND su.id = sp.supplier_id
    WHERE sp.manual_confirmed
    GROUP BY l.sku, l.supplier_name
)

SELECT
    'summary' AS kind,
    pg_catalog.to_jsonb(s.*) AS detail
FROM summary AS s

UNION ALL

SELECT
    'drift' AS kind,
    pg_catalog.jsonb_build_object(
        'sku', d.sku,
        'supplier_name', d.supplier_name,
        'is_verified', d.is_verified,
        'verified_by', d.verified_by,
        'expected', d.state = 'NEEDS SYNC',
        'state', d.state,
        'match_ids', m.ids,
        'total', d.total
    ) AS detail
FROM drift AS d
LEFT JOIN match_ids AS m
    ON
        d.sku = m.sku
        AND d.supplier_name = m.supplier_name

UNION ALL

SELECT
    CASE
        WHEN n.sheet_sku IS NULL THEN 'no_sheet_row' ELSE 'name_mismatch'
    END AS kind,
    pg_catalog.jsonb_build_object(
        'sku', u.sku,
        'supplier_name', u.supplier_name,
        'match_ids', m.ids,
        'sheet_sku', n.sheet_sku,
        'sheet_supplier_name', n.sheet_supplier_name,
        'total', ct.unmatched
    ) AS detail
FROM unmatched AS u
CROSS JOIN counts AS ct
LEFT JOIN near AS n
    ON
        u.sku = n.sku
        AND u.supplier_name = n.supplier_name
LEFT JOIN match_ids AS m
    ON
        u.sku = m.sku
        AND u.supplier_name = m.supplier_name

UNION ALL

SELECT
    CASE WHEN dg.no_product THEN 'no_local_product' ELSE 'no_supplier' END AS kind,
    pg_catalog.jsonb_build_object(
        'match_ids', ARRAY[dg.match_id],
        'product_id', dg.product_id,
        'supplier_id', dg.supplier_id,
        'supplier_name', dg.supplier_name,
        'total', dg.total
    ) AS detail
FROM dangling AS dg;
