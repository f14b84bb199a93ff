-- The benchmark databases' tables: the shape of tests/fixtures/schema.sql (the back office's
-- tables with the extra columns real databases carry), copied so the benchmark does not
-- change when the test fixture does.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE {schema}.suppliers (
    id serial PRIMARY KEY,
    name varchar(255) NOT NULL,
    country varchar(2),
    contact_email varchar(255),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.products (
    id serial PRIMARY KEY,
    sku varchar(100) NOT NULL UNIQUE,
    name varchar(500),
    stock_quantity integer NOT NULL DEFAULT 0,
    base_price numeric(12, 2),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.supplier_products (
    id serial PRIMARY KEY,
    supplier_id integer NOT NULL REFERENCES {schema}.suppliers (id) ON DELETE CASCADE,
    local_product_id integer REFERENCES {schema}.products (id) ON DELETE SET NULL,
    supplier_product_name text,
    supplier_product_url text,
    supplier_price numeric(12, 2),
    supplier_currency varchar(3) DEFAULT 'CNY',
    confidence_score double precision,
    manual_confirmed boolean NOT NULL DEFAULT false,
    confirmed_by integer,
    confirmed_at timestamptz,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ix_supplier_products_supplier ON {schema}.supplier_products (supplier_id);
CREATE INDEX ix_supplier_products_product ON {schema}.supplier_products (local_product_id);

CREATE TABLE {schema}.product_supplier_sheets (
    id serial PRIMARY KEY,
    sku varchar(100) NOT NULL,
    supplier_name varchar(255) NOT NULL,
    supplier_id integer REFERENCES {schema}.suppliers (id) ON DELETE SET NULL,
    price_cny numeric(12, 2),
    supplier_url text,
    supplier_contact text,
    is_active boolean NOT NULL DEFAULT true,
    is_preferred boolean NOT NULL DEFAULT false,
    is_verified boolean NOT NULL DEFAULT false,
    verified_by varchar(100),
    verified_at timestamptz,
    notes text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_sheet_sku_supplier UNIQUE (sku, supplier_name)
);
