"""config.example.yaml: loads as shipped, without network, and documents every option."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from bridge.bootstrap import check_configuration
from bridge.settings import CREDENTIAL_FILES, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def all_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(all_paths(annotation, f"{prefix}{name}."))
        else:
            paths.append(prefix + name)
    return paths


def test_example_loads_and_checks_without_errors() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.warnings == []  # no secret in plain text in the example
    errors = [p for p in check_configuration(settings) if p.severity == "error"]
    assert errors == []


def test_example_mentions_every_option() -> None:
    """Each option appears as a key, active or commented out (secrets are comments)."""
    text = EXAMPLE.read_text()
    missing = []
    for path in all_paths(Settings):
        leaf = path.split(".")[-1]
        if not re.search(rf"^\s*#?\s*{re.escape(leaf)}:", text, re.MULTILINE):
            missing.append(path)
    assert missing == []


def test_example_points_to_every_credential_file_and_env_var() -> None:
    text = EXAMPLE.read_text()
    for name, (section, key) in CREDENTIAL_FILES.items():
        assert name in text
        assert f"BRIDGE_{section.upper()}__{key.upper()}" in text
