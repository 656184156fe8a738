"""Shared fixtures. Nothing here touches the network."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from warehouse.db import connect, ensure_schema
from warehouse.sources import sample_rates

# One day for the whole session, taken once: a test that loads the sample rates twice around
# midnight sees the same last day both times.
SAMPLE_RATES_DAY = sample_rates.today()
# Programs that fetch URLs themselves, outside Python's sockets and libcurl's Python bindings.
URL_PROGRAMS = frozenset({"curl", "wget"})

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(url: str) -> str | None:
    return urlsplit(url if "://" in url else f"//{url}").hostname


class NetworkGuard:
    """What a test tried to reach outside the loopback range; each attempt is also refused."""

    def __init__(self) -> None:
        self.attempts: list[str] = []  # every refused attempt
        self.unseen: list[str] = []  # those that fail the test when it ends

    def refuse(self, what: str, *, fail_at_end: bool = False) -> OSError:
        self.attempts.append(what)
        if fail_at_end:
            self.unseen.append(what)
        return OSError(f"test tried to reach the network: {what}")

    def clear(self) -> None:
        """Forget the attempts so far (for a test of the guard itself)."""
        self.attempts.clear()
        self.unseen.clear()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any connection outside the loopback range fails the test that tried it.

    Two paths are guarded: Python's sockets, and libcurl through curl_cffi (yfinance's HTTP client,
    which never touches Python's sockets). A socket connection is refused with OSError, which code
    under test may rely on (the live-host probe reads it as "unreachable"). A curl_cffi URL or proxy
    outside the loopback range is refused when it is set, and a transfer that connected elsewhere
    anyway (a redirect) is caught from the address libcurl reports; because yfinance swallows the
    error (it logs "possibly delisted"), a curl attempt also fails the test when it ends.
    Two more paths are refused at once: pycurl, when installed (another binding of libcurl), and a
    curl or wget started as a subprocess with a URL outside the loopback range.
    The guard (fixture value) lists every attempt.
    """
    guard = NetworkGuard()
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not is_loopback(host) and self.family in (socket.AF_INET, socket.AF_INET6):
            raise guard.refuse(f"socket {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)

    try:
        from curl_cffi.const import CurlInfo, CurlOpt
        from curl_cffi.curl import Curl
    except ImportError:  # pragma: no cover - curl_cffi is a dependency of yfinance
        Curl = None
    if Curl is not None:
        real_setopt, real_perform = Curl.setopt, Curl.perform

        def guarded_setopt(self, option, value):
            if option in (CurlOpt.URL, CurlOpt.PROXY) and value:
                text = value.decode() if isinstance(value, bytes) else str(value)
                host = _url_host(text)
                if host is not None and not is_loopback(host):
                    raise guard.refuse(f"curl {getattr(option, 'name', option)} {text}", fail_at_end=True)
            return real_setopt(self, option, value)

        def guarded_perform(self, *args, **kwargs):
            result = real_perform(self, *args, **kwargs)
            ip = self.getinfo(CurlInfo.PRIMARY_IP)
            ip = ip.decode() if isinstance(ip, bytes) else ip
            if ip and not is_loopback(ip):
                guard.refuse(f"curl connected to {ip}", fail_at_end=True)
            return result

        monkeypatch.setattr(Curl, "setopt", guarded_setopt)
        monkeypatch.setattr(Curl, "perform", guarded_perform)

    try:
        import pycurl
    except ImportError:
        pycurl = None
    if pycurl is not None:  # pragma: no cover - not a dependency; guarded when present
        guard_pycurl(monkeypatch, guard, pycurl)
    guard_url_programs(monkeypatch, guard)

    yield guard
    if guard.unseen:
        pytest.fail(f"test tried to reach the network through curl_cffi: {guard.unseen}", pytrace=False)


def guard_pycurl(monkeypatch, guard: NetworkGuard, module) -> None:
    """Refuse a URL or proxy outside the loopback range given to a pycurl handle (`module` is
    pycurl). Its Curl type is a C type whose methods cannot be replaced, so the module's Curl is
    replaced by a handle that checks the options and hands everything else to the real one."""
    real = module.Curl
    checked = {module.URL: "URL", module.PROXY: "PROXY"}

    class GuardedCurl:
        def __init__(self, *args, **kwargs):
            self._handle = real(*args, **kwargs)

        def setopt(self, option, value):
            if option in checked and value:
                text = value.decode() if isinstance(value, bytes) else str(value)
                host = _url_host(text)
                if host is not None and not is_loopback(host):
                    raise guard.refuse(f"pycurl {checked[option]} {text}")
            return self._handle.setopt(option, value)

        def __getattr__(self, name):
            return getattr(self._handle, name)

    monkeypatch.setattr(module, "Curl", GuardedCurl)


def guard_url_programs(monkeypatch, guard: NetworkGuard) -> None:
    """Refuse to start curl or wget with a URL outside the loopback range. The arguments read as
    URLs are those with a scheme (`https://...`); a bare host name is not recognised."""
    real_init = subprocess.Popen.__init__

    def guarded_init(self, args, *rest, **kwargs):
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        words = str(argv[0]).split() if kwargs.get("shell") and argv else [str(a) for a in argv]
        if words and os.path.basename(os.fsdecode(words[0])) in URL_PROGRAMS:
            for word in words[1:]:
                text = os.fsdecode(word)
                host = _url_host(text) if "://" in text else None
                if host is not None and not is_loopback(host):
                    raise guard.refuse(f"{os.path.basename(words[0])} {text}")
        return real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_init)


@pytest.fixture(autouse=True)
def _sample_rates_day(monkeypatch):
    """The sample rates end on the day the session started, whatever the clock says later."""
    monkeypatch.setattr(sample_rates, "today", lambda now=None: SAMPLE_RATES_DAY)
    return SAMPLE_RATES_DAY


@pytest.fixture(scope="session")
def _schema_template(tmp_path_factory) -> Path:
    """A warehouse file with every schema created, made once: a copy of it takes a third of the
    time of creating the schema again, and hundreds of tests start from one."""
    path = tmp_path_factory.mktemp("schema-template") / "warehouse.duckdb"
    with connect(path) as conn:
        ensure_schema(conn)
    assert not path.with_name(path.name + ".wal").exists(), "the template was not checkpointed on close"
    return path


@pytest.fixture
def db_path(tmp_path, _schema_template) -> Path:
    """A fresh warehouse file with every schema created."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(_schema_template, path)
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
    """Point the project at a temporary warehouse and Dagster home, fed by the sample."""
    monkeypatch.setenv("ROTATION_SOURCE", "sample")
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory):
    """`make run` on the sample into a temporary file, once per session (it takes minutes)."""
    from pipelines import run

    folder = tmp_path_factory.mktemp("sample-build")
    path = folder / "sample.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROTATION_SOURCE", "sample")
        mp.setenv("ROTATION_WAREHOUSE", str(path))
        mp.setenv("DAGSTER_HOME", str(folder))
        assert run.main() == 0
    return path


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server (tests/pg_server.py) for the session, on a loopback port, stopped
    at the end even when a test failed; a skip naming what is missing when the binaries are absent."""
    from tests import pg_server as pg

    try:
        server = pg.start()
    except pg.PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()
