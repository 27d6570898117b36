"""The wiring of the consumer loop: the adapters (Kafka, schema registry, PostgreSQL, dead-letter topic)
plugged into a :class:`~consumer.consume.pipeline.Pipeline`.

``convstream consume`` and ``convstream rebuild`` both build their loop here, so a rebuild folds exactly
as the running consumers do.
"""

from __future__ import annotations

from contextlib import ExitStack

from prometheus_client import CollectorRegistry

from consumer.adapters.kafka.client import KafkaProducerAdapter
from consumer.adapters.kafka.consumer import KafkaConsumerAdapter
from consumer.adapters.postgres.store import PostgresStore
from consumer.adapters.schema_registry import EventDeserializer, SchemaRegistry
from consumer.consume.dlq import DeadLetterQueue
from consumer.consume.pipeline import Pipeline
from consumer.consume.pipeline_support import PipelineConfig, Sink
from consumer.consume.replay_watch import replay_watch
from consumer.observability.health import HealthState
from consumer.observability.metrics import ConsumerMetrics
from consumer.settings import BridgeSettings, Settings

__all__ = ["build_pipeline"]


def build_pipeline(
    settings: Settings,
    stack: ExitStack,
    group_id: str | None = None,
    *,
    observe: tuple[ConsumerMetrics, HealthState, CollectorRegistry] | None = None,
) -> tuple[Pipeline, PostgresStore, HealthState, CollectorRegistry]:
    """Wire the adapters into a pipeline; everything opened is closed by ``stack``.

    ``observe``: the metrics, health state and their registry (default: fresh ones).
    """
    registry = SchemaRegistry(settings.schema_registry)
    stack.callback(registry.close)
    store = stack.enter_context(PostgresStore(settings.postgres))
    producer = KafkaProducerAdapter(
        settings.kafka, BridgeSettings(linger_ms=5), overrides={"message.timeout.ms": "60000"}
    )
    stack.callback(producer.close)
    config = PipelineConfig.from_settings(settings.consumer, settings.topics, group_id)
    source = KafkaConsumerAdapter(settings.kafka, settings.consumer, group_id=config.group_id)
    if observe is None:
        prom = CollectorRegistry()
        observe = (ConsumerMetrics.create(prom), HealthState(), prom)
    metrics, health, prom = observe
    pipeline = Pipeline(
        source,
        Sink(store, DeadLetterQueue(producer, settings.topics.dlq)),
        (EventDeserializer(registry), registry.writer_schema),
        config,
        (metrics, health),
        replay_changed=replay_watch(settings, stack, config.group_id),
    )
    return pipeline, store, health, prom
