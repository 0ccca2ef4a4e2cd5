"""The layered import contract (pyproject.toml [tool.importlinter]) holds, and it would catch an upward import.

import-linter reads the imports of every module, function bodies included, so a lazy import cannot hide
a loop. The second test plants one upward import in a copy of the package and expects the contract to break.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    # import-linter puts its working directory first on sys.path: `genuine` is then the copy under cwd.
    return subprocess.run([str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_layers_contract_holds() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    # A real copy (linked stage folders become folders) so the plant never touches the checkout.
    shutil.copytree(REPO / "genuine", tmp_path / "genuine", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "conf"))
    planted = tmp_path / "genuine" / "core" / "logs.py"
    planted.write_text(planted.read_text() + "\nimport genuine.jobs.common  # planted: core -> jobs\n")

    result = _lint(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout
    assert "genuine.core is not allowed to import genuine.jobs" in result.stdout
    assert "genuine.core.logs -> genuine.jobs.common" in result.stdout
