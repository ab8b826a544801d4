"""docker/nginx.conf as shipped, templated for a test machine: ports, the upstream address,
a self-signed TLS certificate, the static directory, and pid/log/temp paths so that Debian's
nginx runs from a prefix directory. Used by tests/ops/test_nginx_proxy.py and
scripts/container_test.py (stdlib and cryptography only: no Django)."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NGINX_CONF = Path(__file__).resolve().parents[2] / "docker" / "nginx.conf"


def certificate_make(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _replace(text: str, old: str, new: str) -> str:
    # Every templated line must exist in the shipped file: if the file changes shape,
    # this test fails instead of silently testing something else.
    assert old in text, f"docker/nginx.conf no longer contains {old!r}"
    return text.replace(old, new)


def nginx_conf_for_test(*, prefix: Path, http_port: int, https_port: int, upstream_port: int, static_root: Path):
    cert, key = certificate_make(prefix)
    temp_paths = "".join(
        f"    {kind}_temp_path {prefix / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "root" if os.geteuid() == 0 else None
    text = NGINX_CONF.read_text()
    for old, new in [
        ("user nginx;", f"user {user};" if user else ""),
        ("worker_processes auto;", "worker_processes 1;"),
        ("error_log /dev/stderr warn;", f"error_log {prefix / 'error.log'} warn;"),
        ("pid /var/run/nginx.pid;", f"pid {prefix / 'nginx.pid'};"),
        ("access_log /dev/stdout main;", f"access_log {prefix / 'access.log'} main;"),
        ("http {\n", "http {\n" + temp_paths),
        ("server web:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;"),
        ("listen 443 ssl default_server;", f"listen 127.0.0.1:{https_port} ssl default_server;"),
        ("/etc/nginx/certs/fullchain.pem", str(cert)),
        ("/etc/nginx/certs/privkey.pem", str(key)),
        ("/srv/static/", f"{static_root}/"),
        ("root /var/www/acme;", f"root {prefix / 'acme'};"),
    ]:
        text = _replace(text, old, new)
    return text, cert
