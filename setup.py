"""Build steps pyproject.toml cannot express: the examples and the git revision go into the package.

The example mappings and ``config.example.yaml`` live once, at the top of the repository (where a
checkout's ``bridge demo`` and the docs point); ``build_py`` copies them into ``bridge/_data/`` of
the build tree, so a wheel carries them without a second copy in git. ``sdist`` adds them (through
MANIFEST.in) and a ``REVISION`` file, because a wheel built from an sdist has no ``.git`` to ask.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
EXAMPLES = ("config.example.yaml",)
EXAMPLE_DIRS = ("mappings",)
REVISION_FILE = "REVISION"


def git_revision() -> str:
    """The short commit of the checkout, else the one an sdist recorded, else "" (never fails)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        out = None
    if out is not None and out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    recorded = ROOT / REVISION_FILE
    return recorded.read_text().strip() if recorded.is_file() else ""


class BuildPyWithExamples(build_py):
    """Copy the top-level examples into ``bridge/_data`` and record the git revision."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # An editable install runs from the checkout, which finds the examples and the revision itself.
            return
        data = Path(self.build_lib) / "bridge" / "_data"
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        for name in EXAMPLES:
            shutil.copy2(ROOT / name, data / name)
        for name in EXAMPLE_DIRS:
            (data / name).mkdir()
            for source in sorted((ROOT / name).glob("*.yaml")):
                shutil.copy2(source, data / name / source.name)
        (data / REVISION_FILE).write_text(git_revision() + "\n")


class SdistWithRevision(sdist):
    """Record the git revision in the sdist, for the wheel built from it."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        target = Path(base_dir) / REVISION_FILE
        if target.exists():
            target.unlink()  # a hard link to the checkout's file, if any: never write through it
        target.write_text(git_revision() + "\n")


setup(cmdclass={"build_py": BuildPyWithExamples, "sdist": SdistWithRevision})
