-- verify-triggers demo: the back office confirms the AUR516 / WANKE match, as any
-- writer would, with a plain UPDATE and no application code.
UPDATE {schema}.supplier_products AS sp
SET
    manual_confirmed = true,
    confirmed_by = 1,
    confirmed_at = now()
FROM {schema}.products AS p, {schema}.suppliers AS su
WHERE
    sp.local_product_id = p.id
    AND sp.supplier_id = su.id
    AND p.sku = 'AUR516'
    AND su.name = 'WANKE';
