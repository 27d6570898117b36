"""The bridge registers its subjects BACKWARD_TRANSITIVE, like ``convstream schemas register``."""

from __future__ import annotations

import pytest

from consumer.adapters.schema_registry import BACKWARD_TRANSITIVE, SchemaRegistry, subject_for
from consumer.settings import SchemaRegistrySettings
from tests.fixtures.e2e import E2EStack

pytestmark = pytest.mark.integration


def test_the_bridge_keeps_its_subjects_backward_transitive(e2e: E2EStack) -> None:
    """Whoever registers first, the subjects never stay at the registry's default level (e.g. NONE)."""
    registry = SchemaRegistry(SchemaRegistrySettings(url=e2e.registry))
    try:
        # A subject someone else created at the default level is set when the bridge registers again.
        from consumer.codec.schemas import QUEUE, schema_text

        registry.register(subject_for(e2e.queues), schema_text(QUEUE))
        registry.set_compatibility(subject_for(e2e.queues), "NONE")
        sim = e2e.simulate(seed=18, conversations=3)
        e2e.bridge(sim.out, queues=sim.queues)
        for topic in (e2e.events, e2e.queues):
            assert registry.compatibility(subject_for(topic)) == BACKWARD_TRANSITIVE
    finally:
        registry.close()
