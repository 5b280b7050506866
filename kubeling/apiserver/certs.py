"""Cluster PKI generated on first start: a CA, the API server's serving certificate, an admin token."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(k: ec.EllipticCurvePrivateKey) -> bytes:
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def _write(path: str, data: bytes, mode: int = 0o600) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_pki(pki_dir: str) -> dict[str, str]:
    """Create (once) and return paths: ca.crt, ca.key, apiserver.crt, apiserver.key, token."""
    os.makedirs(pki_dir, exist_ok=True)
    paths = {n: os.path.join(pki_dir, n) for n in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key",
                                                       "admin.token")}
    now = dt.datetime.now(dt.UTC)
    if not (os.path.exists(paths["ca.crt"]) and os.path.exists(paths["ca.key"])):
        ca_key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubeling-ca")])
        ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=True, data_encipherment=False,
                                           key_agreement=False, encipher_only=False, decipher_only=False),
                             critical=True)
              .sign(ca_key, hashes.SHA256()))
        _write(paths["ca.key"], _pem_key(ca_key))
        _write(paths["ca.crt"], ca.public_bytes(serialization.Encoding.PEM), 0o644)
        for n in ("apiserver.crt", "apiserver.key"):
            if os.path.exists(paths[n]):
                os.remove(paths[n])
    if not (os.path.exists(paths["apiserver.crt"]) and os.path.exists(paths["apiserver.key"])):
        with open(paths["ca.key"], "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
        with open(paths["ca.crt"], "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
        key = _key()
        sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                          "kubernetes.default.svc.cluster.local", "kubeling")]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.96.0.1", "::1")]
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
                .issuer_name(ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(ca_key, hashes.SHA256()))
        _write(paths["apiserver.key"], _pem_key(key))
        _write(paths["apiserver.crt"], cert.public_bytes(serialization.Encoding.PEM), 0o644)
    if not os.path.exists(paths["admin.token"]):
        _write(paths["admin.token"], secrets.token_urlsafe(32).encode())
    return paths


def read_token(path: str) -> str:
    with open(path) as f:
        return f.read().strip()
