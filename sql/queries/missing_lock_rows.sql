-- verify-triggers CLI: the rows of the lock table that are gone (its owner's TRUNCATE or
-- DELETE). A write whose bucket row is gone takes no lock, so two writers of one pair can
-- both miss each other's confirm; row -1 is the rename epoch, row -2 the token's secret.
-- Bound values: {first_row} (-2, or -1 for revisions before 0003) and {last_bucket}.
SELECT b.bucket
FROM pg_catalog.generate_series({first_row}::integer, {last_bucket}::integer) AS b (bucket)
WHERE NOT EXISTS (
    SELECT 1
    FROM {schema}.verify_triggers_lock AS l
    WHERE l.bucket = b.bucket
)
ORDER BY b.bucket;
