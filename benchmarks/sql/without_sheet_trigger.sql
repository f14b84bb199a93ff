-- Measurement only (`python -m benchmarks.floor --without sheet_trigger`): no trigger on the
-- sheets' UPDATE, so a direct write that contradicts the rule stays. What the sync pays for
-- firing it on its own writes, not a way to run the sync.
DROP TRIGGER verify_triggers_sheet_update ON {schema}.product_supplier_sheets;
