"""The shipped nginx site file (deploy/nginx/kiemdich.conf) in front of a real gunicorn.

Debian's nginx runs in the foreground with its own prefix in tmp, on a free loopback port, with a
certificate made here; gunicorn runs the app with KIEMDICH_PROXY_HOPS=1 and two workers sharing
their metrics (deploy/gunicorn.conf.py). Only the site file's addresses and paths are replaced.
Phones are told apart by their source address: Linux routes the whole 127.0.0.0/8 to loopback, so
a client socket bound to 127.a.b.c reaches nginx from that address.
"""
import datetime
import http.client
import ipaddress
import os
import re
import secrets
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
SITE = ROOT / "deploy" / "nginx" / "kiemdich.conf"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def site_for_test(folder: Path, https_port: int, http_port: int, upstream: int, cert: Path, key: Path) -> str:
    """The repository's site file with only its addresses and paths replaced (each exactly once)."""
    text = SITE.read_text()
    replacements = [
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream};"),
        (r"listen 80;\n", f"listen 127.0.0.1:{http_port};\n"),
        (r"    listen \[::\]:80;\n", ""),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        (r"    listen \[::\]:443 ssl http2;\n", ""),
        (r"ssl_certificate     \S+;", f"ssl_certificate     {cert};"),
        (r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};"),
        (r"alias /srv/kiemdich/static/;", f"alias {ROOT / 'static'}/;"),
    ]
    for pattern, new in replacements:
        text, count = re.subn(pattern, new, text)
        assert count == 1, f"the site file no longer has {pattern!r}: update this test with it"
    return text


def nginx_conf(folder: Path, site: Path) -> str:
    """A minimal main configuration around the site file, like Debian's nginx.conf includes it."""
    # As root (CI), nginx's workers would switch to "nobody", who cannot enter pytest's 0700 tmp.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {site};
}}
"""


def wait_for(port: int, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited early:\n{log.read_text()[-3000:] if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"port {port} never opened:\n{log.read_text()[-3000:] if log.exists() else ''}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """nginx on https://localhost:<port> in front of gunicorn; yields what the tests need."""
    if not Path(NGINX).exists():
        skip_or_fail("nginx test skipped: /usr/sbin/nginx is missing (apt-get install nginx-light)")
    folder = tmp_path_factory.mktemp("proxy")
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "instance", "metrics"):
        (folder / name).mkdir()
    database = folder / "kiemdich.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIEMDICH_", "PROMETHEUS_"))}
    env.update(DATABASE_URL=f"sqlite:///{database}", KIEMDICH_INSTANCE=str(folder / "instance"),
               KIEMDICH_PROXY_HOPS="1", PROMETHEUS_MULTIPROC_DIR=str(folder / "metrics"),
               FLASK_APP="app.py", KIEMDICH_LOOKUP_ADDRESS_RATE="5 per minute", SECRET_KEY="proxy-test")
    if not os.environ.get("REDIS_URL"):
        env.pop("REDIS_URL", None)  # limits then in memory: one worker, so that counts are shared
    done = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    upstream, https_port, http_port = free_port(), free_port(), free_port()
    gunicorn_log, access_log = folder / "gunicorn.log", folder / "gunicorn-access.log"
    gunicorn = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{upstream}", "--workers", "2" if env.get("REDIS_URL") else "1",
         "--threads", "2", "--no-control-socket", "--access-logfile", str(access_log), "--error-logfile", str(gunicorn_log),
         "app:app"], cwd=ROOT, env=env)
    cert, key = self_signed(folder)
    site = folder / "kiemdich.conf"
    site.write_text(site_for_test(folder, https_port, http_port, upstream, cert, key))
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(folder, site))
    nginx_out = folder / "nginx.out"
    with nginx_out.open("w") as out:
        nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log"),
                                  "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(upstream, gunicorn, gunicorn_log)
        wait_for(https_port, nginx, nginx_out)
        context = ssl.create_default_context(cafile=str(cert))
        yield {"port": https_port, "http_port": http_port, "upstream": upstream, "context": context,
               "database": database, "access_log": access_log, "folder": folder}
    finally:
        stop(nginx)
        stop(gunicorn)


def phone_address() -> str:
    """A source address in 127.0.0.0/8 nobody else uses in this run (rate-limit keys are per address)."""
    return "127.%d.%d.%d" % (secrets.randbelow(200) + 20, secrets.randbelow(250) + 1, secrets.randbelow(250) + 1)


class Phone:
    """An HTTPS client from one source address, keeping its cookies."""

    def __init__(self, stack, address: str):
        self.stack, self.address, self.cookies = stack, address, {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPSConnection("localhost", self.stack["port"], context=self.stack["context"],
                                           source_address=(self.address, 0), timeout=30)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        conn.close()
        return response, data

    def lookup(self, referer: bool = True, extra_headers: dict | None = None) -> int:
        _page, html = self.request("GET", "/tra-cuu")
        token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1).decode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"} | (extra_headers or {})
        if referer:
            headers["Referer"] = f"https://localhost:{self.stack['port']}/tra-cuu"
        body = urlencode({"code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": token}).encode()
        response, _ = self.request("POST", "/tra-cuu", body=body, headers=headers)
        return response.status


def test_two_client_addresses_are_counted_separately_behind_nginx(stack):
    first, second = Phone(stack, phone_address()), Phone(stack, phone_address())
    # The per-address ceiling of lookups is 5 a minute here (KIEMDICH_LOOKUP_ADDRESS_RATE).
    assert [first.lookup() for _ in range(5)] == [422] * 5  # an unknown code, not a limit
    assert first.lookup() == 429
    assert second.lookup() == 422  # another phone behind the same nginx is not limited by the first
    # A forged X-Forwarded-For does not make the first phone someone else: nginx appends the real one.
    assert first.lookup(extra_headers={"X-Forwarded-For": phone_address()}) == 429


def test_the_app_sees_https_and_the_audit_trail_the_client_address(stack):
    phone = Phone(stack, phone_address())
    page, _html = phone.request("GET", "/dang-nhap")
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    session_cookie = [c for c in page.headers.get_all("Set-Cookie") if c.startswith("session=")]
    assert session_cookie and "Secure" in session_cookie[0]
    # Flask-WTF checks the Referer of HTTPS requests only: its refusal shows the app knows the scheme.
    assert phone.lookup(referer=False) == 400
    # A failed sign-in is audited with the phone's address, not nginx's.
    _page, html = phone.request("GET", "/dang-nhap")
    token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1).decode()
    body = urlencode({"username": "nobody", "password": "wrong password", "csrf_token": token}).encode()
    response, _ = phone.request("POST", "/dang-nhap", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"https://localhost:{stack['port']}/dang-nhap"})
    assert response.status in (200, 401, 422)
    with sqlite3.connect(stack["database"]) as conn:
        ips = [row[0] for row in conn.execute("SELECT ip FROM audit_event WHERE action LIKE 'auth.%'")]
    assert phone.address in ips and "127.0.0.1" not in ips


def test_plain_http_redirects_to_https(stack):
    conn = http.client.HTTPConnection("127.0.0.1", stack["http_port"], timeout=10)
    conn.request("GET", "/khai-bao", headers={"Host": "kiemdich.example.gov.vn"})
    response = conn.getresponse()
    assert response.status == 301
    assert response.headers["Location"] == "https://kiemdich.example.gov.vn/khai-bao"


def test_nginx_serves_versioned_static_files_immutable(stack):
    phone = Phone(stack, phone_address())
    _page, html = phone.request("GET", "/dang-nhap")
    path = re.search(rb'href="(/static/css/app\.css\?v=[0-9a-f]{10})"', html).group(1).decode()
    response, body = phone.request("GET", path, headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip" and body
    unversioned, _ = phone.request("GET", "/static/css/app.css")
    assert unversioned.headers["Cache-Control"] == "no-cache"
    # Straight from disk: gunicorn never saw a static request.
    assert "/static/" not in stack["access_log"].read_text()


def test_uploads_up_to_the_app_limit_pass_and_larger_ones_stop_at_nginx(stack):
    limit = 20 * 1024 * 1024  # KIEMDICH_MAX_UPLOAD_MB's default, the site file's client_max_body_size
    phone = Phone(stack, phone_address())
    response, _ = phone.request("POST", "/healthz", body=b"x" * limit,
                                headers={"Content-Type": "application/octet-stream"})
    assert response.status == 405  # reached the app (GET only there), not refused by nginx
    conn = http.client.HTTPSConnection("localhost", stack["port"], context=stack["context"], timeout=30)
    conn.putrequest("POST", "/healthz")
    conn.putheader("Content-Length", str(limit + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and b"nginx" in response.read()


def test_health_through_nginx_and_metrics_only_from_the_operator_network(stack):
    phone = Phone(stack, phone_address())
    for _ in range(10):  # each on a new connection: both gunicorn workers get some
        health, body = phone.request("GET", "/healthz")
        assert (health.status, body) == (200, b"ok\n")
    ready, body = phone.request("GET", "/readyz")
    assert ready.status == 200, body
    public, _ = phone.request("GET", "/metrics")
    assert public.status == 404
    # Prometheus scrapes gunicorn directly from the operator's network (loopback here).
    conn = http.client.HTTPConnection("127.0.0.1", stack["upstream"], timeout=10)
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    text = response.read().decode()
    assert response.status == 200
    # Every request counted, whichever worker answered it and whichever answers the scrape
    # (PROMETHEUS_MULTIPROC_DIR): the health checks of this test are the only ones.
    assert re.search(r'^kiemdich_http_requests_total\{endpoint="health\.healthz",method="GET",status="200"\} 10\.0$',
                     text, re.M)
    assert 'kiemdich_http_request_duration_seconds_bucket{endpoint="health.readyz"' in text
