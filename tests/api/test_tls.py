"""HTTPS: a certificate made by the test, a query over TLS, and HSTS in the answer."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support import make_settings, serve, sign_up


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def test_graphql_over_https(tmp_path: Path) -> None:
    cert_file, key_file = make_certificate(tmp_path)
    settings = make_settings(tmp_path / "data", ssl_certfile=cert_file, ssl_keyfile=key_file)
    with serve(settings, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        server.verify = ssl.create_default_context(cafile=str(cert_file))
        assert server.url.startswith("https://")
        client = server.client()
        token, user = sign_up(client, "tls@example.org")
        response = client.as_user(token).post("{ viewer { id } }")
        assert response.json()["data"]["viewer"]["id"] == user["id"]
        assert response.headers["strict-transport-security"].startswith("max-age=")
