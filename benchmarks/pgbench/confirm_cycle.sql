-- One confirm and one unconfirm of the same match, each its own (autocommit) transaction.
-- Run against the database with the triggers (the sync happens inside each UPDATE) and
-- against the bare database (no sync at all: the floor).
-- Variables: n (matches), pct (confirmed iff id % 100 < pct). It picks an unconfirmed match,
-- so the confirmed share stays where the benchmark put it.
\set span 100 - :pct
\set r random(0, (:n / 100) * :span - 1)
\set id (:r / :span) * 100 + :pct + :r % :span
UPDATE app.supplier_products SET manual_confirmed = true, confirmed_by = 1, confirmed_at = now() WHERE id = :id;
UPDATE app.supplier_products SET manual_confirmed = false, confirmed_by = NULL, confirmed_at = NULL WHERE id = :id;
