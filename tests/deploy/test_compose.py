"""docker-compose.yml, checked without a Docker engine: structure, settings, mounts, pinned images."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.settings_model import ROOT, is_setting_env

COMPOSE = ROOT / "docker-compose.yml"
#: Mounted directories another work item fills; Docker creates a missing bind source as an empty dir.
PENDING_DIRS = {"helm/convstream/dashboards"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_the_stack_is_complete(compose: dict[str, Any]) -> None:
    expected = {
        "kafka",
        "schema-registry",
        "postgres",
        "migrate",
        "bridge",
        "consumer",
        "prometheus",
        "grafana",
    }
    assert expected <= set(compose["services"])


def test_every_convstream_variable_is_a_setting(compose: dict[str, Any]) -> None:
    names = {
        name for svc in compose["services"].values() for name in _env(svc) if name.startswith("CONVSTREAM_")
    }
    assert names
    assert not sorted(n for n in names if not is_setting_env(n))


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        image = svc.get("image")
        assert image, f"{name}: no image"
        repo, _, tag = image.rpartition(":")
        assert repo, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        if "build" not in svc:
            assert re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"


def _bind_sources(svc: dict[str, Any]) -> list[str]:
    sources = []
    for volume in svc.get("volumes", []):
        source = volume.get("source") if isinstance(volume, dict) else volume.split(":", 1)[0]
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def test_every_mounted_file_is_in_the_repository(compose: dict[str, Any]) -> None:
    mounted = [src for svc in compose["services"].values() for src in _bind_sources(svc)]
    assert mounted
    for source in mounted:
        path = (ROOT / source).resolve()
        relative = path.relative_to(ROOT).as_posix()
        assert relative not in ("", "."), "never mount the whole checkout"
        if relative in PENDING_DIRS and not path.exists():
            continue
        assert path.exists(), f"{source} is mounted but missing"


def test_mounted_configs_parse_and_point_inside_the_mounts(compose: dict[str, Any]) -> None:
    prom = yaml.safe_load((ROOT / "docs" / "compose-prometheus.yml").read_text())
    assert prom["rule_files"] == ["/etc/prometheus/rules/*.yaml"]
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    assert jobs["convstream"]["dns_sd_configs"][0]["names"] == ["consumer"]
    assert jobs["convstream"]["dns_sd_configs"][0]["port"] == 9400
    assert jobs["convstream-bridge"]["dns_sd_configs"][0]["names"] == ["bridge"]
    prom_mounts = compose["services"]["prometheus"]["volumes"]
    assert "./helm/convstream/rules:/etc/prometheus/rules:ro" in prom_mounts
    sources = yaml.safe_load((ROOT / "docs" / "compose-grafana-datasources.yml").read_text())
    assert {d["type"] for d in sources["datasources"]} == {"prometheus", "grafana-postgresql-datasource"}
    boards = yaml.safe_load((ROOT / "docs" / "compose-grafana-dashboards.yml").read_text())
    path = boards["providers"][0]["options"]["path"]
    assert f"./helm/convstream/dashboards:{path}:ro" in compose["services"]["grafana"]["volumes"]


def test_start_order_and_one_shot_steps(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        for dependency, rule in (svc.get("depends_on") or {}).items():
            condition = rule["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), (
                f"{name} -> {dependency}"
            )
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s healthcheck"
                assert not services[dependency]["healthcheck"].get("disable"), dependency
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    consumer = services["consumer"]
    assert consumer["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert consumer["command"] == ["consume"]


def test_consumers_are_replicated_without_host_ports(compose: dict[str, Any]) -> None:
    consumer = compose["services"]["consumer"]
    assert consumer["deploy"]["replicas"] == 2
    assert "ports" not in consumer, "replicas cannot share a host port"
    assert _env(consumer)["CONVSTREAM_OBSERVABILITY__METRICS_PORT"] == "9400"


def test_bridge_runs_the_simulator_by_default(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]
    assert bridge["command"][0] == "bridge"
    assert _env(bridge)["CONVSTREAM_BRIDGE__SOURCE"] == "simulator"


def test_bridge_is_a_live_contact_center_that_keeps_running(compose: dict[str, Any]) -> None:
    """The simulator runs in real time until stopped, restarted if it dies, health-checked on 9410."""
    from consumer.cli import build_parser
    from consumer.commands import bridge as bridge_command

    bridge = compose["services"]["bridge"]
    args = build_parser().parse_args(bridge["command"])
    options = bridge_command._simulation_options(args)
    assert options.realtime
    assert options.unbounded, "no stopping flag: it runs until stopped"
    assert bridge_command._check_usage(args, "simulator") is None
    assert bridge["restart"] == "unless-stopped"
    assert not bridge.get("healthcheck", {}).get("disable"), "the image's /livez check applies"
    assert _env(bridge)["CONVSTREAM_OBSERVABILITY__METRICS_PORT"] == "9410"


def test_convstream_containers_are_locked_down(compose: dict[str, Any]) -> None:
    for name in ("migrate", "topics", "bridge", "consumer"):
        svc = compose["services"][name]
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "/tmp" in svc["tmpfs"], name
        assert svc["build"] == ".", name


def test_no_secret_looking_literal_beyond_the_local_demo(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for key, value in _env(svc).items():
            if key.endswith(("PASSWORD", "SECRET", "HASH_KEY")) and name != "grafana":
                pytest.fail(f"{name}: {key}={value}: use *_FILE and a compose secret instead")
