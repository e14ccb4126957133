"""Where the shipped examples are, and which revision this is, installed or in a checkout.

A wheel carries the example mappings and ``config.example.yaml`` in ``bridge/_data`` (``setup.py``
copies them there at build time from the top of the repository, their one home). A checkout or an
editable install has no ``_data``: the files are found next to the package instead.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import resources
from pathlib import Path

from bridge import __version__

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE_DIR.parent


def _data_dir() -> Path | None:
    """``bridge/_data`` of an installed wheel, or ``None`` (a checkout, an editable install)."""
    data = resources.files("bridge") / "_data"
    if data.is_dir():
        return Path(str(data))
    return None


def examples_dir() -> Path:
    """The directory holding ``config.example.yaml`` and ``mappings/``: the wheel's copy, else the checkout.

    Raises :class:`FileNotFoundError` when neither exists (a broken install): callers turn it into
    their own message.
    """
    data = _data_dir()
    if data is not None and (data / "config.example.yaml").is_file():
        return data
    if (_CHECKOUT / "config.example.yaml").is_file() and (_CHECKOUT / "mappings").is_dir():
        return _CHECKOUT
    raise FileNotFoundError(f"the shipped examples are neither in {_PACKAGE_DIR / '_data'} nor in {_CHECKOUT}")


def example_mappings_dir() -> Path:
    """The shipped mappings: the demo's ServiceNow ones and the (disabled) RT and JSM examples."""
    return examples_dir() / "mappings"


def example_config() -> Path:
    """``config.example.yaml``: every option with its default and a comment."""
    return examples_dir() / "config.example.yaml"


@cache
def git_revision() -> str:
    """The short git commit: the checkout's current one when the package runs from a git work tree
    (so an editable install reports what it runs), else the one recorded when the wheel was built,
    else "". Never raises: git may be absent or the directory not a repository."""
    if (_CHECKOUT / ".git").exists():
        try:
            out = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=_CHECKOUT,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    data = _data_dir()
    if data is not None and (data / "REVISION").is_file():
        return (data / "REVISION").read_text().strip()
    return ""


def version_text() -> str:
    """What ``bridge --version`` prints after the program name: ``0.1.0 (git 1a2b3c4)``, or ``0.1.0``."""
    revision = git_revision()
    return f"{__version__} (git {revision})" if revision else __version__
