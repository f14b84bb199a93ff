-- verify-triggers demo: the back office's tables, as the sync sees them, with a few of
-- the extra columns real databases carry.
CREATE SCHEMA {schema};

CREATE TABLE {schema}.suppliers (
    id serial PRIMARY KEY,
    name varchar(255) NOT NULL,
    country varchar(2)
);

CREATE TABLE {schema}.products (
    id serial PRIMARY KEY,
    sku varchar(100) NOT NULL UNIQUE,
    name varchar(500),
    stock_quantity integer NOT NULL DEFAULT 0
);

CREATE TABLE {schema}.supplier_products (
    id serial PRIMARY KEY,
    supplier_id integer NOT NULL REFERENCES {schema}.suppliers (id),
    local_product_id integer REFERENCES {schema}.products (id),
    supplier_product_name text,
    supplier_price numeric(12, 2),
    manual_confirmed boolean NOT NULL DEFAULT false,
    confirmed_by integer,
    confirmed_at timestamptz
);

CREATE TABLE {schema}.product_supplier_sheets (
    id serial PRIMARY KEY,
    sku varchar(100) NOT NULL,
    supplier_name varchar(255) NOT NULL,
    supplier_id integer REFERENCES {schema}.suppliers (id),
    price_cny numeric(12, 2),
    is_active boolean NOT NULL DEFAULT true,
    is_verified boolean NOT NULL DEFAULT false,
    verified_by varchar(100),
    verified_at timestamptz,
    CONSTRAINT uq_sheet_sku_supplier UNIQUE (sku, supplier_name)
);
