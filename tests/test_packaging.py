"""The built wheel is the product: one top-level package `genuine` (with its conf), and it runs on its own.

The wheel is built from a clean copy of the sources (a `build/` folder left in the checkout would leak
removed modules into it), installed with `--no-deps` into a fresh venv that borrows the main venv's
dependencies through a .pth line (so the editable install of the checkout is NOT visible: .pth files
of a directory added that way are not executed), and run from a temporary directory: `genuine
--help`, `genuine simulate`, and the ingest job with the settings a test run uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.oracles import read_delta_rs

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "genuine"
# Files the build reads besides the package folder and the stage folders it links in.
BUILD_FILES = ("pyproject.toml", "README.md")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")

pytestmark = pytest.mark.slow


def _clean_sources(dest: Path) -> Path:
    """The package, every folder it links in (genuine/<x> -> ../<x>) and the build files, symlinks kept."""
    dest.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(PACKAGE, dest / "genuine", symlinks=True, ignore=SKIP)
    for link in PACKAGE.iterdir():
        if link.is_symlink():
            target = (PACKAGE / os.readlink(link)).resolve()
            assert target.parent == ROOT, f"{link} must link to a top-level folder, not {target}"
            shutil.copytree(target, dest / target.name, symlinks=True, ignore=SKIP)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = _clean_sources(tmp / "src")
    out = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(out), str(src)], check=True, cwd=tmp)
    (found,) = out.glob("genuine-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel, the main venv's packages reachable, the checkout not."""
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "main-venv-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True)
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "GENUINE_", "PYTHONPATH"))}
    env.update(PYSPARK_PYTHON=str(env_dir / "bin" / "python"), PYSPARK_DRIVER_PYTHON=str(env_dir / "bin" / "python"),
               MLFLOW_DISABLE_TELEMETRY="true", COLUMNS="200")
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{args} exited {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def test_wheel_holds_only_the_genuine_package(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert z.read(top_level).decode().split() == ["genuine"]
    dist_info = top_level.split("/")[0]
    assert dist_info.startswith("genuine-")
    strays = [n for n in names if not (n.startswith("genuine/") or n.startswith(dist_info + "/"))]
    assert strays == []
    for needed in ("genuine/conf/base.yml", "genuine/conf/test.yml", "genuine/py.typed", "genuine/cli/app.py",
                   "genuine/jobs/ingest.py", "genuine/features/content.py", "genuine/lib/near_dup.py",
                   "genuine/devtools/simulator/engine.py"):
        assert needed in names, needed


def test_installed_wheel_runs_from_anywhere(installed: Path, tmp_path: Path):
    bin_ = installed / "bin"
    where = _run(installed, str(bin_ / "python"), "-c",
                 "import json, genuine, genuine.cli.app; from genuine.core.config import CONF_DIR; "
                 "print(json.dumps([genuine.__file__, str(CONF_DIR), (CONF_DIR / 'base.yml').is_file()]))",
                 cwd=tmp_path)
    package_file, conf_dir, has_base = json.loads(where.stdout)
    site = str(installed.resolve())
    assert package_file.startswith(site) and not package_file.startswith(str(ROOT))
    assert conf_dir.startswith(site) and has_base

    helped = _run(installed, str(bin_ / "genuine"), "--help", cwd=tmp_path)
    assert "simulate" in helped.stdout and "ingest" in helped.stdout

    export, lake = tmp_path / "export", tmp_path / "lake"
    _run(installed, str(bin_ / "genuine"), "simulate", "--accounts", "50", "--days", "2", "--out", str(export),
         "--env", "test", cwd=tmp_path)
    assert (export / "accounts").is_dir()
    _run(installed, str(bin_ / "python"), "-m", "genuine.jobs.ingest", str(export), "--env", "test",
         "--set", f"lake.root={lake}", "--set", f"privacy.key_file={tmp_path / 'hmac.key'}",
         "--set", "lake.engine=delta-rs", "--set", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
         cwd=tmp_path)

    runs = read_delta_rs(str(lake / "ops" / "runs"))
    (run,) = runs.itertuples()
    counts = dict(run.row_counts)
    assert run.job == "ingest" and run.status == "succeeded"
    assert run.code_version.startswith("genuine-")        # the installed package, not a git checkout
    assert counts["accounts.accepted"] == 50 and counts["posts.accepted"] > 0
    assert all(counts[f"{e}.accepted"] + counts[f"{e}.quarantined"] == counts[f"{e}.read"]
               for e in ("accounts", "posts", "interactions"))
