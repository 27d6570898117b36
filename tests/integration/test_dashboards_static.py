"""The Grafana dashboards without a server: structure (schema version, datasource variables, no hard-coded
datasource uid) and every PromQL expression parsed by `promtool check rules` (each wrapped as a recording
rule, Grafana's variables substituted). The live test (tests/e2e/test_dashboards_live.py) runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.promtool.helpers import (
    dashboards,
    panels,
    prom_queries,
    render_prom,
    render_sql,
    run_promtool,
    sql_queries,
)

pytestmark = pytest.mark.integration

VARIABLES = {
    "job": "convstream",
    "instance": ".*",
    "consumergroup": "g",
    "topic": "t",
    "bridge_job": "convstream-bridge",
}
DATASOURCE_VARIABLES = {"prometheus": "${DS_PROMETHEUS}", "grafana-postgresql-datasource": "${DS_POSTGRES}"}


def test_both_dashboards_exist() -> None:
    assert set(dashboards()) == {"pipeline.json", "conversations.json"}


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_structure(name: str) -> None:
    d = dashboards()[name]
    assert d["schemaVersion"] >= 36
    assert d["uid"].startswith("convstream-")
    inputs = {i["name"] for i in d["__inputs"]}
    variables = {v["name"]: v for v in d["templating"]["list"]}
    for needed in inputs:
        assert variables[needed]["type"] == "datasource"
    ids = [p["id"] for p in panels(d["panels"])]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels(d["panels"]):
        refs: list[Any] = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
        for ref in refs:
            if panel["type"] == "row" or ref is None:
                continue
            assert ref["uid"] == DATASOURCE_VARIABLES[ref["type"]], f"{name}: {panel['title']}: {ref}"
        if panel["type"] != "row":
            assert panel.get("targets"), f"{name}: {panel['title']} has no query"


def test_every_promql_expression_parses(tmp_path: Path) -> None:
    rules = []
    for name, d in dashboards().items():
        for i, (where, expr) in enumerate(prom_queries(d)):
            rules.append({"record": f"dashboard:{Path(name).stem}:{i}", "expr": render_prom(expr, VARIABLES)})
            assert where
    assert len(rules) > 20
    path = tmp_path / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_sql_query_renders() -> None:
    queries = [q for d in dashboards().values() for q in sql_queries(d)]
    assert len(queries) >= 8
    for _where, sql in queries:
        assert "$" not in render_sql(sql)
