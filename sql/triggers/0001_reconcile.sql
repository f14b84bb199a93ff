-- verify-triggers 0001: one-time reconciliation of the rows written before the triggers.
-- Verifies confirmed pairs' rows and never un-verifies a row the sync did not verify.
SELECT {schema}.verify_triggers_sync(NULL) AS rows_changed;
