"""The test network guard (tests/conftest.py) refuses every way out of the loopback range that the
project's clients use, and lets loopback through: Python sockets, libcurl through curl_cffi
(yfinance's client), pycurl, and curl or wget started as programs.

203.0.113.7 is in TEST-NET-3 (RFC 5737): documentation only, never routed.
"""

import shutil
import socket
import subprocess
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import curl_cffi
import pytest

from tests.conftest import guard_pycurl

OUTSIDE = "http://203.0.113.7/v8/finance/chart/IWM"


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture
def local_server():
    # Port 0: the server binds a free port itself and keeps it; the URL is read back from it.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_curl_cffi_session_request_outside_loopback_is_refused(_no_network):
    with curl_cffi.requests.Session() as session, pytest.raises(OSError, match="test tried to reach the network"):
        session.request("GET", OUTSIDE, timeout=1)
    assert _no_network.attempts == [f"curl URL {OUTSIDE}"]
    _no_network.clear()  # seen here: it must not fail this test when it ends


def test_a_curl_cffi_request_to_127_0_0_1_goes_through(_no_network, local_server):
    response = curl_cffi.requests.get(f"{local_server}/ping", timeout=5)
    assert (response.status_code, response.text) == (200, "hello")
    assert _no_network.attempts == []


def test_a_python_socket_outside_loopback_is_refused_and_loopback_connects(_no_network, local_server):
    with socket.socket() as outside, pytest.raises(OSError, match="test tried to reach the network"):
        outside.connect(("203.0.113.7", 443))
    assert _no_network.attempts == ["socket ('203.0.113.7', 443)"]
    port = int(local_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    assert len(_no_network.attempts) == 1


@pytest.mark.parametrize("command", [
    ["curl", "-s", OUTSIDE],
    ["/usr/bin/wget", "-q", "-O", "-", OUTSIDE],
    f"curl -s {OUTSIDE}",
], ids=["curl", "wget by path", "curl in a shell"])
def test_curl_or_wget_started_with_an_outside_url_is_refused_before_it_runs(_no_network, command):
    with pytest.raises(OSError, match="test tried to reach the network"):
        subprocess.run(command, shell=isinstance(command, str), capture_output=True, timeout=5)
    assert _no_network.attempts[-1].endswith(OUTSIDE)


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl program on this machine")
def test_curl_started_with_a_loopback_url_runs(_no_network, local_server):
    done = subprocess.run(["curl", "-s", f"{local_server}/ping"], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (0, "hello")
    assert _no_network.attempts == []


def test_other_programs_are_left_alone(_no_network):
    done = subprocess.run(["echo", OUTSIDE], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == OUTSIDE and _no_network.attempts == []


def test_a_pycurl_handle_is_refused_an_outside_url(_no_network, monkeypatch):
    # pycurl is not installed here: a stand-in with its names shows what the guard does to it.
    class Handle:
        def __init__(self):
            self.options = {}

        def setopt(self, option, value):
            self.options[option] = value

        def perform(self):
            return "performed"

    fake = types.SimpleNamespace(Curl=Handle, URL=10002, PROXY=10004)
    guard_pycurl(monkeypatch, _no_network, fake)
    handle = fake.Curl()
    with pytest.raises(OSError, match="test tried to reach the network"):
        handle.setopt(fake.URL, OUTSIDE)
    with pytest.raises(OSError, match="test tried to reach the network"):
        handle.setopt(fake.PROXY, b"http://10.1.2.3:3128")
    handle.setopt(fake.URL, "http://127.0.0.1:8080/ok")
    handle.setopt(fake.PROXY, "")
    assert handle.options == {fake.URL: "http://127.0.0.1:8080/ok", fake.PROXY: ""}
    assert handle.perform() == "performed"
    assert _no_network.attempts == [f"pycurl URL {OUTSIDE}", "pycurl PROXY http://10.1.2.3:3128"]
