"""Test PKI and secrets for the devstack (local development and tests only; standard library + openssl CLI).

``ensure_pki(directory)`` creates, once, in ``directory``:

  ca.pem / ca.key           a self-signed test CA (10 years)
  server.pem / server.key   a server certificate signed by it, SAN IP:127.0.0.1 and DNS:localhost
  server.p12                the server key + chain as PKCS12 (Kafka ``ssl.keystore.type=PKCS12``)
  client.pem / client.key   a client certificate (CN=convstream) for mutual TLS
  keystore.password         the PKCS12 password

Keys are unencrypted PEM (PKCS8) with mode 0600: these are throw-away test credentials that never leave the
machine. Nothing here is suitable for production.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

__all__ = ["PkiError", "ensure_pki", "ensure_secret"]

_SERVER_EXT = """basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
"""
_CLIENT_EXT = """basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
"""
FILES = ("ca.pem", "server.pem", "server.key", "server.p12", "client.pem", "client.key", "keystore.password")


class PkiError(Exception):
    """openssl failed; the message carries its output."""


def ensure_secret(path: Path, nbytes: int = 24) -> str:
    """The secret stored in ``path``, generated (hex, mode 0600) the first time."""
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise PkiError("openssl not found (apt-get install openssl)")
    res = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if res.returncode != 0:
        raise PkiError(f"openssl {args[0]} failed: {res.stderr.strip()[-500:]}")


def _leaf(d: Path, name: str, cn: str, ext: str) -> None:
    (d / f"{name}.ext").write_text(ext)
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-set_serial", str(secrets.randbits(63)), "-days", "825", "-sha256",
             "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)  # fmt: skip
    (d / f"{name}.csr").unlink()
    (d / f"{name}.ext").unlink()


def ensure_pki(directory: Path) -> Path:
    """Create the test CA and certificates in ``directory`` unless complete already; return it."""
    if all((directory / f).exists() for f in FILES):
        return directory
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "3650", "-sha256", "-subj", "/CN=convstream devstack test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=tmp)  # fmt: skip
    _leaf(tmp, "server", "127.0.0.1", _SERVER_EXT)
    _leaf(tmp, "client", "convstream", _CLIENT_EXT)
    ensure_secret(tmp / "keystore.password")
    _openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem",
             "-name", "server", "-out", "server.p12",
             "-passout", "file:keystore.password", cwd=tmp)  # fmt: skip
    for p in tmp.iterdir():
        p.chmod(0o600 if p.suffix in (".key", ".p12", ".password") else 0o644)
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
    return directory
