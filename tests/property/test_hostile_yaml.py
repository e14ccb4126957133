"""Hostile mapping and config files are located exit-2 errors, never a crash (exit 70) or a long stall.

The measured cases: YAML nested 400–2000 deep and a tagged node (``!!python/object/apply:…``) made
``bridge check`` exit 70 with a 200 KB traceback; a 50 MB mapping file was accepted. The fuzz tests feed
the loader and ``bridge check`` (through CliRunner) YAML-shaped noise and mutated real mappings.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bridge import yamlpos
from bridge.cli import cli
from bridge.mapping.loader import load_mapping_file, load_mapping_text

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "mappings" / "incident-to-bug.yaml").read_text(encoding="utf-8")
CONFIG = """\
jira:
  url: https://example.atlassian.net
itsm:
  kind: servicenow
  url: https://example.service-now.com
mappings:
  directory: mappings
"""

DEEP_BLOCK = "name: x\nroute:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 500))
DEEP_FLOW = "name: x\nroute: " + "[" * 2000 + "]" * 2000 + "\n"
DEEP_FLOW_MAPS = "name: x\nroute: " + "{a: " * 400 + "1" + "}" * 400 + "\n"
TAGGED = "name: x\nroute:\n  record_type: !!python/object/apply:os.system ['true']\n"
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def _check(tmp: Path, mapping_text: str | bytes, config_text: str = CONFIG) -> tuple[int, str]:
    mappings = tmp / "mappings"
    mappings.mkdir(exist_ok=True)
    target = mappings / "m.yaml"
    if isinstance(mapping_text, bytes):
        target.write_bytes(mapping_text)
    else:
        target.write_text(mapping_text, encoding="utf-8", errors="surrogatepass")
    config = tmp / "config.yaml"
    config.write_text(config_text, encoding="utf-8", errors="surrogatepass")
    result = CliRunner().invoke(cli, ["check", "--config", str(config)], env={"BRIDGE_CONFIG": None})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (DEEP_BLOCK, 66, "nest deeper than 64 levels"),
        (DEEP_FLOW, 2, "nest deeper than 64 levels"),
        (DEEP_FLOW_MAPS, 2, "nest deeper than 64 levels"),
        (TAGGED, 3, "YAML tag `!!python/object/apply:os.system` is not accepted"),
        (ALIAS_BOMB, 1, "expands to more than"),
    ],
    ids=["deep-block", "deep-flow", "deep-flow-maps", "python-tag", "alias-bomb"],
)
def test_a_measured_hostile_mapping_is_one_located_error_and_exit_2(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    started = time.monotonic()
    [problem] = load_mapping_text(text, "m.yaml").problems
    assert (problem.line, problem.severity) == (line, "error")
    assert message in problem.message
    code, output = _check(tmp_path, text)
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output
    assert len(output) < 5_000
    assert time.monotonic() - started < 10


def test_a_50_mb_mapping_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w", encoding="utf-8") as out:
        out.write(GOOD)
        out.write("# " + "x" * 1000 + "\n" * 1)
        out.truncate(50_000_000)
    [problem] = load_mapping_file(path).problems
    assert problem.message == f"the file is 50000000 bytes; the limit is {yamlpos.MAX_FILE_BYTES}"
    code, output = _check(tmp_path, GOOD)
    assert code == 0, output


@pytest.mark.parametrize("text", [DEEP_BLOCK.replace("name: x\nroute:", "schedule:"), TAGGED.replace("name", "jira"),
                                  CONFIG + "x-pad: '" + "y" * 1_100_000 + "'\n"], ids=["deep", "tag", "large"])
def test_a_hostile_config_file_is_exit_2(tmp_path: Path, text: str) -> None:
    code, output = _check(tmp_path, GOOD, text)
    assert code == 2, output
    assert "Traceback" not in output


_YAML_BITS = st.sampled_from(
    ["\n", "  ", "- ", ": ", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "!x ", "<<: ", "? ", "|\n", ">-\n",
     "'", '"', "#", "---\n", "...\n", "%YAML 1.2\n", "\t", "\x00", "\ufeff", "\u202e", "\\", "name", "route",
     "record_type", "where", "matches", "template", "{{ x }}", "{% for %}", "1e999", "0x1F", "~", "null", "yes",
     "2026-01-01", "incident", "OPS", "Bug", "target", "project", "fields", "comments", "skip", "(a+)+"]
)
_NOISE = st.lists(st.one_of(_YAML_BITS, st.text(max_size=8)), max_size=60).map("".join)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    """The example mapping with a few slices replaced by noise: mostly-valid YAML reaching deeper code."""
    text = GOOD
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        text = text[:start] + draw(_NOISE) + text[end:]
    return text


@given(st.one_of(_NOISE, _mutated()))
def test_the_loader_never_raises_on_any_text(text: str) -> None:
    result = load_mapping_text(text, "m.yaml")
    assert all(p.line >= 1 and p.column >= 1 for p in result.problems)


@given(st.one_of(_NOISE, _mutated(), st.binary(max_size=200)))
def test_bridge_check_exits_0_or_2_on_any_mapping_file(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code, output = _check(Path(tmp), text)
    assert code in (0, 2), output
