"""Shared fixtures. Nothing here touches the network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from warehouse.db import connect, ensure_schema

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any connection outside the loopback range fails the test that tried it."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        loopback = isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1"))
        if isinstance(host, str) and not loopback and self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"test tried to reach the network: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def db_path(tmp_path) -> Path:
    """A fresh warehouse file with every schema created."""
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as conn:
        ensure_schema(conn)
    return path


@pytest.fixture
def conn(db_path):
    with connect(db_path) as c:
        yield c


@pytest.fixture
def realdata() -> Path:
    """../shared/realdata, or a skip when this checkout has no shared folder beside it."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    return REALDATA


@pytest.fixture
def project_env(monkeypatch, tmp_path):
    """Point the project at a temporary warehouse and Dagster home."""
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path
