-- The same confirm/unconfirm cycle with the application doing the sync itself, on the
-- database without triggers: BEGIN; UPDATE the match; UPDATE its sheet row by the rule; COMMIT.
\set span 100 - :pct
\set r random(0, (:n / 100) * :span - 1)
\set id (:r / :span) * 100 + :pct + :r % :span
BEGIN;
UPDATE app.supplier_products SET manual_confirmed = true, confirmed_by = 1, confirmed_at = now() WHERE id = :id;
UPDATE app.product_supplier_sheets AS sh SET is_verified = true, verified_by = 'verify-triggers', verified_at = now() FROM app.supplier_products AS sp INNER JOIN app.products AS pr ON sp.local_product_id = pr.id INNER JOIN app.suppliers AS su ON sp.supplier_id = su.id WHERE sp.id = :id AND sh.sku = pr.sku AND sh.supplier_name = su.name AND sh.is_verified IS NOT TRUE;
COMMIT;
BEGIN;
UPDATE app.supplier_products SET manual_confirmed = false, confirmed_by = NULL, confirmed_at = NULL WHERE id = :id;
UPDATE app.product_supplier_sheets AS sh SET is_verified = false, verified_by = NULL, verified_at = NULL FROM app.supplier_products AS sp INNER JOIN app.products AS pr ON sp.local_product_id = pr.id INNER JOIN app.suppliers AS su ON sp.supplier_id = su.id WHERE sp.id = :id AND sh.sku = pr.sku AND sh.supplier_name = su.name AND sh.verified_by = 'verify-triggers' AND NOT EXISTS (SELECT 1 FROM app.supplier_products AS o INNER JOIN app.products AS opr ON o.local_product_id = opr.id INNER JOIN app.suppliers AS osu ON o.supplier_id = osu.id WHERE o.manual_confirmed AND opr.sku = sh.sku AND osu.name = sh.supplier_name);
COMMIT;
