"""Airflow DAGs of genuine: `genuine_daily` (ingest -> features -> score -> enforce -> monitor) and
`genuine_retrain` (weekly; the daily graph ends with retrain_on_drift), built from schedules/pipeline.yml, the task list databricks.yml also follows.

No logic: one SparkSubmitOperator per task, running `spark-submit jobs/<name>.py <args>` on the Spark
connection `spark_genuine`. Deployment facts come from Airflow Variables (docs/scheduling.md):
genuine_home (where the repository's jobs/ are on the workers), genuine_lake_root, genuine_mlflow_uri,
genuine_export_root, and genuine_hmac_key (keep it in a secrets backend: it is read at run time only).
The monitor task fails with exit status 4 when drift is past a threshold: Airflow's failure alert is the
drift alert (a task's own alert: the run's state follows its last task, retrain_on_drift), and
`retrain_on_drift` (trigger rule all_done) then retrains; a retrain task fails with exit
status 5 when the gates kept the champion. Copy this folder
(with pipeline.yml one level up) into the DAG folder.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
import yaml
from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline.yml"
CONN_ID = "spark_genuine"
# pipeline.yml placeholders, as Airflow templates
FILL = {"date": "{{ ds }}", "lake_root": "{{ var.value.genuine_lake_root }}",
        "mlflow_uri": "{{ var.value.genuine_mlflow_uri }}", "export_root": "{{ var.value.genuine_export_root }}"}
HOME = "{{ var.value.genuine_home }}"


def _fill(args: list[str]) -> list[str]:
    return [a.format(**FILL) for a in args]


spec = yaml.safe_load(PIPELINE.read_text())
for job_name, job in spec["jobs"].items():
    with DAG(dag_id=f"genuine_{job_name}", schedule=job["cron"], start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             catchup=False, max_active_runs=1, tags=["genuine"]) as dag:
        ops = {t["name"]: SparkSubmitOperator(
            task_id=t["name"], conn_id=CONN_ID, name=f"genuine-{job_name}-{t['name']}",
            application=f"{HOME}/{t['entrypoint']}",
            application_args=[*_fill(t["args"]), *_fill(spec["common_args"]),
                              "--run-id", f"{job_name}-{t['name']}-" + FILL["date"]],
            env_vars={spec["hmac_key_env"]: "{{ var.value.genuine_hmac_key }}"},
            trigger_rule=t.get("run_if", "all_success"))
            for t in job["tasks"]}
        for t in job["tasks"]:
            for upstream in t["depends_on"]:
                ops[upstream] >> ops[t["name"]]
    globals()[dag.dag_id] = dag
