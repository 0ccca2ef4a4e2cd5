"""The account model as an MLflow pyfunc, and how genuine loads any registered model.

The registered artefact is a custom pyfunc holding the fitted scikit-learn pipeline (joblib) because
MLflow's sklearn flavour serialises with skops, which refuses HistGradientBoosting's tree predictor type,
plus the human reference distribution that scoring needs for reason codes.

MLflow pickles the PythonModel instance by reference: loading a version needs its class at the class path
it was logged under. That path, `genuine.models.pyfunc.AccountModel`, is meant to stay. Versions an older
genuine registered refer to `models.account_model.AccountModel` (and `models.text_detector.
TextDetectorModel`); loading one through `load_pyfunc` or `ensure_loadable` raises `LegacyModelError`
saying how to re-register, instead of `No module named 'models'` from inside MLflow or a Spark worker.
"""

from __future__ import annotations

import importlib
import json
import logging
import pickletools
import tempfile
from collections.abc import Sequence
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import cloudpickle
import joblib
import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import Model, infer_signature
from mlflow.pyfunc import PythonModel
from sklearn.calibration import CalibratedClassifierCV
from threadpoolctl import threadpool_limits

from genuine.core.errors import LegacyModelError
from genuine.models.ensemble import FamilyVote

log = logging.getLogger(__name__)

REFERENCE_FILE = "reference.json"
DRIFT_REFERENCE_FILE = "drift_reference.json"     # models/monitoring.py: what `genuine monitor` compares with
PIPELINE_FILE = "pipeline.joblib"
NOVELTY_FILE = "novelty.joblib"
# predict(..., params={"output": ...}): the calibrated score (default) or the novelty percentile
OUTPUT_SCORE, OUTPUT_NOVELTY = "score", "novelty"
ACCOUNT_MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "joblib", "scipy")

# Top-level packages whose classes genuine pickles: an older genuine's were under `models`.
_OUR_PACKAGES = ("models", "genuine")
# What replaced each pickled PythonModel class, and how to register a version that uses it (by class name,
# so any older class path of the same model is recognised).
_CURRENT = {"AccountModel": "genuine.models.pyfunc.AccountModel",
            "TextDetectorModel": "genuine.models.text_detector.TextDetectorModel"}
_REREGISTER = {
    "AccountModel": "run `genuine train` (the new version becomes champion through the promotion gates; "
                    "`genuine promote VERSION` re-runs them for a version)",
    "TextDetectorModel": "run `genuine train-text-detector` (the new version becomes the text detector's champion)",
}


class AccountModel(PythonModel):
    """Pyfunc wrapper: DataFrame with the feature columns in, calibrated P(ai) out, or with
    params={"output": "novelty"} the novelty percentile (NaN for a version stored without one)."""

    def load_context(self, context: Any) -> None:
        self._model = joblib.load(context.artifacts["pipeline"])
        self._features = json.loads(Path(context.artifacts["reference"]).read_text())["feature_order"]
        path = context.artifacts.get("novelty")
        self._novelty = joblib.load(path) if path else None

    # pd.DataFrame is a hint MLflow accepts without inferring a schema from it: the signature is
    # given explicitly when logging.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        X = model_input[self._features].astype("float64")
        output = (params or {}).get("output", OUTPUT_SCORE)
        # Spark already runs one task per core; OpenMP threads on top of that only oversubscribe.
        with threadpool_limits(limits=1):
            if output == OUTPUT_NOVELTY:
                return self._novelty.score(X) if self._novelty is not None else np.full(len(X), np.nan)
            if output != OUTPUT_SCORE:
                raise ValueError(f"unknown output {output!r}: {OUTPUT_SCORE!r} or {OUTPUT_NOVELTY!r}")
            return self._model.predict_proba(X)[:, 1]


def pip_requirements(packages: Sequence[str]) -> list[str]:
    """Pinned from the running environment: inference by MLflow would start a subprocess for nothing."""
    return [f"{p}=={pkg_version(p)}" for p in packages]


def log_account_model(model: CalibratedClassifierCV | FamilyVote, reference: dict[str, Any], example: pd.DataFrame,
                      registered_name: str, tmp: str, novelty: Any = None,
                      drift_reference: dict[str, Any] | None = None) -> str:
    """Log the fitted model with its reference (and novelty scorer, drift reference) into the active run,
    register it; returns the version."""
    pipe = Path(tmp) / PIPELINE_FILE
    ref = Path(tmp) / REFERENCE_FILE
    joblib.dump(model, pipe)
    ref.write_text(json.dumps(reference))
    artifacts = {"pipeline": str(pipe), "reference": str(ref)}
    if drift_reference is not None:
        (Path(tmp) / DRIFT_REFERENCE_FILE).write_text(json.dumps(drift_reference))
        artifacts["drift_reference"] = str(Path(tmp) / DRIFT_REFERENCE_FILE)
    if novelty is not None:
        joblib.dump(novelty, Path(tmp) / NOVELTY_FILE)
        artifacts["novelty"] = str(Path(tmp) / NOVELTY_FILE)
    example = example.astype("float64")
    signature = infer_signature(example, model.predict_proba(example)[:, 1], params={"output": OUTPUT_SCORE})
    info = mlflow.pyfunc.log_model(
        name="model", python_model=AccountModel(),
        artifacts=artifacts,
        signature=signature, input_example=example, pip_requirements=pip_requirements(ACCOUNT_MODEL_REQUIREMENTS),
        registered_model_name=registered_name)
    if info.registered_model_version is None:
        raise RuntimeError("model was logged but not registered")
    return str(info.registered_model_version)


# --- loading ----------------------------------------------------------------------------------------

def load_pyfunc(uri: str) -> mlflow.pyfunc.PyFuncModel:
    """`mlflow.pyfunc.load_model`, except that a version pickled under a class path genuine no longer
    has raises LegacyModelError (how to re-register it) instead of an import error."""
    try:
        return mlflow.pyfunc.load_model(uri)
    except (ModuleNotFoundError, AttributeError) as exc:
        legacy = legacy_error(uri)
        if legacy is None:
            raise
        raise legacy from exc


def ensure_loadable(uri: str, model_dir: Path | None = None) -> None:
    """Raise LegacyModelError if the model's pickle refers to a class this genuine does not have.

    For `mlflow.pyfunc.spark_udf`, which unpickles the model only on the executors, where a stale class
    path would surface as a worker traceback. `model_dir`: the model already downloaded (else the
    check downloads MLmodel and the pickle, a few hundred bytes, not the model's artifacts)."""
    legacy = legacy_error(uri, model_dir)
    if legacy is not None:
        raise legacy


def legacy_error(uri: str, model_dir: Path | None = None) -> LegacyModelError | None:
    """The LegacyModelError for this model, or None when its pickled PythonModel loads (or fails for a
    reason other than a genuine class path that no longer exists: that error is MLflow's to report)."""
    if model_dir is None:
        with tempfile.TemporaryDirectory() as tmp:
            return legacy_error(uri, _download_pickle(uri, Path(tmp)))
    pickle_file = _python_model_file(model_dir)
    if pickle_file is None:
        return None
    data = pickle_file.read_bytes()
    try:
        cloudpickle.loads(data)          # what MLflow does first when it loads the model: tiny, no artifacts
        return None
    except (ImportError, AttributeError):
        pass
    missing = [f"{module}.{name}" for module, name in pickled_classes(data)
               if module.split(".")[0] in _OUR_PACKAGES and not _resolves(module, name)]
    return LegacyModelError(_message(uri, missing)) if missing else None


def pickled_classes(data: bytes) -> list[tuple[str, str]]:
    """(module, qualified name) of every class or function a pickle refers to by reference."""
    found: list[tuple[str, str]] = []
    memo: dict[int, str | None] = {}
    pushed: list[str | None] = []        # what each op pushed: the string, or None for anything else
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("PROTO", "FRAME"):
            continue
        if op.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(arg)] = pushed[-1] if pushed else None
        elif op.name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(int(arg)))
        elif op.name == "GLOBAL" and isinstance(arg, str):          # protocols 0-3: "module name"
            module, _, name = arg.partition(" ")
            found.append((module, name))
            pushed.append(None)
        elif op.name == "STACK_GLOBAL":                             # protocol 4+: module and name on the stack
            module, name = (pushed[-2], pushed[-1]) if len(pushed) >= 2 else (None, None)
            if isinstance(module, str) and isinstance(name, str):
                found.append((module, name))
            pushed.append(None)
        else:
            pushed.append(arg if isinstance(arg, str) and "UNICODE" in op.name else None)
    return found


def _resolves(module: str, name: str) -> bool:
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except Exception:       # any failure to import is what unpickling would hit too
        return False
    return True


def _python_model_file(model_dir: Path) -> Path | None:
    """The pickled PythonModel of a pyfunc model directory (None for other flavours)."""
    conf = Model.load(str(model_dir)).flavors.get("python_function", {})
    name = conf.get("python_model")
    return model_dir / name if name and (model_dir / name).is_file() else None


def _download_pickle(uri: str, dst: Path) -> Path:
    uri = uri.rstrip("/")
    mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/MLmodel", dst_path=str(dst))
    name = Model.load(str(dst)).flavors.get("python_function", {}).get("python_model")
    if name:
        mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/{name}", dst_path=str(dst))
    return dst


def _message(uri: str, missing: list[str]) -> str:
    kinds = [k for k in _CURRENT if any(path.endswith(f".{k}") for path in missing)]
    now = "; ".join(f"now {_CURRENT[k]}" for k in kinds)
    how = " / ".join(_REREGISTER[k] for k in (kinds or list(_REREGISTER)))
    return (f"{uri} was registered by an older genuine: its pickle refers to {', '.join(missing)}, which "
            f"this version does not have{f' ({now})' if now else ''}. Re-register it: {how}.")
