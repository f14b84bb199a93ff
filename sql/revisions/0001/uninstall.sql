-- verify-triggers 0001 downgrade: remove the triggers, functions and lock table 0001
-- installed (0001_drop_indexes.sql removes its indexes). Sheet rows keep
-- the is_verified, verified_by and verified_at values they have: they are data.
-- squawk-ignore-file ban-drop-function, ban-drop-table
-- squawk: these drops are the point of a downgrade; the objects are verify-triggers' own
-- (no client calls them) and the lock table holds no data.

DROP TRIGGER IF EXISTS verify_triggers_sp_insert ON {schema}.supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sp_update ON {schema}.supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sp_delete ON {schema}.supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sp_truncate ON {schema}.supplier_products;
DROP TRIGGER IF EXISTS verify_triggers_sheet_insert ON {schema}.product_supplier_sheets;
DROP TRIGGER IF EXISTS verify_triggers_sheet_update ON {schema}.product_supplier_sheets;
DROP TRIGGER IF EXISTS verify_triggers_product_renamed ON {schema}.products;
DROP TRIGGER IF EXISTS verify_triggers_product_delete ON {schema}.products;
DROP TRIGGER IF EXISTS verify_triggers_product_truncate ON {schema}.products;
DROP TRIGGER IF EXISTS verify_triggers_supplier_renamed ON {schema}.suppliers;
DROP TRIGGER IF EXISTS verify_triggers_supplier_delete ON {schema}.suppliers;
DROP TRIGGER IF EXISTS verify_triggers_supplier_truncate ON {schema}.suppliers;

DROP FUNCTION IF EXISTS {schema}.verify_triggers_sp_insert();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_sp_update();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_sp_delete();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_truncate();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_sheet_insert();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_sheet_update();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_product_renamed();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_product_delete();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_supplier_renamed();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_supplier_delete();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_sync(text[]);
DROP FUNCTION IF EXISTS {schema}.verify_triggers_sync_pairs(text[], text[]);
DROP FUNCTION IF EXISTS {schema}.verify_triggers_bump_epoch();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_lock_epoch();
DROP FUNCTION IF EXISTS {schema}.verify_triggers_bucket(text, text);

DROP TABLE IF EXISTS {schema}.verify_triggers_lock;
