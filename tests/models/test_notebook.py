"""notebooks/evaluation.ipynb runs top to bottom against the `pipeline` fixture's lake and MLflow store
(configured through GENUINE_ENV / GENUINE_SET, as a data scientist would), in a real Jupyter kernel."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from lake_synth import AI_STRATEGIES, N_ACCOUNTS
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "evaluation.ipynb"


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif "data" in o:
            out.append(o["data"].get("text/plain", ""))
    return "".join(out)


def test_evaluation_notebook_executes(pipeline, monkeypatch, tmp_path):
    cfg = pipeline.cfg
    monkeypatch.setenv("GENUINE_ENV", "test")
    monkeypatch.setenv("GENUINE_SET", ";".join([f"lake.root={cfg.lake.root}",
                                                f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}"]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    # kernel "python3" from this interpreter: jupyter_client runs it with sys.executable (the venv)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    text = "\n".join(_text(c) for c in code)
    assert f"python {sys.executable};" in text
    r = pipeline.train.train
    assert f"{r.model_name} v{r.model_version} (MLflow run {r.run_id})" in text
    held_out = _text(code[3])
    assert all(s in held_out for s in AI_STRATEGIES)
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 4
    overview = _text(code[-1])
    counts = pipeline.scores_after_first["band"].value_counts()
    assert counts.sum() == N_ACCOUNTS and pipeline.score1.run_id in overview
    for band, n in counts.items():
        assert re.search(rf"{band}\s+{n}\b", overview), overview
