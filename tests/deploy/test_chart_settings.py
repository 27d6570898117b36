"""Every variable the chart sets is a real convstream setting, and the values schema matches the model.

Env names come from the rendered manifests: ConfigMap keys (envFrom), container ``env:`` names, and the
``*_FILE`` variables that map Secret keys to settings. The ``config`` section of values.schema.json is
generated from :class:`consumer.settings.Settings` (``python -m tests.deploy.settings_model --write``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.settings import Settings, load_settings
from tests.deploy.conftest import CHART_TEST_TIMEOUT_SECONDS, Render, by_kind, containers, pod_spec
from tests.deploy.settings_model import (
    CHART_MANAGED,
    SCHEMA_PATH,
    config_schema,
    is_setting_env,
    leaf_fields,
    secret_env_names,
)

pytestmark = pytest.mark.timeout(CHART_TEST_TIMEOUT_SECONDS)

SECRET_DIR = "/var/run/secrets/convstream/"


def _config_maps(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chart's settings ConfigMaps (not the dashboards)."""
    return [d for d in by_kind(docs, "ConfigMap") if "grafana_dashboard" not in d["metadata"]["labels"]]


def _env_names(docs: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for cm in _config_maps(docs):
        for key in cm.get("data") or {}:
            yield f"ConfigMap/{cm['metadata']['name']}", key
    for doc in docs:
        for container in containers(doc):
            for entry in container.get("env", []):
                yield f"{doc['kind']}/{doc['metadata']['name']}", entry["name"]


def test_every_env_var_is_a_setting(render: Render, ci_values: Path) -> None:
    names = list(_env_names(render(ci_values)))
    assert names
    unknown = sorted({f"{where}: {name}" for where, name in names if not is_setting_env(name)})
    assert not unknown, "not a field of consumer.settings.Settings:\n" + "\n".join(unknown)


def test_secrets_never_in_a_config_map(render: Render, ci_values: Path) -> None:
    secret_names = secret_env_names()
    for cm in _config_maps(render(ci_values)):
        assert not secret_names & set(cm.get("data") or {}), cm["metadata"]["name"]


def test_every_file_variable_points_at_a_projected_secret_key(render: Render, ci_values: Path) -> None:
    docs = render(ci_values)
    chart_secrets = {d["metadata"]["name"]: d for d in by_kind(docs, "Secret")}
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        projected = {
            SECRET_DIR + item["path"]: (source["secret"]["name"], item["key"])
            for volume in spec.get("volumes", [])
            if volume["name"] == "convstream-secrets"
            for source in volume["projected"]["sources"]
            for item in source["secret"]["items"]
        }
        for container in containers(doc):
            for entry in container.get("env", []):
                if not entry["name"].endswith("_FILE"):
                    continue
                where = f"{doc['kind']}/{doc['metadata']['name']} {entry['name']}"
                assert entry["name"][: -len("_FILE")] in secret_env_names(), where
                assert entry["value"] in projected, f"{where}: {entry['value']} is not mounted"
                secret, key = projected[entry["value"]]
                if secret in chart_secrets:
                    assert key in chart_secrets[secret]["data"], f"{where}: {secret} has no key {key}"


def test_every_secret_setting_can_be_wired(render: Render, tmp_path: Path) -> None:
    """With a value for every `secrets` entry, each SecretStr setting reaches some pod as *_FILE."""
    schema = json.loads(SCHEMA_PATH.read_text())
    entries = schema["properties"]["secrets"]["properties"]
    values = {
        "secrets": {
            name: {"value": f"v-{name}", "existingSecret": "", "key": name.lower()} for name in entries
        }
    }
    path = tmp_path / "all-secrets-values.yaml"
    path.write_text(
        yaml.safe_dump({**values, "jobs": [{"name": "all", "args": ["status"], "genesys": True}]})
    )
    wired = {name for _, name in _env_names(render(path)) if name.endswith("_FILE")}
    assert wired == {f"{name}_FILE" for name in secret_env_names()}


def test_values_schema_config_is_the_settings_model() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["properties"]["config"] == config_schema(), (
        "helm/convstream/values.schema.json is stale: "
        "run .venv/bin/python -m tests.deploy.settings_model --write"
    )
    # 1:1: every leaf setting is in `config`, in `secrets`, or set by the chart itself.
    config_paths: set[tuple[str, ...]] = set()

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, sub in node["properties"].items():
            if sub.get("additionalProperties") is False and "properties" in sub:
                walk(sub, (*path, key))
            else:
                config_paths.add((*path, key))

    walk(schema["properties"]["config"], ())
    secret_paths = {p for p, f in leaf_fields() if "SecretStr" in str(f.annotation)}
    assert config_paths | secret_paths | set(CHART_MANAGED) == {p for p, _ in leaf_fields()}


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Load the settings from exactly ``env`` (``*_FILE`` paths redirected to temporary files)."""
    import os

    for name in list(os.environ):
        if name.startswith("CONVSTREAM_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.endswith("_FILE"):
            target = tmp_path / Path(value).name
            secret = "postgresql://u:p@h:5432/d" if "DSN" in name else "s3cret"
            target.write_text(secret + "\n")
            value = str(target)
        monkeypatch.setenv(name, value)
    return load_settings()


def test_rendered_environment_loads(
    render: Render, ci_values: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What each container would see (ConfigMap + env) is accepted by load_settings()."""
    docs = render(ci_values)
    maps = {cm["metadata"]["name"]: cm.get("data") or {} for cm in _config_maps(docs)}
    for doc in docs:
        for container in containers(doc):
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                env.update(maps[source["configMapRef"]["name"]])
            for entry in container.get("env", []):
                if "value" in entry:
                    env[entry["name"]] = entry["value"]
                elif entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                    env[entry["name"]] = f"{doc['metadata']['name']}-0"
            settings = _settings_from(env, monkeypatch, tmp_path)
            assert isinstance(settings, Settings)
            if "CONVSTREAM_OBSERVABILITY__METRICS_PORT" in env and container.get("ports"):
                assert settings.observability.metrics_port == container["ports"][0]["containerPort"]
