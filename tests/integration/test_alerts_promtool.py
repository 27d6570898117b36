"""The alert rules: `promtool check rules`, `promtool test rules` (every alert fires and stays quiet in
tests/promtool/convstream.rules.test.yaml), annotations and runbook sections. promtool comes from the
devstack (Debian's prometheus package); a missing promtool fails, never skips."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.promtool.helpers import RULES, RUNBOOK, TESTS, run_promtool

pytestmark = pytest.mark.integration


def _alerts() -> list[dict[str, object]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules() -> None:
    result = run_promtool("test", "rules", TESTS.name, cwd=TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    doc = yaml.safe_load(TESTS.read_text())
    cases = [case for test in doc["tests"] for case in test["alert_rule_test"]]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    names = {str(a["alert"]) for a in _alerts()}
    assert names - firing == set(), "alerts without a firing test"
    assert names - quiet == set(), "alerts without a not-firing test"


def _anchors() -> set[str]:
    out = set()
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_every_alert_is_documented_with_a_runbook_section() -> None:
    anchors = _anchors()
    for alert in _alerts():
        annotations = alert["annotations"]
        assert isinstance(annotations, dict)
        for key in ("summary", "description", "runbook_url"):
            assert annotations.get(key), f"{alert['alert']}: no {key}"
        page, _, anchor = str(annotations["runbook_url"]).partition("#")
        assert page == "docs/runbook.md", alert["alert"]
        assert anchor in anchors, f"{alert['alert']}: no section #{anchor} in docs/runbook.md"
        labels = alert.get("labels", {})
        assert isinstance(labels, dict), alert["alert"]
        assert labels.get("severity") in ("warning", "critical"), alert["alert"]
