"""``convstream consume`` start-up checks that need no services."""

from __future__ import annotations

import logging

import pytest

from consumer.commands.consume import warn_uneven_assignment
from consumer.settings import Settings, TopicSettings


def test_a_multi_partition_queues_topic_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(topics=TopicSettings(events="ev", queues="qu"))
    with caplog.at_level(logging.WARNING, logger="consumer.commands.consume"):
        assert warn_uneven_assignment({"ev": 12, "qu": 12}, settings)
    (record,) = caplog.records
    assert "CONVSTREAM_TOPICS__QUEUES_PARTITIONS" in record.getMessage()
    assert (record.topic, record.partitions, record.events_partitions) == ("qu", 12, 12)  # type: ignore[attr-defined]


@pytest.mark.parametrize("partitions", [{"ev": 12, "qu": 1}, {"ev": 12}])
def test_one_queues_partition_or_none_yet_is_fine(
    partitions: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(topics=TopicSettings(events="ev", queues="qu"))
    with caplog.at_level(logging.WARNING):
        assert not warn_uneven_assignment(partitions, settings)
    assert caplog.records == []


def test_the_queues_topic_is_created_with_one_partition_by_default() -> None:
    assert TopicSettings().queues_partitions == 1
    assert TopicSettings().partitions == 12
