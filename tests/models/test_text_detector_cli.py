"""`genuine train-text-detector` / `genuine bench text-detector`: config section, corpus resolution, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_text_detector import _synthetic_rows, _write
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.core import tracking
from genuine.core.errors import ConfigError
from genuine.models.config import TextDetectorConfig, text_detector_config
from genuine.models.text_corpus import resolve_corpus

FAST = ["--set", "text_detector.char_ngram_max=3", "--set", "text_detector.inner_folds=2",
        "--set", "text_detector.max_iter=500", "--set", "text_detector.cv_folds=2"]


def _args(cfg) -> list[str]:
    return ["--env", "test", "--set", f"lake.root={cfg.lake.root}", "--set",
            f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}", *FAST]


@pytest.fixture()
def corpus(tmp_path) -> Path:
    rows = _synthetic_rows(160, seed=3)
    _write(tmp_path / "syn_a.jsonl", rows[:100])
    _write(tmp_path / "syn_b.jsonl", rows[100:])
    return tmp_path


def test_config_section_is_validated_and_reaches_the_detector(cfg_factory):
    assert text_detector_config(cfg_factory()) == TextDetectorConfig()   # base.yml repeats the defaults
    tuned = text_detector_config(cfg_factory("text_detector.char_ngram_max=3", "text_detector.corpus=[a.jsonl]"))
    assert (tuned.char_ngram_max, tuned.corpus) == (3, ["a.jsonl"])
    with pytest.raises(ConfigError, match="text_detector.char_ngram_maxx"):
        text_detector_config(cfg_factory("text_detector.char_ngram_maxx=3"))


def test_resolve_corpus_expands_folders_globs_and_skips_absent(corpus):
    a, b = corpus / "syn_a.jsonl", corpus / "syn_b.jsonl"
    assert resolve_corpus([corpus]) == [a, b]
    assert resolve_corpus([str(corpus / "*_b.jsonl"), a, str(corpus / "missing.jsonl")]) == [b, a]
    assert resolve_corpus([corpus / "nothing-here"]) == []


def test_train_registers_a_champion_and_prints_heldout_auroc(cfg_factory, corpus):
    cfg = cfg_factory()
    res = CliRunner().invoke(app, ["train-text-detector", "--corpus", str(corpus), *_args(cfg)])
    assert res.exit_code == 0, res.output
    assert "heldout_auroc_syn_a" in res.output and "heldout_auroc_syn_b" in res.output
    client = tracking.client(cfg.mlflow)
    mv = client.get_model_version_by_alias(cfg.mlflow.text_model, "champion")
    params = client.get_run(mv.run_id).data.params
    assert (str(mv.version), params["char_ngram_max"], params["rows_syn_a"]) == ("1", "3", "100")


def test_train_uses_the_configured_corpus_when_none_is_given(cfg_factory, corpus):
    cfg = cfg_factory()
    res = CliRunner().invoke(app, ["train-text-detector", *_args(cfg),
                                   "--set", f"text_detector.corpus=[{corpus}/syn_b.jsonl]"])
    assert res.exit_code == 0, res.output
    assert "heldout_auroc_syn_b" in res.output and "syn_a" not in res.output


def test_no_corpus_or_a_bad_one_is_one_clear_line(cfg_factory, tmp_path):
    cfg = cfg_factory()
    res = CliRunner().invoke(app, ["train-text-detector", "--corpus", str(tmp_path / "none"), *_args(cfg)])
    assert res.exit_code == 2 and "no corpus" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "ok", "label": "human"}) + "\n{oops\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["train-text-detector", "--corpus", str(bad), *_args(cfg)])
    assert res.exit_code == 2 and "bad.jsonl:2" in res.output.replace("\n", "")


def test_bench_prints_auroc_per_file_for_both_models(cfg_factory, corpus):
    cfg = cfg_factory()
    res = CliRunner().invoke(app, ["bench", "text-detector", "--corpus", str(corpus), "--folds", "2",
                                   *_args(cfg)])
    assert res.exit_code == 0, res.output
    rows = [ln.strip("│ ").split("│") for ln in res.output.splitlines() if ln.startswith("│")]
    lines = {r[0].strip(): r for r in rows if r[0].strip().startswith("syn_")}
    assert sorted(lines) == ["syn_a", "syn_b"]
    assert (lines["syn_a"][1].strip(), lines["syn_b"][1].strip()) == ("100", "60")
    assert all(0.5 < float(r[k]) <= 1.0 for r in lines.values() for k in (2, 3))
    assert all(0.5 < float(r[k]) <= 1.0 for r in lines.values() for k in (5, 6))     # leave-one-file-out
    assert "posts/s wall" in res.output
    assert "false-positive rate on human text by lang" in res.output
    assert "false-positive rate on human text by length" in res.output
