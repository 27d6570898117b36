"""Shared pytest configuration. Service fixtures (real Kafka, schema registry, PostgreSQL, Prometheus:
env vars -> testcontainers -> scripts/devstack) live in tests/fixtures/services.py."""

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.e2e"]
