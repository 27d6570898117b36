"""Fixtures for the chart tests: a pinned helm built from the Go module proxy, and rendered manifests.

The helm binary is built once by ``scripts/helm.sh`` into ``.cache/bin`` (minutes on a cold machine; the
tests never skip when it is missing, they build it). Rendering is offline: ``helm template`` with a fixed
``--kube-version``, validated with kubernetes-validate's bundled schemas.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.settings_model import CHART, ROOT

KUBE_VERSION = "1.31.0"
HELM_SCRIPT = ROOT / "scripts" / "helm.sh"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "cs"
#: A cold `go install` of helm on two cores takes a few minutes; bound it generously.
HELM_BUILD_TIMEOUT_SECONDS = 1500
#: The first chart test builds helm in its setup: give the chart tests room beyond the 300 s default.
CHART_TEST_TIMEOUT_SECONDS = HELM_BUILD_TIMEOUT_SECONDS + 300


class HelmError(AssertionError):
    """helm exited non-zero; the message carries its stderr."""


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """The pinned helm, built on first use (never skipped: a missing helm is built, a failed build fails)."""
    done = subprocess.run(
        [str(HELM_SCRIPT), "--path"],
        capture_output=True,
        text=True,
        timeout=HELM_BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"building helm failed:\n{done.stderr[-4000:]}"
    path = Path(done.stdout.strip())
    assert path.is_file(), path
    return path


Helm = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def helm(helm_bin: Path) -> Helm:
    """Run helm with the given arguments (offline; HELM_* dirs kept inside .cache)."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cache = ROOT / ".cache" / "helm"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(cache),
            "HELM_CACHE_HOME": str(cache / "cache"),
            "HELM_CONFIG_HOME": str(cache / "config"),
            "HELM_DATA_HOME": str(cache / "data"),
        }
        done = subprocess.run(
            [str(helm_bin), *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        if check and done.returncode != 0:
            raise HelmError(f"helm {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    return run


Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def render(helm: Helm) -> Render:
    """``helm template`` -> the list of manifests (documents), with CRD APIs declared available."""
    cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

    def run(*values: Path, chart: Path = CHART, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        key = (chart, values, sets)
        if key not in cache:
            args = ["template", RELEASE, str(chart), "--namespace", "convstream"]
            args += ["--kube-version", KUBE_VERSION]
            for api in ("monitoring.coreos.com/v1", "keda.sh/v1alpha1"):
                args += ["--api-versions", api]
            for path in values:
                args += ["-f", str(path)]
            for item in sets:
                args += ["--set", item]
            out = helm(*args).stdout
            cache[key] = [doc for doc in yaml.safe_load_all(out) if doc]
        return cache[key]

    return run


@pytest.fixture(params=CI_VALUES, ids=[p.name for p in CI_VALUES])
def ci_values(request: pytest.FixtureRequest) -> Path:
    """Each values file of helm/convstream/ci/."""
    path: Path = request.param
    return path


def containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container (init and regular) of a workload manifest."""
    spec = pod_spec(doc)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a Deployment/StatefulSet/Job, else None."""
    if doc.get("kind") in ("Deployment", "StatefulSet", "Job"):
        spec: dict[str, Any] = doc["spec"]["template"]["spec"]
        return spec
    return None


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The manifests of one kind."""
    return [d for d in docs if d.get("kind") == kind]


def named(docs: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    """The one manifest of ``kind`` whose name ends with ``suffix``."""
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"{kind} *{suffix}: {[d['metadata']['name'] for d in by_kind(docs, kind)]}"
    return found[0]
