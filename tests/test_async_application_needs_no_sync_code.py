"""The application's own flow needs no sync code: SQLAlchemy AsyncSession over asyncpg.

The back office loads a match, sets manual_confirmed, commits and refreshes. Its request
handler then tried to update the sheet row itself and failed (greenlet_spawn has not been
called). With the sync installed it needs no code at all: after the commit the sheet row
reads verified. The models below are declared here, minimal, as the application's are.
"""

import asyncio
import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, MetaData, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.pool import NullPool

from helpers import SYNC
from rule import assert_rule, sheet


class Base(DeclarativeBase):
    metadata = MetaData(schema="app")


class Supplier(Base):
    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)


class SupplierProduct(Base):
    __tablename__ = "supplier_products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("app.suppliers.id"))
    local_product_id: Mapped[int | None] = mapped_column(ForeignKey("app.products.id"))
    manual_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_by: Mapped[int | None] = mapped_column(Integer)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    supplier: Mapped[Supplier] = relationship(lazy="raise")
    local_product: Mapped[Product | None] = relationship(lazy="raise")


class ProductSupplierSheet(Base):
    __tablename__ = "product_supplier_sheets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(100))
    supplier_name: Mapped[str] = mapped_column(String(255))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_by: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


def match_query(sku: str, supplier_name: str):
    return (
        select(SupplierProduct)
        .join(SupplierProduct.local_product)
        .join(SupplierProduct.supplier)
        .where(Product.sku == sku, Supplier.name == supplier_name)
    )


def sheet_query(sku: str, supplier_name: str):
    return select(ProductSupplierSheet).where(
        ProductSupplierSheet.sku == sku, ProductSupplierSheet.supplier_name == supplier_name
    )


async def match_supplier_product(session: AsyncSession, sku: str, supplier_name: str, confirmed: bool,
                                 user_id: int = 7):
    """What the back office's "confirm match" handler does, minus the failed sync."""
    match = (await session.execute(match_query(sku, supplier_name))).scalar_one()
    match.manual_confirmed = confirmed
    match.confirmed_by = user_id if confirmed else None
    match.confirmed_at = func.now() if confirmed else None
    await session.commit()
    await session.refresh(match)
    return match


def run(url: str, flow):
    async def main():
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            sessions = async_sessionmaker(engine, expire_on_commit=True)
            async with sessions() as session:
                return await flow(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_confirming_a_match_in_an_async_session_verifies_its_sheet_row_with_no_application_code(installed):
    async def flow(session):
        row = (await session.execute(sheet_query("AUR516", "WANKE"))).scalar_one()
        before = (row.is_verified, row.verified_by)
        match = await match_supplier_product(session, "AUR516", "WANKE", confirmed=True)
        await session.refresh(row)
        return before, match.manual_confirmed, match.confirmed_at, (row.is_verified, row.verified_by, row.verified_at)

    before, confirmed, confirmed_at, after = run(installed.url("postgresql+asyncpg"), flow)
    assert before == (False, None)
    assert confirmed is True
    assert after == (True, SYNC, confirmed_at)  # same transaction, same now()
    with installed.connect() as conn:
        assert sheet(conn, "AUR516", "WANKE") == after
        assert_rule(conn)


def test_unconfirming_a_match_in_an_async_session_unverifies_the_row_the_sync_verified(installed):
    async def flow(session):
        await match_supplier_product(session, "BMX136", "PAREK", confirmed=False)
        row = (await session.execute(sheet_query("BMX136", "PAREK"))).scalar_one()
        return row.is_verified, row.verified_by, row.verified_at

    assert run(installed.url("postgresql+asyncpg"), flow) == (False, None, None)
    with installed.connect() as conn:
        assert_rule(conn)


def test_rows_read_in_the_same_async_session_after_the_commit_see_the_sync(installed):
    """The handler's own follow-up read (where the original failed) needs no sync code."""
    async def flow(session):
        await match_supplier_product(session, "AUR516", "WANKE", confirmed=True)
        rows = (await session.execute(
            select(ProductSupplierSheet.supplier_name, ProductSupplierSheet.is_verified)
            .where(ProductSupplierSheet.sku == "AUR516").order_by(ProductSupplierSheet.supplier_name)
        )).all()
        return [tuple(r) for r in rows]

    assert run(installed.url("postgresql+asyncpg"), flow) == [("KEMEISING", True), ("WANKE", True)]
