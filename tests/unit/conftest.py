"""Unit tier: load the Hypothesis profile (quick by default, full under ``make test``) before any test."""

from tests.unit import hypothesis_budget  # noqa: F401 - importing it loads the profile
