"""The schedules (databricks.yml, the Airflow DAG) run exactly the task graph of schedules/pipeline.yml,
and every task's arguments are accepted by its entrypoint's parser and by the `genuine` command of the
same name. The DAG test needs Airflow: `make test-schedules` installs it in .venv-airflow and runs it
there; the main suite skips it only when airflow is not importable."""

from __future__ import annotations

import importlib
import os

import pytest
import yaml

from tests.schedules._spec import BUNDLE, DAG_FOLDER, ROOT, expected_args, spec

DATABRICKS = {"date": "{{job.start_time.iso_date}}", "lake_root": "${var.lake_root}",
              "mlflow_uri": "${var.mlflow_uri}", "export_root": "${var.export_root}"}
AIRFLOW = {"date": "{{ ds }}", "lake_root": "{{ var.value.genuine_lake_root }}",
           "mlflow_uri": "{{ var.value.genuine_mlflow_uri }}", "export_root": "{{ var.value.genuine_export_root }}"}
SAMPLE = {"date": "2026-12-05", "lake_root": "s3://lake/dev", "mlflow_uri": "databricks", "export_root": "s3://exports"}
TASKS = [(job, t) for job, j in spec()["jobs"].items() for t in j["tasks"]]


def test_the_daily_graph_is_the_issue_s_and_retraining_is_weekly():
    jobs = spec()["jobs"]
    daily = jobs["daily"]["tasks"]
    assert [t["name"] for t in daily] == ["ingest", "features", "score", "enforce", "monitor", "retrain_on_drift"]
    assert [t["depends_on"] for t in daily] == [[], ["ingest"], ["features"], ["score"], ["enforce"], ["monitor"]]
    # monitor fails (exit 4) on drift: the retraining after it must run anyway, and only it
    assert [t.get("run_if") for t in daily] == [None] * 5 + ["all_done"]
    assert daily[-1]["entrypoint"] == "jobs/retrain.py" and daily[-1]["args"] == ["--if-drift"]
    assert jobs["retrain"]["cron"].split()[-1] != "*"            # one day of the week
    assert [(t["name"], t["entrypoint"]) for t in jobs["retrain"]["tasks"]] == [("retrain", "jobs/retrain.py")]


@pytest.mark.parametrize(("job", "task"), TASKS, ids=[f"{j}-{t['name']}" for j, t in TASKS])
def test_task_arguments_parse_with_the_entrypoint_and_the_cli(job, task):
    from typer.main import get_command

    from genuine.cli.app import app

    assert (ROOT / task["entrypoint"]).is_file()
    module = importlib.import_module("genuine." + task["entrypoint"].removesuffix(".py").replace("/", "."))
    args = expected_args(job, task, SAMPLE)
    parsed = module.parser().parse_args(args)          # argparse exits (SystemExit) on anything unknown
    assert parsed.env == "cluster" and parsed.run_id == f"{job}-{task['name']}-2026-12-05"
    assert parsed.overrides == [f"lake.root={SAMPLE['lake_root']}", f"mlflow.tracking_uri={SAMPLE['mlflow_uri']}"]
    # the `genuine <name>` command takes the same options (scheduled jobs = the CLI, README)
    command = get_command(app).commands[task["entrypoint"].removeprefix("jobs/").removesuffix(".py")]
    opts = {o for p in command.params for o in p.opts}
    assert {a for a in args if a.startswith("--")} <= opts, (task["name"], opts)


def test_bundle_runs_the_pipeline_tasks_with_their_parameters():
    bundle = yaml.safe_load(BUNDLE.read_text())
    s = spec()
    for job, j in s["jobs"].items():
        res = bundle["resources"]["jobs"][f"genuine_{job}"]
        assert res["schedule"] == {"quartz_cron_expression": j["quartz_cron"], "timezone_id": "UTC"}
        tasks = res["tasks"]
        assert [t["task_key"] for t in tasks] == [t["name"] for t in j["tasks"]]
        for got, want in zip(tasks, j["tasks"], strict=True):
            assert [d["task_key"] for d in got.get("depends_on", [])] == want["depends_on"]
            assert got.get("run_if", "ALL_SUCCESS") == want.get("run_if", "all_success").upper()
            spt = got["spark_python_task"]
            assert spt["python_file"] == f"./{want['entrypoint']}" and (ROOT / want["entrypoint"]).is_file()
            assert spt["parameters"] == expected_args(job, want, DATABRICKS)
            assert got["libraries"] == [{"whl": "./dist/*.whl"}]
            # the run's state follows its last task: drift (monitor's exit 4) alerts from the task itself
            assert ("email_notifications" in got) == (want["name"] == "monitor")
        env = res["job_clusters"][0]["new_cluster"]["spark_env_vars"]
        assert env == {s["hmac_key_env"]: "{{secrets/${var.secret_scope}/hmac-key}}"}


def test_bundle_targets_have_their_own_lake_mlflow_and_secret_scope():
    bundle = yaml.safe_load(BUNDLE.read_text())
    targets = bundle["targets"]
    assert set(targets) == {"dev", "prod"}
    needed = {"lake_root", "mlflow_uri", "export_root", "secret_scope"}
    for t in targets.values():
        assert needed <= set(t["variables"])
    dev, prod = targets["dev"]["variables"], targets["prod"]["variables"]
    for k in ("lake_root", "export_root", "secret_scope"):
        assert dev[k] != prod[k], k
    assert targets["dev"]["workspace"]["host"] != targets["prod"]["workspace"]["host"]   # MLflow "databricks" = it
    assert set(bundle["variables"]) >= needed


def _dagbag():
    if os.environ.get("GENUINE_REQUIRE_AIRFLOW"):    # set by `make test-schedules`: there a skip would hide a failure
        import airflow  # noqa: F401
    pytest.importorskip("airflow", reason="Airflow is not installed here: `make test-schedules` runs this test "
                                          "in .venv-airflow (pyproject extra `airflow`)")
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".venv-airflow" / "home"))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAG_FOLDER))


def test_dag_imports_and_matches_the_pipeline():
    bag = _dagbag()
    assert bag.import_errors == {}
    s = spec()
    assert set(bag.dag_ids) == {f"genuine_{job}" for job in s["jobs"]}
    for job, j in s["jobs"].items():
        dag = bag.dags[f"genuine_{job}"]
        assert dag.timetable.expression == j["cron"] and str(dag.timetable.timezone) in ("UTC", "Timezone('UTC')")
        assert [t.task_id for t in dag.topological_sort()] == [t["name"] for t in j["tasks"]]
        for want in j["tasks"]:
            op = dag.get_task(want["name"])
            assert sorted(op.upstream_task_ids) == sorted(want["depends_on"])
            assert op.application == "{{ var.value.genuine_home }}/" + want["entrypoint"]
            assert op.application_args == expected_args(job, want, AIRFLOW)
            assert op.env_vars == {s["hmac_key_env"]: "{{ var.value.genuine_hmac_key }}"}
            assert op._conn_id == "spark_genuine"
            assert op.trigger_rule == want.get("run_if", "all_success")
