"""Registry basic auth through a real auth-enforcing proxy, and no secret ever leaks (docs/security.md).

The proxy is test plumbing (stdlib ``http.server``): it checks HTTP basic credentials and forwards to the
real Apicurio registry behind it.
"""

from __future__ import annotations

import base64
import http.server
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from consumer.adapters.schema_registry import SchemaRegistry
from consumer.cli import COMMANDS
from consumer.errors import ConfigError
from consumer.settings import SchemaRegistrySettings
from tests.fixtures.services import ROOT, make_unique_name
from tests.integration.test_security_kafka import sasl_settings

pytestmark = pytest.mark.integration

USER, PASSWORD = "registry-user", "Registry-Pa55-9f3a1c"
SECRETS = {
    "CONVSTREAM_KAFKA__SASL_PASSWORD": None,  # the real SCRAM password of the devstack
    "CONVSTREAM_POSTGRES__DSN": "Pg-Pa55-77e1d0b4",
    "CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_PASSWORD": PASSWORD,
    "CONVSTREAM_GENESYS__CLIENT_SECRET": "Genesys-Secret-5b2c9e",
}


@pytest.fixture(scope="module")
def auth_proxy(registry_url: str) -> Iterator[str]:
    """``http://127.0.0.1:PORT/...`` in front of ``registry_url``, answering 401 without USER:PASSWORD."""
    upstream = registry_url.split("/apis/")[0]
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _forward(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="registry"')
                self.send_header("Content-Type", "application/json")
                body = b'{"error_code": 401, "message": "Unauthorized"}'
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
            req = urllib.request.Request(
                upstream + self.path, data=data, headers=headers, method=self.command
            )
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    status, body, ctype = resp.status, resp.read(), resp.headers.get("Content-Type")
            except urllib.error.HTTPError as exc:
                status, body, ctype = exc.code, exc.read(), exc.headers.get("Content-Type")
            self.send_response(status)
            self.send_header("Content-Type", ctype or "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}" + registry_url[len(upstream) :]
    finally:
        server.shutdown()
        server.server_close()


def test_registry_basic_auth_right_credentials_work(auth_proxy: str) -> None:
    settings = SchemaRegistrySettings(
        url=auth_proxy, basic_auth_user=USER, basic_auth_password=SecretStr(PASSWORD)
    )
    SchemaRegistry(settings).ping()


def test_registry_basic_auth_wrong_credentials_name_the_variable(auth_proxy: str) -> None:
    settings = SchemaRegistrySettings(
        url=auth_proxy, basic_auth_user=USER, basic_auth_password=SecretStr("wrong-password")
    )
    with pytest.raises(ConfigError) as info:
        SchemaRegistry(settings).ping()
    assert info.value.variable == "CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_USER"
    assert "CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_USER" in str(info.value)
    assert "wrong-password" not in str(info.value)


def test_no_secret_leaks_from_any_command(
    auth_proxy: str, pg_database: str, tmp_path: Path, new_topic: Callable[..., str]
) -> None:
    kafka = sasl_settings()
    assert kafka.sasl_password is not None
    scram = kafka.sasl_password.get_secret_value()
    pg_password = SECRETS["CONVSTREAM_POSTGRES__DSN"]
    assert pg_password is not None
    # devstack Postgres trusts local TCP: the password is carried (and could leak) but not checked
    dsn = pg_database.replace("postgresql://postgres@", f"postgresql://postgres:{pg_password}@")
    base = make_unique_name("leak")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSTREAM_")}
    env.update(
        {
            "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "CONVSTREAM_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "CONVSTREAM_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "CONVSTREAM_KAFKA__SASL_USERNAME": str(kafka.sasl_username),
            "CONVSTREAM_KAFKA__SASL_PASSWORD": scram,
            "CONVSTREAM_KAFKA__SSL_CA_LOCATION": str(kafka.ssl_ca_location),
            "CONVSTREAM_POSTGRES__DSN": dsn,
            "CONVSTREAM_SCHEMA_REGISTRY__URL": auth_proxy,
            "CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_USER": USER,
            "CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_PASSWORD": PASSWORD,
            "CONVSTREAM_GENESYS__CLIENT_ID": "client-id",
            "CONVSTREAM_GENESYS__CLIENT_SECRET": str(SECRETS["CONVSTREAM_GENESYS__CLIENT_SECRET"]),
            "CONVSTREAM_TOPICS__EVENTS": f"{base}_events",
            "CONVSTREAM_TOPICS__QUEUES": f"{base}_queues",
            "CONVSTREAM_TOPICS__DLQ": f"{base}_dlq",
            "CONVSTREAM_TOPICS__PARTITIONS": "1",
            "CONVSTREAM_CONSUMER__GROUP_ID": base,
            "CONVSTREAM_OBSERVABILITY__METRICS_PORT": "0",
            "CONVSTREAM_OBSERVABILITY__LOG_LEVEL": "DEBUG",
        }
    )
    secrets = [scram, pg_password, PASSWORD, str(SECRETS["CONVSTREAM_GENESYS__CLIENT_SECRET"])]
    outputs: list[str] = []

    def run(*args: str, expect: int | None = 0) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "consumer.cli", *args],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
        )  # fmt: skip
        outputs.append(f"$ convstream {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")
        if expect is not None:
            assert proc.returncode == expect, outputs[-1]

    run("migrate")
    run("check")
    events = ROOT / "tests" / "data" / "blind_transfer.jsonl"
    run("bridge", "--source", "file", str(events))
    run("consume", "--until-end")
    # failures print errors: a wrong registry password and an unreachable Postgres must not echo secrets
    env["CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_PASSWORD"] = PASSWORD + "-wrong"
    secrets.append(PASSWORD + "-wrong")
    run("check", expect=None)
    env["CONVSTREAM_POSTGRES__DSN"] = f"postgresql://postgres:{pg_password}@127.0.0.1:1/x?connect_timeout=1"
    run("check", "--only", "postgres", "--timeout", "2", expect=None)
    run("status", expect=None)
    for name in COMMANDS:
        run(name, "--help")
    text = "\n".join(outputs)
    for secret in secrets:
        assert secret not in text, f"a secret leaked:\n{text}"
