"""One settings tree for every convstream process.

Read from environment variables with the prefix ``CONVSTREAM_`` and ``__`` between nesting levels, e.g.
``CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS`` or ``CONVSTREAM_POSTGRES__DSN``. Any variable may instead be given
as ``<NAME>_FILE`` holding a path whose content is the value (Kubernetes Secrets mounted as files), e.g.
``CONVSTREAM_GENESYS__CLIENT_SECRET_FILE=/var/run/secrets/genesys/client-secret``.

Defaults work against the local devstack (``scripts/devstack up``). Only the CLI instantiates
:class:`Settings`; everything else receives the sub-settings it needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from consumer.errors import ConfigError

__all__ = [
    "BackfillSettings",
    "BridgeSettings",
    "ConsumerSettings",
    "GenesysSettings",
    "KafkaSettings",
    "ObservabilitySettings",
    "PiiSettings",
    "PostgresSettings",
    "SchemaRegistrySettings",
    "Settings",
    "TopicSettings",
    "env_name",
    "load_settings",
]

ENV_PREFIX = "CONVSTREAM_"
NESTED = "__"


class _Section(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class KafkaSettings(_Section):
    """Kafka connection; anything not modelled here goes through ``extra`` to librdkafka as is."""

    bootstrap_servers: str = Field(default="127.0.0.1:19092", description="Kafka brokers, host:port,…")
    client_id: str = Field(default="convstream", description="client id shown in broker logs and quotas")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="how to talk to the brokers"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL login mechanism (with SASL_PLAINTEXT or SASL_SSL)"
    )
    sasl_username: str | None = Field(default=None, description="SASL user name")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password")
    ssl_ca_location: str | None = Field(default=None, description="CA certificate file to trust")
    ssl_certificate_location: str | None = Field(default=None, description="client certificate file")
    ssl_key_location: str | None = Field(default=None, description="client private key file")
    ssl_key_password: SecretStr | None = Field(default=None, description="password of the private key")
    extra: dict[str, str] = Field(
        default_factory=dict,
        description='librdkafka passthrough as JSON, e.g. {"fetch.min.bytes": "65536"}; its '
        "socket.timeout.ms also bounds admin calls",
    )

    def as_librdkafka(self) -> dict[str, str]:
        """The librdkafka configuration for these settings (``_`` becomes ``.``)."""
        conf: dict[str, str] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        optional: dict[str, str | SecretStr | None] = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
        }
        for key, value in optional.items():
            if value is not None:
                conf[key] = value.get_secret_value() if isinstance(value, SecretStr) else value
        conf.update(self.extra)
        return conf


class TopicSettings(_Section):
    """Topic names and how the bridge creates them when missing."""

    events: str = Field(default="genesys.conversation.events", description="the conversation events topic")
    queues: str = Field(default="genesys.routing.queues", description="the queue directory topic (compacted)")
    dlq: str = Field(default="genesys.conversation.events.dlq", description="the dead-letter topic")
    partitions: int = Field(default=12, ge=1, description="partitions of the events and dead-letter topics")
    queues_partitions: int = Field(
        default=1,
        ge=1,
        description="partitions of the queue directory topic: 1, so the group's assignor (which balances "
        "the total over both topics) spreads the events partitions evenly",
    )
    replication_factor: int = Field(
        default=1, ge=1, description="replication factor of topics the bridge creates"
    )


class SchemaRegistrySettings(_Section):
    """Confluent-compatible schema registry (Confluent, or Apicurio's ccompat API)."""

    url: str = Field(
        default="http://127.0.0.1:18081/apis/ccompat/v7", description="Confluent-compatible registry URL"
    )
    basic_auth_user: str | None = Field(default=None, description="HTTP basic auth user")
    basic_auth_password: SecretStr | None = Field(default=None, description="HTTP basic auth password")
    timeout_seconds: float = Field(default=10.0, gt=0, description="timeout of each registry request")


class PostgresSettings(_Section):
    """PostgreSQL; the DSN may carry a password, so it is a secret."""

    dsn: SecretStr = Field(
        default=SecretStr("postgresql://postgres@127.0.0.1:15432/convstream"),
        description="connection string of the runtime role (may hold a password)",
    )
    migration_dsn: SecretStr | None = Field(
        default=None, description="DSN of the DDL role for `convstream migrate`; defaults to dsn"
    )
    table: str = Field(
        default="conversation", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="the conversation table"
    )
    pool_min_size: int = Field(default=1, ge=0, description="connections kept open")
    pool_max_size: int = Field(default=4, ge=1, description="most connections open at once")
    connect_timeout_seconds: float = Field(default=10.0, gt=0, description="give up connecting after this")
    statement_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="server-side statement_timeout of runtime connections (0: none); a statement "
        "blocked longer is cancelled (SQLSTATE 57014, transient: the batch is retried)",
    )
    idle_in_transaction_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="idle_in_transaction_session_timeout of runtime connections (0: none); a session "
        "left idle inside a transaction is closed, releasing its locks",
    )


class ConsumerSettings(_Section):
    """The consumer loop (README "How it works")."""

    group_id: str = Field(default="convstream", description="Kafka consumer group")
    group_instance_id: str | None = Field(
        default=None, description="static group membership id, unique per process (restarts keep partitions)"
    )
    # 1,000: as fast as 5,000 per process, with a smaller batch in memory (RSS, BENCHMARKS.md).
    batch_max_events: int = Field(default=1000, ge=1, description="most events per batch")
    batch_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="most bytes per batch")
    # 100 ms: p99 event-to-row ≤ 500 ms at 5,000 events/s (BENCHMARKS.md); backlogs fill by events first.
    batch_max_ms: int = Field(default=100, ge=1, description="longest a batch waits to fill, in milliseconds")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="where a new group starts reading"
    )
    wedge_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="stop (exit 5) after this long without progress while work is pending",
    )
    retry_initial_seconds: float = Field(default=0.5, gt=0, description="first wait before retrying a batch")
    retry_max_seconds: float = Field(default=30.0, gt=0, description="longest wait between batch retries")
    shutdown_grace_seconds: float = Field(
        default=25.0, gt=0, description="on SIGTERM, time to finish the batch in flight"
    )
    ready_commit_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="/readyz turns 503 while a batch has waited this long to commit (e.g. writes blocked "
        "by a table lock, Postgres refusing writes); ready again after the next commit",
    )


PiiMode = Literal["keep", "drop", "hash"]


class PiiSettings(_Section):
    """What happens to personal data before anything is published (docs/security.md): keep, drop or hash.

    ``hash`` is HMAC-SHA256 with ``hash_key`` (hex digest), so the same number always maps to the same
    token but cannot be reversed or recomputed without the key.
    """

    address: PiiMode = Field(default="keep", description="participant addresses (phone numbers, e-mail)")
    ani: PiiMode = Field(default="keep", description="the caller's number in detail events")
    dnis: PiiMode = Field(default="keep", description="the dialled number in detail events")
    hash_key: SecretStr | None = Field(default=None, description="HMAC-SHA256 key, required by hash")

    @model_validator(mode="after")
    def _key_when_hashing(self) -> PiiSettings:
        hashing = "hash" in (self.address, self.ani, self.dnis)
        if hashing and (self.hash_key is None or not self.hash_key.get_secret_value()):
            raise ValueError("hash needs CONVSTREAM_GENESYS__PII__HASH_KEY (the HMAC key)")
        return self


class BackfillSettings(_Section):
    """Gap backfill from the Analytics conversation details API (docs/genesys.md)."""

    enabled: bool = Field(default=True, description="backfill every gap from the Analytics API")
    delay_seconds: float = Field(
        default=30.0, ge=0, description="wait after reconnecting, for analytics to catch up"
    )
    margin_seconds: float = Field(default=60.0, ge=0, description="widen every gap on both sides")
    startup_lookback_seconds: float = Field(default=3600.0, ge=0, description="the gap opened at start-up")
    job_threshold_seconds: float = Field(default=6 * 3600.0, gt=0, description="longer gaps use async jobs")
    page_size: int = Field(default=100, ge=1, le=100, description="details query page size")
    max_results: int = Field(default=100_000, ge=1, description="split sync queries with more hits than this")
    job_poll_seconds: float = Field(default=5.0, gt=0, description="how often to poll an async job")
    job_timeout_seconds: float = Field(default=1800.0, gt=0, description="give up on an async job after this")


class GenesysSettings(_Section):
    """Genesys Cloud OAuth client (client credentials), subscription scope and the WebSocket runtime."""

    region: str = Field(default="us-east-1", description="Genesys Cloud region (table in docs/genesys.md)")
    client_id: str | None = Field(default=None, description="OAuth client id (client credentials grant)")
    client_secret: SecretStr | None = Field(default=None, description="OAuth client secret")
    api_base_url: str | None = Field(
        default=None, description="override the region's API URL (proxies, tests)"
    )
    login_base_url: str | None = Field(
        default=None, description="override the region's login URL (proxies, tests)"
    )
    queue_ids: list[str] = Field(default_factory=list, description='queues to subscribe, JSON: ["id1","id2"]')
    user_ids: list[str] = Field(default_factory=list, description="users to subscribe, JSON list")
    all_queues: bool = Field(default=False, description="subscribe every queue of the org")
    detail_events: bool = Field(
        default=False, description="reserved: detail events need EventBridge and --source file"
    )
    topic_kind: Literal["generic", "media"] = Field(
        default="generic", description="one topic per queue or user, or one per media type"
    )
    media_types: list[str] = Field(
        default_factory=lambda: ["calls", "callbacks", "chats", "emails", "messages"],
        description="media topic suffixes for topic_kind media",
    )
    max_topics_per_channel: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="topics per WebSocket channel (more topics use more channels)",
    )
    max_channels: int = Field(default=20, ge=1, le=20, description="channels allowed per OAuth client")
    ping_seconds: float = Field(default=30.0, gt=0, description='send {"message":"ping"} this often')
    heartbeat_timeout_seconds: float = Field(
        default=90.0, gt=0, description="reconnect after this long without any message"
    )
    reconnect_initial_seconds: float = Field(default=1.0, gt=0, description="first reconnect wait")
    reconnect_max_seconds: float = Field(default=60.0, gt=0, description="longest reconnect wait")
    renew_before_seconds: float = Field(
        default=3600.0, gt=0, description="re-subscribe this long before the 24 h expiry"
    )
    request_timeout_seconds: float = Field(default=30.0, gt=0, description="HTTP and WebSocket open timeout")
    max_retries: int = Field(
        default=6, ge=0, description="retries per request on 429 (Retry-After honoured) and 5xx"
    )
    retry_initial_seconds: float = Field(default=1.0, gt=0, description="first retry wait (no Retry-After)")
    retry_max_seconds: float = Field(default=60.0, gt=0, description="longest retry wait")
    backfill: BackfillSettings = BackfillSettings()
    pii: PiiSettings = PiiSettings()


class BridgeSettings(_Section):
    """The bridge (README "How it works"): source selection and the producer."""

    source: Literal["genesys", "file", "simulator"] = Field(
        default="simulator", description="where messages come from when --source is not given"
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        default="lz4", description="producer compression"
    )
    linger_ms: int = Field(default=20, ge=0, description="how long the producer waits to fill a batch")
    queue_sync_seconds: float = Field(
        default=900.0, gt=0, description="genesys: re-read the queue directory this often"
    )


class ObservabilitySettings(_Section):
    """Logs, metrics and health endpoints."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="least log level"
    )
    log_format: Literal["auto", "json", "human"] = Field(
        default="auto", description="log lines on stderr (auto: human on a terminal, else json)"
    )
    # 0.0.0.0: a pod serves /metrics to Prometheus on all interfaces.
    metrics_host: str = Field(default="0.0.0.0", description="address of /metrics, /livez, /readyz")  # noqa: S104
    metrics_port: int = Field(
        default=9400, ge=0, le=65535, description="its port (the bridge's default is 9410; 0: any free port)"
    )


class _EnvWithoutFileVariables(EnvSettingsSource):
    """The environment minus ``*_FILE`` variables: those name files, read by :class:`_FileSecretsSource`."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in super()._load_env_vars().items() if not k.endswith("_file")}


class _FileSecretsSource(PydanticBaseSettingsSource):
    """``CONVSTREAM_X__Y_FILE=/path`` supplies ``x.y`` from the file's content (trailing newline dropped)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, path in os.environ.items():
            if not (name.startswith(ENV_PREFIX) and name.endswith("_FILE")):
                continue
            keys = name[len(ENV_PREFIX) : -len("_FILE")].lower().split(NESTED)
            try:
                content = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}", variable=name) from exc
            target = values
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = content
        return values


class Settings(BaseSettings):
    """The whole configuration of a convstream process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    schema_registry: SchemaRegistrySettings = SchemaRegistrySettings()
    postgres: PostgresSettings = PostgresSettings()
    consumer: ConsumerSettings = ConsumerSettings()
    genesys: GenesysSettings = GenesysSettings()
    bridge: BridgeSettings = BridgeSettings()
    observability: ObservabilitySettings = ObservabilitySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _EnvWithoutFileVariables(settings_cls), _FileSecretsSource(settings_cls))


def env_name(loc: tuple[str | int, ...]) -> str:
    """The environment variable for a settings location, e.g. ``("kafka", "extra")``."""
    return ENV_PREFIX + NESTED.join(str(part).upper() for part in loc)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise :class:`ConfigError` with one line naming the variable to fix."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = env_name(tuple(first["loc"]))
        raise ConfigError(f"invalid configuration: {variable}: {first['msg']}", variable=variable) from exc
