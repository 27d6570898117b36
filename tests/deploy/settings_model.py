"""The settings tree as the deployment artefacts see it: env names, secret fields, the values schema.

``python -m tests.deploy.settings_model --write`` regenerates the ``config`` section of
``helm/convstream/values.schema.json`` from :class:`consumer.settings.Settings` (run it after adding a
setting; ``tests/deploy/test_chart_settings.py`` fails until the schema matches the model).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from consumer.settings import Settings
from consumer.settings_fields import env_for as _env
from consumer.settings_fields import is_secret as _is_secret
from consumer.settings_fields import is_section as _is_section
from consumer.settings_fields import leaf_fields
from consumer.settings_fields import unwrap_optional as _unwrap_optional

__all__ = [
    "CHART",
    "CHART_MANAGED",
    "ROOT",
    "SCHEMA_PATH",
    "config_schema",
    "is_setting_env",
    "leaf_fields",
    "secret_env_names",
    "setting_env_names",
]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "convstream"
SCHEMA_PATH = CHART / "values.schema.json"


def setting_env_names() -> set[str]:
    """``CONVSTREAM_<A>__<B>`` for every leaf setting."""
    return {_env(path) for path, _ in leaf_fields()}


def secret_env_names() -> set[str]:
    """The env names of the ``SecretStr`` settings (never in a ConfigMap)."""
    return {_env(path) for path, field in leaf_fields() if _is_secret(field)}


def is_setting_env(name: str) -> bool:
    """A real setting, or its ``_FILE`` variant."""
    names = setting_env_names()
    return name in names or (name.endswith("_FILE") and name[: -len("_FILE")] in names)


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_SCALARS: dict[Any, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}

#: Settings the chart sets itself (per pod or per component), so they are not in ``.Values.config``.
CHART_MANAGED: dict[tuple[str, ...], str] = {
    ("observability", "metrics_port"): "consumer.metricsPort / bridge.metricsPort (one port per component)",
    ("bridge", "source"): "bridge.source",
    ("consumer", "group_instance_id"): "the pod name (consumer.staticMembership); a shared value would fence",
}


def _leaf_schema(field: FieldInfo) -> dict[str, Any]:
    """The schema of one setting; ``null`` is always allowed and means "unset: the code default"."""
    annotation, _ = _unwrap_optional(field.annotation)
    schema: dict[str, Any]
    if get_origin(annotation) is Literal:
        schema = {"enum": [*get_args(annotation), None]}
    elif annotation in _SCALARS:
        schema = {"type": [_SCALARS[annotation], "null"]}
    elif get_origin(annotation) is list:
        schema = {"type": ["array", "null"], "items": {"type": "string"}}
    elif get_origin(annotation) is dict:
        schema = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
    else:
        raise TypeError(f"no JSON schema mapping for {annotation!r}")
    for meta in field.metadata:
        for attr, keyword in _BOUNDS.items():
            if hasattr(meta, attr):
                schema[keyword] = getattr(meta, attr)
        if getattr(meta, "pattern", None):
            schema["pattern"] = meta.pattern
    return schema


def _section_schema(model: type[BaseModel], path: tuple[str, ...]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation, _ = _unwrap_optional(field.annotation)
        if _is_section(annotation):
            properties[name] = _section_schema(annotation, (*path, name))
        elif not _is_secret(field) and (*path, name) not in CHART_MANAGED:
            properties[name] = _leaf_schema(field)
            properties[name]["description"] = f"{_env((*path, name))}" + (
                f": {field.description}" if field.description else ""
            )
    return {"type": "object", "additionalProperties": False, "properties": properties}


def config_schema() -> dict[str, Any]:
    """The JSON schema of ``.Values.config``: every non-secret setting, named as in the model."""
    schema = _section_schema(Settings, ())
    schema["description"] = (
        "convstream settings, mapped 1:1 to CONVSTREAM_* variables in the ConfigMap (snake_case keys as in "
        "consumer/settings.py; null or absent = the code default). Secrets are under `secrets`."
    )
    return schema


def main(argv: list[str]) -> int:
    """Print (or with ``--write`` store) the regenerated ``config`` section of the values schema."""
    full = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    full["properties"]["config"] = config_schema()
    text = json.dumps(full, indent=2) + "\n"
    if "--write" in argv:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
