"""docker/nginx.conf, run by Debian's real nginx in front of a real daphne.

The file is used as it ships; only what differs on a test machine is templated: ports,
the upstream address, the TLS certificate (made here, self-signed), the static directory,
and the pid/log/temp paths so that nginx runs unprivileged from a temporary prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import websockets
from django.test import Client

from core.realtime import realtime_send
from tests.factories import UserFactory
from tests.support.deadlines import scaled
from tests.support.nginx import nginx_conf_for_test
from tests.support.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(NGINX is None, reason="the nginx binary is absent (apt-get install nginx; .ci/run installs it)"),
]


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collected_static(module_tmp) -> Path:
    """collectstatic as the image build runs it: hashed names, precompressed .gz files."""
    static_root = module_tmp / "static"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "STATIC_ROOT": str(static_root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    return static_root


class Proxy:
    def __init__(self, *, process, https_port, http_port, cert, prefix):
        self.process, self.https_port, self.http_port, self.prefix = process, https_port, http_port, prefix
        self.ssl_context = ssl.create_default_context(cafile=str(cert))
        self.base = f"https://localhost:{https_port}"

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.ssl_context, timeout=scaled(60), **kwargs)

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""


@contextlib.contextmanager
def nginx_running(tmp_path: Path, *, upstream_port: int, static_root: Path):
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "acme").mkdir()
    if os.geteuid() == 0:
        # Worker processes must reach the static files and temp dirs below pytest's tmp root.
        for directory in [prefix, static_root, *prefix.parents, *static_root.parents]:
            if directory != Path("/"):
                directory.chmod(directory.stat().st_mode | 0o755)
    http_port, https_port = free_port(), free_port()
    conf_text, cert = nginx_conf_for_test(
        prefix=prefix, http_port=http_port, https_port=https_port, upstream_port=upstream_port, static_root=static_root
    )
    conf = prefix / "nginx.conf"
    conf.write_text(conf_text)
    argv = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([*argv, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(https_port, process=process, timeout=15)
        yield Proxy(process=process, https_port=https_port, http_port=http_port, cert=cert, prefix=prefix)
    finally:
        process.terminate()
        process.wait(timeout=scaled(10))


@pytest.fixture
def proxy(asgi_server, collected_static, tmp_path):
    with nginx_running(tmp_path, upstream_port=asgi_server.port, static_root=collected_static) as running:
        running.upstream = asgi_server
        yield running


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers with the request headers it received, as JSON."""

    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = json.dumps({key.lower(): value for key, value in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_proxy(collected_static, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with nginx_running(tmp_path, upstream_port=server.server_address[1], static_root=collected_static) as running:
            yield running
    finally:
        server.shutdown()


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


# --- tests -----------------------------------------------------------------------------


def test_health_answers_through_the_proxy_with_djangos_headers_once(proxy, celery_worker_process):
    with proxy.client() as client:
        response = client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    # Django's security headers come through once, nginx adds only what Django does not set.
    assert response.headers.get_list("X-Frame-Options") == ["DENY"]
    assert response.headers.get_list("X-Content-Type-Options") == ["nosniff"]
    assert len(response.headers.get_list("Content-Security-Policy")) <= 1
    assert response.headers["Permissions-Policy"].startswith("camera=()")
    assert "server" not in response.headers or "nginx/" not in response.headers["server"]
    # The request id is made by nginx and kept by Django.
    assert len(response.headers["X-Request-ID"]) == 32


def test_plain_http_redirects_to_https_and_answers_the_container_health_check(proxy):
    with httpx.Client(base_url=f"http://127.0.0.1:{proxy.http_port}") as client:
        assert client.get("/nginx-health").text == "ok\n"
        redirect = client.get("/exams/1/?x=1")
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == "https://127.0.0.1/exams/1/?x=1"


def test_the_upstream_receives_the_forwarded_headers_django_needs(echo_proxy):
    with echo_proxy.client() as client:
        seen = client.get("/exams/", headers={"X-Forwarded-For": "203.0.113.7", "X-Request-ID": "forged-id-123"}).json()
    assert seen["host"] == "localhost"
    assert seen["x-forwarded-host"] == "localhost"
    assert seen["x-forwarded-proto"] == "https"
    # The client address is appended to what the client claimed; Django trusts neither blindly.
    assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    # The edge makes the request id; a client cannot choose it.
    assert seen["x-request-id"] != "forged-id-123" and len(seen["x-request-id"]) == 32
    # Keep-alive to the upstream: nginx does not forward "Connection: close".
    assert seen.get("connection", "") == ""


def test_a_websocket_connects_through_the_proxy_and_receives_an_event(proxy):
    owner = UserFactory()
    group = f"user-{owner.pk}"
    url = f"wss://localhost:{proxy.https_port}/ws/events/{group}/"
    headers = {"Cookie": _session_cookie(owner), "Origin": f"https://localhost:{proxy.https_port}"}

    async def receive() -> str:
        async with websockets.connect(url, additional_headers=headers, ssl=proxy.ssl_context) as ws:
            # No pause needed: the consumer joins the group before it accepts the handshake.
            await asyncio.to_thread(realtime_send, group, html='<div id="progress">7/30</div>')
            return await asyncio.wait_for(ws.recv(), timeout=scaled(15))

    message = asyncio.run(receive())
    assert '<div id="progress">7/30</div>' in message


def _post_body(proxy: Proxy, size: int) -> int:
    """POSTs `size` bytes to an upload URL and returns the status nginx or Django answers."""
    connection = http.client.HTTPSConnection(
        "localhost", proxy.https_port, context=proxy.ssl_context, timeout=scaled(60)
    )
    connection.putrequest("POST", "/accounts/login/")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    chunk = b"\0" * (1 << 20)
    sent = 0
    try:
        while sent < size:
            connection.send(chunk[: size - sent])
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # nginx may answer and close before the whole body is sent
    status = connection.getresponse().status
    connection.close()
    return status


def test_an_upload_over_50_megabytes_is_refused_with_413_and_a_smaller_one_reaches_django(proxy):
    assert _post_body(proxy, 51 * 1024 * 1024) == 413
    # 49 MB passes nginx and reaches Django, whose CSRF check refuses this anonymous POST.
    assert _post_body(proxy, 49 * 1024 * 1024) == 403


def test_a_burst_on_the_api_is_limited_while_paced_and_other_traffic_passes(proxy):
    statuses: list[int] = []
    lock = threading.Lock()

    def hammer(client: httpx.Client) -> None:
        for _ in range(10):
            status = client.get("/api/nothing-here/").status_code
            with lock:
                statuses.append(status)

    with proxy.client() as client:
        threads = [threading.Thread(target=hammer, args=(client,)) for _ in range(12)]
        for thread in threads:
            thread.start()
        # Pages outside /api/ and /accounts/ are not limited, even during the burst.
        assert client.get("/health").status_code != 429
        for thread in threads:
            thread.join()
        assert 429 in statuses, statuses
        assert statuses.count(429) < len(statuses)
        assert "limiting requests" in proxy.error_log()

        # Once the burst has drained, a client keeping under 10 requests/s is never limited.
        time.sleep(2.5)
        paced = []
        for _ in range(10):
            paced.append(client.get("/api/nothing-here/").status_code)
            time.sleep(0.25)
        assert 429 not in paced, paced
        assert client.get("/accounts/login/").status_code == 200


def test_static_files_are_served_by_nginx_with_their_cache_headers(proxy, collected_static):
    manifest = json.loads((collected_static / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/corrigo.css"]
    with proxy.client() as client:
        immutable = client.get(f"/static/{hashed}", headers={"Accept-Encoding": "identity"})
        original = client.get("/static/css/corrigo.css")
        missing = client.get("/static/css/nothing.0123456789ab.css")
        media = client.get("/media/copies/1/scan.pdf")
        big = manifest[next(name for name in manifest if name.endswith(".js") and "htmx" in name)]
        compressed = client.get(f"/static/{big}", headers={"Accept-Encoding": "gzip"})

    assert immutable.status_code == 200
    assert immutable.content == (collected_static / hashed).read_bytes()
    assert immutable.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert immutable.headers["X-Content-Type-Options"] == "nosniff"
    assert immutable.headers["Content-Type"].startswith("text/css")
    assert original.status_code == 200
    assert original.headers["Cache-Control"] == "public, max-age=3600"
    assert missing.status_code == 404
    assert media.status_code == 404
    assert compressed.headers.get("Content-Encoding") == "gzip"  # the precompressed .gz file
    assert compressed.content == (collected_static / big).read_bytes()  # httpx decoded it
    # nginx served them from the collected directory: Django's headers are absent.
    assert "X-Frame-Options" not in immutable.headers
    assert "X-Frame-Options" not in media.headers
