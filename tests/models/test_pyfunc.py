"""Registered models are pickled under stable class paths, and one registered by an older genuine (class
path `models.account_model.AccountModel` / `models.text_detector.TextDetectorModel`) fails where genuine
loads it with LegacyModelError saying how to re-register, instead of `No module named 'models'`.

The legacy versions are made for real: a throw-away package named `models` is importable only while
MLflow pickles the model, exactly as the old top-level `models` package was."""

from __future__ import annotations

import collections
import pickle
import sys
import textwrap
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest

from genuine.core import tracking
from genuine.core.errors import LegacyModelError
from genuine.models.promotion import evaluate_version
from genuine.models.pyfunc import AccountModel, ensure_loadable, legacy_error, load_pyfunc, pickled_classes
from genuine.models.scoring import load_champion
from genuine.models.text_detector import TextDetectorModel, load_detector, score_posts

REPO = Path(__file__).resolve().parents[2]
LEGACY = {"account": ("models.account_model", "AccountModel", "legacy-account-model"),
          "text": ("models.text_detector", "TextDetectorModel", "legacy-text-detector")}


def _drop_models_modules() -> dict[str, object]:
    return {k: sys.modules.pop(k) for k in list(sys.modules) if k == "models" or k.startswith("models.")}


@pytest.fixture(scope="module")
def legacy(cfg_factory, tmp_path_factory):
    """(cfg, {kind: models:/ URI}) of two versions registered under the old class paths."""
    pkg = tmp_path_factory.mktemp("legacy_code")
    (pkg / "models").mkdir()
    (pkg / "models" / "__init__.py").write_text("")
    for module, cls, _ in LEGACY.values():
        (pkg / f"{module.replace('.', '/')}.py").write_text(textwrap.dedent(f"""
            import mlflow.pyfunc


            class {cls}(mlflow.pyfunc.PythonModel):
                def predict(self, context, model_input, params=None):
                    return model_input
            """))
    cfg = cfg_factory()
    client = tracking.configure(cfg.mlflow)
    saved = _drop_models_modules()          # the checkout's own models/ folder must not answer `import models`
    sys.path.insert(0, str(pkg))
    uris = {}
    try:
        for kind, (module, cls, name) in LEGACY.items():
            model_cls = getattr(__import__(module, fromlist=[cls]), cls)
            with mlflow.start_run(run_name=f"legacy {kind}"):
                info = mlflow.pyfunc.log_model(name="model", python_model=model_cls(), registered_model_name=name)
            version = str(info.registered_model_version)
            client.set_registered_model_alias(name, "champion", version)
            client.set_model_version_tag(name, version, "threshold.auto", "0.9")
            client.set_model_version_tag(name, version, "threshold.review", "0.5")
            uris[kind] = tracking.version_uri(name, version)
    finally:
        sys.path.remove(str(pkg))
        _drop_models_modules()
        sys.modules.update(saved)
    return cfg, uris


@pytest.fixture()
def no_models_package(monkeypatch):
    """Import as a deployed genuine does: no top-level `models` (pytest puts the checkout on sys.path)."""
    saved = _drop_models_modules()
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != REPO])
    yield
    _drop_models_modules()
    sys.modules.update(saved)


def _assert_legacy(exc: pytest.ExceptionInfo[LegacyModelError], uri: str, old: str, *commands: str) -> None:
    msg = str(exc.value)
    assert uri in msg and old in msg, msg
    for command in commands:
        assert f"`{command}`" in msg, msg
    assert "No module named" not in msg


def test_legacy_account_model_says_how_to_reregister(legacy, no_models_package):
    cfg, uris = legacy
    uri = uris["account"]
    with pytest.raises(LegacyModelError) as exc:
        load_pyfunc(uri)
    _assert_legacy(exc, uri, "models.account_model.AccountModel", "genuine train", "genuine promote VERSION")
    assert "genuine.models.pyfunc.AccountModel" in str(exc.value)
    assert isinstance(exc.value.__cause__, ModuleNotFoundError)
    client = tracking.configure(cfg.mlflow)
    name, version = LEGACY["account"][2], uri.rsplit("/", 1)[1]
    with pytest.raises(LegacyModelError, match="models.account_model.AccountModel"):      # promotion's re-score
        evaluate_version(client, name, version, pd.DataFrame({"y": [0, 1]}))
    with pytest.raises(LegacyModelError, match="models.account_model.AccountModel"):      # scoring, audit replay
        load_champion(client, name)


def test_legacy_text_detector_says_how_to_reregister(legacy, no_models_package, spark):
    _, uris = legacy
    uri = uris["text"]
    with pytest.raises(LegacyModelError) as exc:
        load_detector(uri)
    _assert_legacy(exc, uri, "models.text_detector.TextDetectorModel", "genuine train-text-detector")
    alias_uri = f"models:/{LEGACY['text'][2]}@champion"
    posts = spark.createDataFrame([("p1", "a1", "hello")], "post_id string, account_id string, text string")
    with pytest.raises(LegacyModelError) as exc:         # on the driver, not in a Spark worker's traceback
        score_posts(posts, alias_uri)
    _assert_legacy(exc, alias_uri, "models.text_detector.TextDetectorModel", "genuine train-text-detector")


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
def test_pickled_classes_reads_every_reference_including_memoised_module_names(protocol):
    data = pickle.dumps([collections.OrderedDict, collections.Counter, {"x": collections.OrderedDict}], protocol)
    assert pickled_classes(data) == [("collections", "OrderedDict"), ("collections", "Counter")]


def test_current_classes_are_pickled_under_their_genuine_paths(trained, tmp_path):
    cfg, _, result, _ = trained
    tracking.configure(cfg.mlflow)      # `models:/` URIs resolve in the process's registry: make it this one
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=result.model_uri, dst_path=str(tmp_path)))
    refs = pickled_classes((local / "python_model.pkl").read_bytes())
    assert ("genuine.models.pyfunc", "AccountModel") in refs
    assert not any(module == "models" or module.startswith("models.") for module, _ in refs)
    assert legacy_error(result.model_uri, local) is None
    ensure_loadable(result.model_uri)
    assert (AccountModel.__module__, TextDetectorModel.__module__) == ("genuine.models.pyfunc",
                                                                       "genuine.models.text_detector")
