"""Loading the settings: read every source, validate once, report every problem at once.

Errors are collected, not raised one by one: :func:`load_settings` raises one
:class:`~bridge.errors.ConfigError` whose ``problems`` are all formatted
``FILE:LINE: dotted.path: message (expected ...)`` (or ``env BRIDGE_X: ...`` / the credential
file's path), so an operator fixes everything in one pass. Input values are never echoed in
problems: they may be secrets.

Every secret value seen while loading, valid or not, is registered with
:func:`bridge.logging.register_secret` so no later log line can show it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bridge import yamlpos
from bridge.errors import ConfigError
from bridge.logging import is_secret_key, register_secret
from bridge.settings.schema import Settings, secret_paths, url_secrets
from bridge.settings.sources import (
    LoadContext,
    credential_file_name,
    env_data,
    env_origins,
    env_var_name,
    load_context,
    read_credentials,
    resolve_config_path,
)
from bridge.yamlpos import Marks


def _iter_leaves(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _iter_leaves(value, (*prefix, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _iter_leaves(value, (*prefix, str(index)))
    else:
        yield prefix, data


def _register_raw_secrets(*sources: Any) -> None:
    """Register every value that is, or looks like, a secret, before validation can fail:
    an invalid configuration must not lead to a log line that shows a password."""
    secrets = secret_paths()
    for data in sources:
        for path, value in _iter_leaves(data):
            if not isinstance(value, str):
                continue
            if path[:2] == ("state", "url"):
                for secret in url_secrets(value):
                    register_secret(secret)
            elif path[:2] in secrets or any(is_secret_key(p) for p in path):
                register_secret(value)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Settings
    for part in loc:
        info = model.model_fields.get(str(part))
        annotation = info.annotation if info else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "path_type": "a file system path",
}


def _describe(error: Mapping[str, Any]) -> str:
    """``message (expected ...)`` for one pydantic error, never including the input value."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = sorted(parent.model_fields) if parent else []
        typed = str(loc[-1])
        # difflib catches typos; the prefix test catches abbreviations ("misfire").
        hint = difflib.get_close_matches(typed, known, n=1) or [k for k in known if k.startswith(typed)][:1]
        message = "unknown key"
        if hint:
            message += f"; did you mean '{hint[0]}'?"
        return f"{message} (expected one of: {', '.join(known)})"
    if kind == "missing":
        return f"required setting is missing (expected a value in the config file or {env_var_name(loc)})"
    if kind == "literal_error":
        return f"invalid choice (expected {ctx.get('expected')})"
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
        return text if "(expected" in text else f"{text} (expected a valid value)"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[
            kind
        ]
        bound = next(iter(ctx.values()), "?")
        return f"{error['msg']} (expected {op} {bound})"
    expected = _EXPECTED.get(kind, "a valid value")
    return f"{error['msg']} (expected {expected})"


@dataclass
class _Origins:
    config_file: Path | None
    marks: Marks | None
    env: dict[tuple[str, ...], str]
    credentials: dict[tuple[str, ...], str]

    def where(self, loc: tuple[Any, ...]) -> str:
        """Name the source of the value at ``loc``: the one with the highest precedence wins."""
        key = tuple(str(p) for p in loc)
        for origins, label in ((self.credentials, "{}"), (self.env, "env {}")):
            for length in range(len(key), 0, -1):
                if key[:length] in origins:
                    return label.format(origins[key[:length]])
        name = str(self.config_file) if self.config_file else "<defaults>"
        line = _yaml_line(self.marks, key) if self.marks is not None else None
        if line:
            return f"{name}:{line}"
        # A section-level error (e.g. two settings that contradict each other) whose section
        # is not in the file: name the variables / credential files that set it.
        children = [o for k, o in sorted(self.credentials.items()) if k[: len(key)] == key]
        children += [f"env {o}" for k, o in sorted(self.env.items()) if k[: len(key)] == key]
        return ", ".join(children) if key and children else name


def _read_yaml(path: Path) -> tuple[Marks | None, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {path}", [f"{path}: cannot read the file: {exc.__class__.__name__}"]
        ) from None
    try:
        tree = yamlpos.parse(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            f"invalid YAML in {path}", [f"{path}{line}: {problem} (expected valid YAML)"]
        ) from None
    except YAMLError as exc:
        raise ConfigError(
            f"invalid YAML in {path}", [f"{path}: {exc.__class__.__name__} (expected valid YAML)"]
        ) from None
    if tree is None:
        return None, {}
    if not isinstance(tree, CommentedMap):
        raise ConfigError(
            f"invalid config file {path}",
            [f"{path}:1: <root>: not a mapping (expected section: keys at top level)"],
        )
    try:
        data, marks = yamlpos.to_plain(tree, text_keys=True, tagged_as_text=False)
    except (yamlpos.TooLarge, RecursionError):
        raise ConfigError(
            f"invalid config file {path}",
            [f"{path}:1: <root>: the file expands to more than {yamlpos.MAX_NODES} values "
             "(expected a config file without aliases that repeat large blocks)"],
        ) from None
    return marks, data


def _yaml_line(marks: Marks, key: tuple[str, ...]) -> int | None:
    """1-based line of the key of the deepest node of ``key`` present in the file, if any is."""
    found, mark = marks.nearest(key)
    return mark.key_line if found else None


def _plaintext_secret_warnings(marks: Marks | None, data: dict[str, Any], config_file: Path) -> list[str]:
    warnings = []
    for section, key in sorted(secret_paths()):
        value = (data.get(section) or {}).get(key) if isinstance(data.get(section), dict) else None
        if not isinstance(value, str) or not value:
            continue
        if (section, key) == ("state", "url") and not urlsplit(value).password:
            continue  # a URL without a password is not a secret worth warning about
        line = _yaml_line(marks, (section, key)) if marks is not None else None
        cred = credential_file_name((section, key))
        warnings.append(
            f"{config_file}:{line}: {section}.{key}: secret written in plain text in the config file; "
            f"prefer the environment variable {env_var_name((section, key))} or the credential file "
            f"'{cred}' in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)"
        )
    return warnings


def load_settings(config_path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, merge and validate all sources; raise :class:`ConfigError` listing every problem.

    ``config_path`` is ``--config``; ``env`` defaults to ``os.environ`` (tests pass their own,
    which also supplies ``BRIDGE_CONFIG``, ``CREDENTIALS_DIRECTORY`` and ``STATE_DIRECTORY``).
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    path, explicit = resolve_config_path(config_path, environ)
    marks: Marks | None = None
    data: dict[str, Any] = {}
    config_file: Path | None = None
    if path is not None and path.exists():
        config_file = path.absolute()
        marks, data = _read_yaml(config_file)
    elif explicit:
        raise ConfigError(
            f"config file {path} not found", [f"{path}: config file not found (expected a YAML file)"]
        )

    creds_dir = Path(environ["CREDENTIALS_DIRECTORY"]) if environ.get("CREDENTIALS_DIRECTORY") else None
    creds, cred_origins = read_credentials(creds_dir)
    _register_raw_secrets(data, env_data(environ), creds)

    ctx = LoadContext(env=environ, yaml_data=data, config_file=config_file, credentials_dir=creds_dir)
    token = load_context.set(ctx)
    try:
        settings = Settings()  # type: ignore[call-arg]  # jira and itsm come from the sources
    except ValidationError as exc:
        origins = _Origins(config_file, marks, env_origins(environ), cred_origins)
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = tuple(error["loc"])
            dotted = ".".join(str(p) for p in loc) or "<root>"
            problems.append(f"{origins.where(loc)}: {dotted}: {_describe(error)}")
        raise ConfigError(f"{len(problems)} configuration problem(s)", problems) from None
    finally:
        load_context.reset(token)

    settings._config_file = config_file
    if config_file is not None:
        settings._warnings = _plaintext_secret_warnings(marks, data, config_file)
    for value in settings.secret_values():
        register_secret(value)
    return settings
