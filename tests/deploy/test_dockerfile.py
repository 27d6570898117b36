"""The Dockerfile, checked by parsing (no Docker engine here: the image build itself is not run)."""

from __future__ import annotations

import json
import re

from tests.deploy.settings_model import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _base_image() -> str:
    args = dict(rest.split("=", 1) for word, rest in _instructions() if word == "ARG" and "=" in rest)
    return args["PYTHON_IMAGE"]


def test_multi_stage_with_a_pinned_slim_base() -> None:
    stages = _stages()
    assert len(stages) >= 2
    base = _base_image()
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base), base
    for stage in stages:
        image = stage[0][1].split()[0]
        assert image in ("${PYTHON_IMAGE}", base), image
    assert "AS builder" in stages[0][0][1]


def test_final_stage_runs_as_non_root_without_build_tools() -> None:
    final = _stages()[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid lets Kubernetes verify runAsNonRoot"
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies
    assert all(c.startswith("--from=builder") for c in copies), "the final stage only takes the built venv"
    runs = " ".join(rest for word, rest in final if word == "RUN")
    for tool in ("apt-get install", "gcc", "build-essential", "pip install"):
        assert tool not in runs, tool


def test_entrypoint_and_healthcheck() -> None:
    final = dict(_stages()[-1])
    assert json.loads(final["ENTRYPOINT"]) == ["convstream"]
    health = final["HEALTHCHECK"]
    assert "/livez" in health
    assert "CONVSTREAM_OBSERVABILITY__METRICS_PORT" in health


def test_builder_installs_with_the_pins() -> None:
    builder = _stages()[0]
    runs = " ".join(rest for word, rest in builder if word == "RUN")
    assert "--constraint constraints.txt" in runs
    copied = " ".join(rest for word, rest in builder if word == "COPY")
    for path in ("pyproject.toml", "constraints.txt", "consumer"):
        assert path in copied


def test_dockerignore_keeps_the_context_small() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allow-list: nothing is sent unless listed"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "constraints.txt", "README.md", "consumer"}
    assert (ROOT / "consumer" / "sql").is_dir()
    assert (ROOT / "consumer" / "schemas").is_dir()
