-- verify-triggers CLI `sync`: repair the drifted rows of the given SKUs ({skus}, text[];
-- NULL for all) through the installed function, under the triggers' own locking.
-- Returns the number of sheet rows changed.
SELECT {schema}.verify_triggers_sync(CAST({skus} AS text[])) AS changed;
