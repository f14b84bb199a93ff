BEGIN;

-- Running downgrade 0001 -> 

SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '60s';
-- verify-triggers 0001 downgrade: remove the triggers, functions and lock table 0001
-- installed (0001_drop_indexes.sql removes its indexes). Sheet rows keep
-- the is_verified, verified_by and verified_at values they have: they are data.
-- squawk-ignore-file ban-drop-function, ban-drop-table
-- squawk: these drops are the point of a downgrade; the objects are verify-triggers' own
-- (no client calls them) and the lock table holds no data.

DROP TRIGGER IF EXISTS verify_triggers_sp_insert ON "app".supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sp_update ON "app".supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sp_delete ON "app".supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sp_truncate ON "app".supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sheet_insert ON "app".product_supplier_sheets;
DROP TRIGGER IF EXISTS verify_triggers_sheet_update ON "app".product_supplier_sheets;
DROP TRIGGER IF EXISTS verify_triggers_product_renamed ON "app".products;
DROP TRIGGER IF EXISTS verify_triggers_product_delete ON "app".products;
DROP TRIGGER IF EXISTS verify_triggers_product_truncate ON "app".products;
DROP TRIGGER IF EXISTS verify_triggers_supplier_renamed ON "app".suppliers;
DROP TRIGGER IF EXISTS verify_triggers_supplier_delete ON "app".suppliers;
DROP TRIGGER IF EXISTS verify_triggers_supplier_truncate ON "app".suppliers;

DROP FUNCTION IF EXISTS "app".verify_triggers_sp_insert();
DROP FUNCTION IF EXISTS "app".verify_triggers_sp_update();
DROP FUNCTION IF EXISTS "app".verify_triggers_sp_delete();
DROP FUNCTION IF EXISTS "app".verify_triggers_truncate();
DROP FUNCTION IF EXISTS "app".verify_triggers_sheet_insert();
DROP FUNCTION IF EXISTS "app".verify_triggers_sheet_update();
DROP FUNCTION IF EXISTS "app".verify_triggers_product_renamed();
DROP FUNCTION IF EXISTS "app".verify_triggers_product_delete();
DROP FUNCTION IF EXISTS "app".verify_triggers_supplier_renamed();
DROP FUNCTION IF EXISTS "app".verify_triggers_supplier_delete();
DROP FUNCTION IF EXISTS "app".verify_triggers_sync(text[]);
DROP FUNCTION IF EXISTS "app".verify_triggers_sync_pairs(text[], text[]);
DROP FUNCTION IF EXISTS "app".verify_triggers_bump_epoch();
DROP FUNCTION IF EXISTS "app".verify_triggers_lock_epoch();
DROP FUNCTION IF EXISTS "app".verify_triggers_bucket(text, text);

DROP TABLE IF EXISTS "app".verify_triggers_lock;


COMMIT;

-- verify-triggers 0001 downgrade: drop 0001's indexes without blocking writes.

-- squawk: no statement_timeout; a concurrent drop blocks neither reads nor writes.
-- squawk-ignore require-statement-timeout
DROP INDEX CONCURRENTLY IF EXISTS "app".verify_triggers_sp_confirmed_idx;


-- squawk-ignore require-statement-timeout
DROP INDEX CONCURRENTLY IF EXISTS "app".verify_triggers_suppliers_name_idx;


BEGIN;

DELETE FROM app.verify_triggers_version WHERE app.verify_triggers_version.version_num = '0001';

COMMIT;

