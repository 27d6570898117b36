"""The helm chart: lint, render and validate offline for every ci/*-values.yaml (docs/deployment.md).

Rendered manifests are checked against the Kubernetes OpenAPI schemas of a pinned version with
kubernetes-validate in strict mode (unknown fields are errors). Custom resources have no bundled schema;
they are listed in CRD_KINDS and checked structurally instead.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import (
    CHART_TEST_TIMEOUT_SECONDS,
    KUBE_VERSION,
    Helm,
    HelmError,
    Render,
    by_kind,
    containers,
    named,
    pod_spec,
)
from tests.deploy.settings_model import CHART, ROOT

pytestmark = pytest.mark.timeout(CHART_TEST_TIMEOUT_SECONDS)

#: Custom resources (no schema in kubernetes-validate): skipped by the schema check, tested below.
CRD_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "ScaledObject": "keda.sh/v1alpha1",
}
CI = CHART / "ci"


def test_lint_strict(helm: Helm, ci_values: Path) -> None:
    done = helm("lint", str(CHART), "--strict", "-f", str(ci_values), "--kube-version", KUBE_VERSION)
    assert "0 chart(s) failed" in done.stdout, done.stdout


def test_every_manifest_is_valid_for_the_pinned_kubernetes(render: Render, ci_values: Path) -> None:
    docs = render(ci_values)
    assert docs, "nothing rendered"
    checked = 0
    for doc in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind in CRD_KINDS:
            assert doc["apiVersion"] == CRD_KINDS[kind]
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind}/{name}: {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 5


def test_the_validator_is_strict(render: Render) -> None:
    """Guards the check above: an unknown field and a wrong type are both reported."""
    deployment = named(render(CI / "defaults-values.yaml"), "Deployment", "-consumer")
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    for bad in (unknown, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)


def test_pods_are_locked_down(render: Render, ci_values: Path) -> None:
    for doc in render(ci_values):
        spec = pod_spec(doc)
        if spec is None:
            continue
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in containers(doc):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert container.get("resources", {}).get("requests"), where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: a read-only root FS needs a writable /tmp"


def _probe_paths(container: dict[str, Any]) -> dict[str, str]:
    return {p: container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}


def test_probes_on_the_health_endpoints(render: Render) -> None:
    docs = render(CI / "defaults-values.yaml")
    expected = {"startupProbe": "/livez", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
    consumer = named(docs, "Deployment", "-consumer")["spec"]["template"]["spec"]["containers"][0]
    bridge = named(docs, "Deployment", "-bridge")["spec"]["template"]["spec"]["containers"][0]
    assert _probe_paths(consumer) == expected
    assert _probe_paths(bridge) == expected
    assert consumer["ports"][0]["containerPort"] == 9400
    assert bridge["ports"][0]["containerPort"] == 9410
    assert consumer["args"] == ["consume"]
    assert bridge["args"] == ["bridge", "--source", "genesys"]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_statefulset_static_membership(render: Render) -> None:
    docs = render(CI / "statefulset-values.yaml")
    sts = named(docs, "StatefulSet", "-consumer")
    env = _env(sts["spec"]["template"]["spec"]["containers"][0])
    assert env["CONVSTREAM_CONSUMER__GROUP_INSTANCE_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    service = named(docs, "Service", "-consumer")
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert "replicas" not in sts["spec"], "KEDA owns the replica count"
    assert sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 180
    assert not by_kind(docs, "Deployment") or all(
        not d["metadata"]["name"].endswith("-consumer") for d in by_kind(docs, "Deployment")
    )
    # A Deployment never gets a shared group.instance.id (members would fence each other).
    deployment = named(render(CI / "defaults-values.yaml"), "Deployment", "-consumer")
    pod = deployment["spec"]["template"]["spec"]
    assert "CONVSTREAM_CONSUMER__GROUP_INSTANCE_ID" not in _env(pod["containers"][0])


def test_keda_scaled_object_capped_at_partitions(render: Render) -> None:
    docs = render(CI / "keda-values.yaml")
    scaled = named(docs, "ScaledObject", "-consumer")
    spec = scaled["spec"]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cs-convstream-consumer"}
    assert spec["scaleTargetRef"] == target
    assert spec["maxReplicaCount"] == 6, "maxReplicas 24 capped at the 6 partitions"
    assert spec["minReplicaCount"] == 2
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    assert "convstream_consumer_lag_records" in query
    assert "max by (consumergroup, topic, partition)" in query, "every replica exports every partition"
    assert 'consumergroup="convstream"' in query
    assert 'topic="genesys.conversation.events"' in query
    assert trigger["metadata"]["threshold"] == "10000"
    assert "replicas" not in named(docs, "Deployment", "-consumer")["spec"]


def test_keda_kafka_trigger_on_the_statefulset(render: Render) -> None:
    spec = named(render(CI / "statefulset-values.yaml"), "ScaledObject", "-consumer")["spec"]
    assert spec["scaleTargetRef"]["kind"] == "StatefulSet"
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "convstream-prod"
    assert trigger["metadata"]["allowIdleConsumers"] == "false"
    assert spec["maxReplicaCount"] == 12


def test_hpa_alternative(render: Render) -> None:
    hpa = named(render(CI / "simulator-values.yaml"), "HorizontalPodAutoscaler", "-consumer")
    assert hpa["spec"]["maxReplicas"] == 4
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300


def test_keda_and_hpa_are_exclusive(helm: Helm) -> None:
    with pytest.raises(HelmError, match="mutually exclusive"):
        helm(
            "template",
            "x",
            str(CHART),
            "--set",
            "autoscaling.keda.enabled=true",
            "--set",
            "autoscaling.hpa.enabled=true",
        )


def test_migrate_hook_uses_the_migration_dsn(render: Render) -> None:
    docs = render(CI / "statefulset-values.yaml")
    job = named(docs, "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    hook_secret = named(docs, "Secret", "-migrate")
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    secret_weight = int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert secret_weight < int(annotations["helm.sh/hook-weight"])
    assert set(hook_secret["data"]) == {"postgres-dsn", "postgres-migration-dsn"}
    pod = job["spec"]["template"]["spec"]
    env = _env(pod["containers"][0])
    migration_dsn = "/var/run/secrets/convstream/postgresMigrationDsn"
    assert env["CONVSTREAM_POSTGRES__MIGRATION_DSN_FILE"] == migration_dsn
    assert "CONVSTREAM_POSTGRES__STATEMENT_TIMEOUT_SECONDS" in env, "inline: no ConfigMap before install"
    assert "envFrom" not in pod["containers"][0]
    (secrets,) = [v for v in pod["volumes"] if v["name"] == "convstream-secrets"]
    assert {s["secret"]["name"] for s in secrets["projected"]["sources"]} == {hook_secret["metadata"]["name"]}
    assert pod["serviceAccountName"] == "default", "the chart's ServiceAccount does not exist before install"
    # Runtime pods never see the DDL role.
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for container in containers(doc):
                assert "CONVSTREAM_POSTGRES__MIGRATION_DSN_FILE" not in _env(container)
    release_secret = named(docs, "Secret", "cs-convstream")
    assert "postgres-migration-dsn" in release_secret["data"]


def test_migrate_as_a_plain_job(render: Render) -> None:
    docs = render(CI / "simulator-values.yaml")
    job = named(docs, "Job", "-migrate")
    assert "annotations" not in job["metadata"]
    assert not [d for d in by_kind(docs, "Secret") if d["metadata"]["name"].endswith("-migrate")]


def test_realtime_simulator_bridge_keeps_running(render: Render) -> None:
    """The chart's simulator values run a live contact center: one long-running pod, probed and scraped."""
    docs = render(CI / "simulator-values.yaml")
    deployment = named(docs, "Deployment", "-bridge")
    assert deployment["spec"]["replicas"] == 1, "one real-time simulator is one contact center"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:4] == ["bridge", "--source", "simulator", "--realtime"]
    assert "--conversations" not in container["args"], "a live run lasts until stopped"
    expected = {"startupProbe": "/livez", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
    assert _probe_paths(container) == expected
    assert "restartPolicy" not in deployment["spec"]["template"]["spec"]
    service = named(docs, "Service", "-bridge")
    assert service["metadata"]["labels"]["convstream.io/job"] == "convstream-bridge"
    assert not [d for d in by_kind(docs, "Job") if d["metadata"]["name"].endswith("-bridge")]


def test_finite_simulator_bridge_is_a_job(render: Render, tmp_path: Path) -> None:
    values = tmp_path / "finite-simulator-values.yaml"
    values.write_text(
        yaml.safe_dump({"bridge": {"source": "simulator", "extraArgs": ["--conversations", "5000"]}})
    )
    docs = render(values)
    job = named(docs, "Job", "-bridge")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["bridge", "--source", "simulator", "--conversations", "5000"]
    kinds = ("Deployment", "Service", "PodDisruptionBudget")
    assert not [d for d in docs if d["kind"] in kinds and d["metadata"]["name"].endswith("-bridge")]


def test_existing_secrets_only(render: Render) -> None:
    docs = render(CI / "existing-secrets-values.yaml")
    assert not by_kind(docs, "Secret"), "every secret comes from an existing Secret"
    consumer = named(docs, "Deployment", "-consumer")["spec"]["template"]["spec"]
    (volume,) = [v for v in consumer["volumes"] if v["name"] == "convstream-secrets"]
    sources = {(s["secret"]["name"], s["secret"]["items"][0]["key"]) for s in volume["projected"]["sources"]}
    assert sources == {
        ("convstream-db", "runtime-dsn"),
        ("convstream-kafka", "password"),
        ("convstream-registry", "password"),
    }
    bridge = named(docs, "Deployment", "-bridge")["spec"]["template"]["spec"]
    bridge_env = _env(bridge["containers"][0])
    assert "CONVSTREAM_GENESYS__CLIENT_SECRET_FILE" in bridge_env
    assert "CONVSTREAM_POSTGRES__DSN_FILE" not in bridge_env, "the bridge never touches Postgres"
    assert "CONVSTREAM_GENESYS__CLIENT_SECRET_FILE" not in _env(consumer["containers"][0])
    # The genesys settings (PII mode "hash" needs the key) reach the bridge only.
    consumer_maps = [s["configMapRef"]["name"] for s in consumer["containers"][0]["envFrom"]]
    bridge_maps = [s["configMapRef"]["name"] for s in bridge["containers"][0]["envFrom"]]
    assert consumer_maps == ["cs-convstream"]
    assert bridge_maps == ["cs-convstream", "cs-convstream-genesys"]
    assert all(not e["name"].endswith("_FILE") or "value" in e for e in consumer["containers"][0]["env"])
    job_names = {d["metadata"]["name"] for d in by_kind(docs, "Job")}
    expected_jobs = {"backfill", "status", "dlq-replay"}
    assert {f"cs-convstream-job-{name}" for name in expected_jobs} <= job_names
    policy = named(docs, "NetworkPolicy", "cs-convstream")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


MIGRATION_DSN_FILE = "CONVSTREAM_POSTGRES__MIGRATION_DSN_FILE"


def _job_container(job: dict[str, Any]) -> dict[str, Any]:
    containers_: list[dict[str, Any]] = job["spec"]["template"]["spec"]["containers"]
    (container,) = containers_
    return container


def test_replay_jobs_run_once_with_the_runtime_dsn(render: Render) -> None:
    docs = render(CI / "jobs-values.yaml")
    for suffix, args in [
        (
            "-job-replay-2025-03-01",
            [
                *("replay", "--to-datetime", "2025-03-01T00:00:00Z"),
                *("--partitions", "0,3", "--execute", "--coordinate"),
            ],
        ),
        ("-job-replay-shift-1", ["replay", "--shift-by", "-5000", "--execute"]),
    ]:
        job = named(docs, "Job", suffix)
        assert job["metadata"]["labels"]["convstream.io/job-kind"] == "replay"
        assert job["spec"]["backoffLimit"] == 0, "--shift-by is not idempotent: never retried"
        assert "ttlSecondsAfterFinished" not in job["spec"], "helm would recreate a TTL-deleted Job"
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        container = _job_container(job)
        assert container["args"] == args
        assert "ports" not in container, "no metrics port"
        env = _env(container)
        assert MIGRATION_DSN_FILE not in env, "replay uses the runtime role only"
        assert env["CONVSTREAM_POSTGRES__DSN_FILE"] == "/var/run/secrets/convstream/postgresDsn"
        assert env["CONVSTREAM_KAFKA__SASL_PASSWORD_FILE"] == "/var/run/secrets/convstream/kafkaSaslPassword"
        assert "CONVSTREAM_OBSERVABILITY__METRICS_PORT" not in env
        assert "CONVSTREAM_GENESYS__CLIENT_SECRET_FILE" not in env
        # Group id and topics come from the settings ConfigMap, as for the consumer.
        assert [s["configMapRef"]["name"] for s in container["envFrom"]] == ["cs-convstream"]
    settings = named(docs, "ConfigMap", "cs-convstream")["data"]
    assert settings["CONVSTREAM_CONSUMER__GROUP_ID"] == "convstream-prod"
    assert settings["CONVSTREAM_TOPICS__EVENTS"] == "genesys.conversation.events"


def test_rebuild_jobs_get_the_migration_dsn(render: Render) -> None:
    docs = render(CI / "jobs-values.yaml")
    consumer = named(docs, "Deployment", "-consumer")["spec"]["template"]["spec"]
    for suffix, args in [
        ("-job-rebuild-v7", ["rebuild", "--compare", "200", "--keep-old", "--catch-up-timeout", "300"]),
        ("-job-rebuild-v7-rollback", ["rebuild", "--rollback"]),
    ]:
        job = named(docs, "Job", suffix)
        assert job["metadata"]["labels"]["convstream.io/job-kind"] == "rebuild"
        assert job["spec"]["backoffLimit"] == 0
        assert job["spec"]["activeDeadlineSeconds"] == 604800, "a rebuild reads the whole topic"
        assert "ttlSecondsAfterFinished" not in job["spec"]
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert pod["terminationGracePeriodSeconds"] == consumer["terminationGracePeriodSeconds"]
        container = _job_container(job)
        assert container["args"] == args
        assert "ports" not in container
        assert container["resources"] == consumer["containers"][0]["resources"], "sized like a consumer pod"
        env = _env(container)
        assert env[MIGRATION_DSN_FILE] == "/var/run/secrets/convstream/postgresMigrationDsn"
        assert "CONVSTREAM_POSTGRES__DSN_FILE" in env
        assert "CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_PASSWORD_FILE" in env
        assert "CONVSTREAM_GENESYS__CLIENT_SECRET_FILE" not in env
        (secrets,) = [v for v in pod["volumes"] if v["name"] == "convstream-secrets"]
        sources = secrets["projected"]["sources"]
        items = {(s["secret"]["name"], s["secret"]["items"][0]["key"]) for s in sources}
        assert ("cs-convstream", "postgres-migration-dsn") in items, "the release Secret (not the hook's)"


def test_the_migration_dsn_reaches_migrate_and_rebuild_only(render: Render) -> None:
    docs = render(CI / "jobs-values.yaml")
    holders = {
        doc["metadata"]["name"]
        for doc in docs
        for container in containers(doc)
        if MIGRATION_DSN_FILE in _env(container)
    }
    rebuilds = {"cs-convstream-job-rebuild-v7", "cs-convstream-job-rebuild-v7-rollback"}
    assert holders == {"cs-convstream-migrate", *rebuilds}


def test_typed_backfill_and_command_jobs(render: Render) -> None:
    docs = render(CI / "jobs-values.yaml")
    backfill = named(docs, "Job", "-job-backfill-2025-03-01")
    container = _job_container(backfill)
    assert container["args"][0] == "backfill"
    assert "CONVSTREAM_GENESYS__CLIENT_SECRET_FILE" in _env(container)
    maps = [s["configMapRef"]["name"] for s in container["envFrom"]]
    assert maps == ["cs-convstream", "cs-convstream-genesys"]
    status = named(docs, "Job", "-job-status-1")
    assert _job_container(status)["args"] == ["status"], "kind command (the default): args as given"
    assert status["spec"]["ttlSecondsAfterFinished"] == 3600
    assert status["spec"]["backoffLimit"] == 2
    assert MIGRATION_DSN_FILE not in _env(_job_container(status))
    # The backfill block renders as a typed backfill job (existing-secrets-values.yaml enables it).
    block = named(render(CI / "existing-secrets-values.yaml"), "Job", "-job-backfill")
    assert _job_container(block)["args"][:3] == ["backfill", "--from", "2025-01-01T00:00:00Z"]


def test_the_reprocessing_docs_snippet_renders(render: Render, tmp_path: Path) -> None:
    """The values snippet of docs/reprocessing.md ("On Kubernetes") passes the schema and renders."""
    text = (ROOT / "docs" / "reprocessing.md").read_text()
    section = text[text.index("## On Kubernetes") :]
    snippet = section[
        section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", section.index("```yaml"))
    ]
    values = tmp_path / "reprocess-values.yaml"
    values.write_text(snippet)
    docs = render(values)
    jobs = {d["metadata"]["name"]: d for d in by_kind(docs, "Job")}
    assert {"cs-convstream-job-replay-2025-03-01", "cs-convstream-job-rebuild-v7"} <= set(jobs)
    for job in jobs.values():
        kubernetes_validate.validate(job, KUBE_VERSION, strict=True)


def test_grace_period_covers_batch_and_commit(render: Render, tmp_path: Path) -> None:
    """shutdown_grace_seconds + statement_timeout_seconds + 15 s (README: Graceful shutdown)."""
    from consumer.settings import Settings

    defaults = Settings()
    expected = defaults.consumer.shutdown_grace_seconds + defaults.postgres.statement_timeout_seconds + 15
    deployment = named(render(CI / "defaults-values.yaml"), "Deployment", "-consumer")
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == expected
    values = tmp_path / "grace-values.yaml"
    config = {"consumer": {"shutdown_grace_seconds": 40.5}, "postgres": {"statement_timeout_seconds": 90}}
    values.write_text(yaml.safe_dump({"config": config}))
    pod = named(render(values), "Deployment", "-consumer")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 146  # ceil(40.5 + 90 + 15)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"consumer": {"replicaz": 2}}, "additional properties 'replicaz' not allowed"),
        ({"config": {"kafka": {"bootstrap_server": "x:9092"}}}, "additional properties 'bootstrap_server'"),
        ({"bogus": True}, "additional properties 'bogus' not allowed"),
        ({"consumer": {"replicas": "two"}}, "got string, want integer"),
        ({"config": {"consumer": {"batch_max_events": "many"}}}, "got string, want null or integer"),
        ({"config": {"kafka": {"security_protocol": "TLS"}}}, "value must be one of"),
        ({"securityContext": {"readOnlyRootFileSystem": True}}, "readOnlyRootFileSystem"),
        ({"secrets": {"postgresDsn": "postgresql://x"}}, "got string, want object"),
        ({"bridge": {"source": "file"}}, "value must be one of"),
        ({"jobs": [{"name": "r", "kind": "reindex", "args": ["x"]}]}, "value must be one of"),
        ({"jobs": [{"name": "r", "kind": "replay", "args": ["--execute"]}]}, "no items match contains"),
        (
            {"jobs": [{"name": "r", "kind": "replay", "args": ["--shift-by", "-5"], "backoffLimit": 1}]},
            "backoffLimit': value must be 0",
        ),
        ({"jobs": [{"name": "r", "kind": "rebuild", "ttlSecondsAfterFinished": 60}]}, "/ttlSecondsAfter"),
        ({"jobs": [{"name": "r", "kind": "rebuild", "args": ["rebuild", "--keep-old"]}]}, "/jobs/0/args"),
        ({"jobs": [{"name": "r", "kind": "rebuild", "genesys": True}]}, "/jobs/0"),
        ({"jobs": [{"name": "r"}]}, "missing property 'args'"),
    ],
    ids=[
        "unknown-key",
        "unknown-setting",
        "unknown-top-level",
        "wrong-type",
        "wrong-setting-type",
        "bad-enum",
        "typo-in-security-context",
        "secret-not-an-object",
        "bridge-source-file",
        "job-bad-kind",
        "replay-without-target",
        "replay-retried",
        "rebuild-with-ttl",
        "rebuild-subcommand-twice",
        "rebuild-genesys",
        "command-without-args",
    ],
)
def test_bad_values_are_rejected_by_the_schema(
    helm: Helm, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad-values.yaml"
    path.write_text(yaml.safe_dump(values))
    done = helm("template", "x", str(CHART), "-f", str(path), "--kube-version", KUBE_VERSION, check=False)
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr, done.stderr
    assert message in done.stderr, done.stderr


def test_schema_is_self_contained_draft07() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    refs: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            types = node.get("type")
            if types == "object" or (isinstance(types, list) and "object" in types):
                opaque = where.endswith(("k8sObject", "k8sList/items", "valueFrom", "global"))
                assert opaque or "additionalProperties" in node, f"{where}: additionalProperties unset"
            for key, value in node.items():
                if key == "$ref":
                    refs.append(value)
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(schema, "")
    assert refs
    assert all(ref.startswith("#/definitions/") for ref in refs), "no remote $ref (offline helm)"


def _dashboards(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["labels"].get("grafana_dashboard") == "1"]


def _chart_copy(tmp_path: Path) -> Path:
    chart = tmp_path / "convstream"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("ci"))
    return chart


def test_dashboards_and_rules_files_are_packaged(render: Render, tmp_path: Path) -> None:
    """Whatever lands in dashboards/*.json and rules/*.yaml is shipped (a copy of the chart with samples)."""
    chart = _chart_copy(tmp_path)
    (chart / "dashboards").mkdir(exist_ok=True)
    (chart / "rules").mkdir(exist_ok=True)
    (chart / "dashboards" / "zz_sample.Board.json").write_text(json.dumps({"title": "Sample", "panels": []}))
    rule = {"alert": "ZzSample", "expr": "up == 0", "annotations": {"summary": "{{ $labels.instance }} down"}}
    (chart / "rules" / "zz-sample.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "zz-sample", "rules": [rule]}]})
    )
    promtool_test = {"rule_files": ["zz-sample.yaml"], "tests": []}
    (chart / "rules" / "zz-sample.test.yaml").write_text(yaml.safe_dump(promtool_test))
    docs = render(chart=chart, sets=("metrics.prometheusRule.enabled=true",))
    boards = _dashboards(docs)
    sample = [d for d in boards if "zz_sample.Board.json" in d["data"]]
    assert len(sample) == 1
    assert json.loads(sample[0]["data"]["zz_sample.Board.json"])["title"] == "Sample"
    assert sample[0]["metadata"]["annotations"]["grafana_folder"] == "convstream"
    (wrapped,) = by_kind(docs, "PrometheusRule")
    groups = {g["name"]: g for g in wrapped["spec"]["groups"]}
    assert groups["zz-sample"]["rules"] == [rule], "Prometheus templates pass through untouched"
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_the_repository_dashboards_and_rules_render(render: Render) -> None:
    """The files as they are in the repo now (possibly none yet): one ConfigMap each, every group wrapped."""
    docs = render(CI / "keda-values.yaml")
    boards = sorted((CHART / "dashboards").glob("*.json"))
    shipped = _dashboards(docs)
    assert sorted(k for d in shipped for k in d["data"]) == sorted(p.name for p in boards)
    for board in boards:
        json.loads(board.read_text())
    groups = []
    for path in sorted((CHART / "rules").glob("*.yaml")):
        groups += (yaml.safe_load(path.read_text()) or {}).get("groups", [])
    rules = by_kind(docs, "PrometheusRule")
    assert sum(len(r["spec"]["groups"]) for r in rules) == len(groups)


def test_notes_render(render: Render, tmp_path: Path, ci_values: Path) -> None:
    """NOTES.txt (which `helm template` skips) renders for every values file: wrapped in a ConfigMap."""
    chart = _chart_copy(tmp_path)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    body = "".join(f"    {line}\n" for line in notes.splitlines())
    wrapper = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: notes}}\ndata:\n  notes: |\n{body}"
    (chart / "templates" / "zz-notes.yaml").write_text(wrapper)
    docs = render(ci_values, chart=chart)
    (rendered,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "notes"]
    text = rendered["data"]["notes"]
    assert "Consumer:" in text
    assert "terminationGracePeriodSeconds:" in text
