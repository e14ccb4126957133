"""The postgres_url fixture gives a real server that SQLAlchemy can use end to end."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration


def test_round_trip_through_sqlalchemy(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    assert "@127.0.0.1:" in postgres_url
    engine = sa.create_engine(postgres_url)
    metadata = sa.MetaData()
    table = sa.Table(
        "fixture_probe",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            conn.execute(table.insert(), [{"id": 1, "name": "incident"}, {"id": 2, "name": "change"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.id, table.c.name).order_by(table.c.id)).all()
            version = conn.execute(sa.text("show server_version")).scalar_one()
            listen = conn.execute(sa.text("show listen_addresses")).scalar_one()
        assert [tuple(r) for r in rows] == [(1, "incident"), (2, "change")]
        assert version
        assert listen == "127.0.0.1"
    finally:
        with engine.begin() as conn:
            metadata.drop_all(conn)
        engine.dispose()
