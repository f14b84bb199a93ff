-- verify-triggers demo: the state the original system was found in. BMX136 is matched
-- to XINRUI, PAREK and KEMEISING, AUR516 to KEMEISING and WANKE; every match is
-- confirmed except AUR516 / WANKE, and no sheet row is verified.
INSERT INTO {schema}.suppliers (name, country) VALUES
('XINRUI', 'CN'), ('PAREK', 'CN'), ('KEMEISING', 'CN'), ('WANKE', 'CN');

INSERT INTO {schema}.products (sku, name, stock_quantity) VALUES
('BMX136', 'BMX bike pedal set', 3),
('AUR516', 'Audio amplifier board', 1);

INSERT INTO {schema}.supplier_products (
    supplier_id, local_product_id, supplier_product_name, supplier_price,
    manual_confirmed, confirmed_by, confirmed_at
)
SELECT
    su.id AS supplier_id,
    p.id AS local_product_id,
    p.name AS supplier_product_name,
    m.price AS supplier_price,
    m.confirmed AS manual_confirmed,
    CASE WHEN m.confirmed THEN 1 END AS confirmed_by,
    CASE WHEN m.confirmed THEN now() END AS confirmed_at
FROM (
    VALUES
    ('BMX136', 'XINRUI', 12.30, true),
    ('BMX136', 'PAREK', 11.80, true),
    ('BMX136', 'KEMEISING', 13.10, true),
    ('AUR516', 'KEMEISING', 45.00, true),
    ('AUR516', 'WANKE', 44.20, false)
) AS m (sku, supplier, price, confirmed)
INNER JOIN {schema}.products AS p ON m.sku = p.sku
INNER JOIN {schema}.suppliers AS su ON m.supplier = su.name
ORDER BY p.id, su.id;

INSERT INTO {schema}.product_supplier_sheets (sku, supplier_name, supplier_id, price_cny)
SELECT
    p.sku,
    su.name,
    su.id,
    sp.supplier_price
FROM {schema}.supplier_products AS sp
INNER JOIN {schema}.products AS p ON sp.local_product_id = p.id
INNER JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
ORDER BY sp.id;
