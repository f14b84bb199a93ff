"""The host's models: the four tables the sync reads, at the host's head revision (h4).

Columns as in tests/fixtures/schema.sql, plus the application's ``import_source`` and
``last_price_update`` on supplier_products (each indexed there); ``supplier_name`` is
String(500) since h3 widened it, and ``products.ean`` arrived with h4. Indexes are the
application's: suppliers(name) non-unique, products(sku) unique, supplier_products on
supplier_id, local_product_id, manual_confirmed, is_active, import_source, last_price_update,
product_supplier_sheets on supplier_id, sku, supplier_name, is_active plus UNIQUE(sku,
supplier_name).
"""

import datetime as dt
from decimal import Decimal

from sqlalchemy import (Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData, Numeric,
                        String, Text, UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "app"


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Supplier(Base):
    __tablename__ = "suppliers"
    __table_args__ = (Index("ix_suppliers_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    country: Mapped[str | None] = mapped_column(String(2))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=text("now()"))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_sku", "sku", unique=True),
        Index("ix_products_ean", "ean"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str | None] = mapped_column(String(500))
    stock_quantity: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    base_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=text("now()"))
    ean: Mapped[str | None] = mapped_column(String(32))  # h4


class SupplierProduct(Base):
    __tablename__ = "supplier_products"
    __table_args__ = (
        Index("ix_supplier_products_supplier_id", "supplier_id"),
        Index("ix_supplier_products_local_product_id", "local_product_id"),
        Index("ix_supplier_products_manual_confirmed", "manual_confirmed"),
        Index("ix_supplier_products_is_active", "is_active"),
        Index("ix_supplier_products_import_source", "import_source"),
        Index("ix_supplier_products_last_price_update", "last_price_update"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("app.suppliers.id", ondelete="CASCADE"), nullable=False)
    local_product_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("app.products.id", ondelete="SET NULL"))
    supplier_product_name: Mapped[str | None] = mapped_column(Text)
    supplier_product_url: Mapped[str | None] = mapped_column(Text)
    supplier_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    supplier_currency: Mapped[str | None] = mapped_column(String(3), server_default=text("'CNY'"))
    confidence_score: Mapped[float | None] = mapped_column(Float)
    manual_confirmed: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                                   server_default=text("false"))
    confirmed_by: Mapped[int | None] = mapped_column(Integer)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    import_source: Mapped[str | None] = mapped_column(String(50), server_default=text("'manual'"))
    last_price_update: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=text("now()"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=text("now()"))


class ProductSupplierSheet(Base):
    __tablename__ = "product_supplier_sheets"
    __table_args__ = (
        UniqueConstraint("sku", "supplier_name", name="uq_product_supplier_sku_name"),
        Index("ix_product_supplier_sheets_supplier_id", "supplier_id"),
        Index("ix_product_supplier_sheets_sku", "sku"),
        Index("ix_product_supplier_sheets_supplier_name", "supplier_name"),
        Index("ix_product_supplier_sheets_is_active", "is_active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), nullable=False)
    supplier_name: Mapped[str] = mapped_column(String(500), nullable=False)  # h3: was 255
    supplier_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("app.suppliers.id", ondelete="SET NULL"))
    price_cny: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    supplier_url: Mapped[str | None] = mapped_column(Text)
    supplier_contact: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    is_preferred: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                               server_default=text("false"))
    is_verified: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                              server_default=text("false"))
    verified_by: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=text("now()"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=text("now()"))
