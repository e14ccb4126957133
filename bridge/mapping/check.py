"""``bridge check`` for mappings: validate a directory offline and format the result for a terminal.

The CLI (owned elsewhere) calls :func:`check_mappings` and prints :func:`format_problems`; exit code 2 when
any problem is an error. Nothing here touches the network: checks against the live instances (do the
statuses exist in the Jira workflow, is the custom field there) belong to ``bridge check --online``.
"""

from __future__ import annotations

from pathlib import Path

from bridge.errors import MappingProblem
from bridge.mapping.loader import load_mappings


def check_mappings(directory: Path) -> list[MappingProblem]:
    """Every problem (errors, then warnings, each in file and line order) of the mappings in ``directory``."""
    problems = load_mappings(Path(directory)).problems
    return sorted(problems, key=lambda p: (p.severity != "error", p.file, p.line, p.column))


def format_problems(problems: list[MappingProblem]) -> str:
    """One block per problem (``FILE:LINE:COL: path: message`` + hint line) and a closing summary line."""
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    lines = [str(p) for p in problems]
    if errors:
        summary = f"{errors} error(s), {warnings} warning(s): fix the errors; no mapping runs until they are gone"
    elif warnings:
        summary = f"mappings OK with {warnings} warning(s)"
    else:
        summary = "mappings OK"
    lines.append(summary)
    return "\n".join(lines)
