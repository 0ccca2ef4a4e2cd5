#!/usr/bin/env bash
# `make cluster-demo`: the pipeline on a Spark standalone cluster on this machine, then the same jobs in
# local[2] on the same export, and the two lakes' feature and score tables compared row for row.
#
# The cluster is the pyspark installation's own: one master and two workers of 1 core each, started with
# spark-class and stopped at the end whatever happens (trap). Every step is `spark-submit jobs/<name>.py`,
# the entrypoint a scheduler calls, with conf/cluster.yml; each job is its own driver, so state passes
# from one to the next only through the lake and the MLflow store on the shared filesystem.
# Settings (environment): CLUSTER_DEMO_ACCOUNTS (400), CLUSTER_DEMO_DAYS (14), CLUSTER_DEMO_DIR
# (out/cluster-demo), CLUSTER_DEMO_WORKER_MEMORY (1g), CLUSTER_DEMO_SKIP_LOCAL=1 (cluster run only).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
SPARK_HOME=$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME
ACCOUNTS=${CLUSTER_DEMO_ACCOUNTS:-400}
DAYS=${CLUSTER_DEMO_DAYS:-14}
WORK=$(mkdir -p "${CLUSTER_DEMO_DIR:-$ROOT/out/cluster-demo}" && cd "${CLUSTER_DEMO_DIR:-$ROOT/out/cluster-demo}" && pwd)
WORKER_MEMORY=${CLUSTER_DEMO_WORKER_MEMORY:-1g}
HOST=127.0.0.1
MASTER=spark://$HOST:7077
UI_PORT=${CLUSTER_DEMO_UI_PORT:-8090}
LOGS=$WORK/logs
EXPORT=$WORK/export
TRUTH=$EXPORT/_truth/accounts.parquet

# Workers and drivers run the project's interpreter (the venv), never whatever python3 is on PATH.
export PYSPARK_PYTHON=$PY PYSPARK_DRIVER_PYTHON=$PY MLFLOW_DISABLE_TELEMETRY=true
# One HMAC key for both runs (a secret on a real cluster: docs/deploy.md), so hashed ids are comparable.
GENUINE_HMAC_KEY=${GENUINE_HMAC_KEY:-$("$PY" -c 'import secrets; print(secrets.token_hex(32))')}
export GENUINE_HMAC_KEY
DELTA=$("$PY" -c 'from genuine.core.config import load_config; print(load_config("cluster").spark.packages.delta)')
# Earlier daily snapshots, as the demo takes them (demo.training_snapshot_days): training is point in time,
# so a label decided during the window needs a snapshot from before its decision.
SNAPSHOTS=$("$PY" -c 'import sys
from genuine.core.config import load_config
from genuine.devtools.demo import training_snapshot_dates
print(" ".join(str(d) for d in training_snapshot_dates(load_config("cluster"), int(sys.argv[1]))))' "$DAYS")

pids=()
stop_cluster() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [ ${#pids[@]} -eq 0 ] || echo "cluster-demo: cluster stopped (master and ${#pids[@]} process(es) in all)"
    pids=()
    return $status
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { echo "cluster-demo: timed out waiting for $what (logs: $LOGS)"; exit 1; }
        sleep 2
    done
}

alive_workers() {   # the master's JSON status names 2 ALIVE workers
    "$PY" - "$UI_PORT" <<'EOF'
import json, sys, urllib.request
status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json", timeout=5))
sys.exit(0 if sum(w["state"] == "ALIVE" for w in status["workers"]) == 2 else 1)
EOF
}

start_cluster() {
    rm -rf "$LOGS" "$WORK/workers"
    mkdir -p "$LOGS"
    "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host $HOST --port 7077 \
        --webui-port "$UI_PORT" >"$LOGS/master.log" 2>&1 &
    pids+=($!)
    wait_for 120 "the master" "$PY" -c "import urllib.request; urllib.request.urlopen('http://$HOST:$UI_PORT/json', timeout=5)"
    for i in 1 2; do
        "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker "$MASTER" --host $HOST --cores 1 \
            --memory "$WORKER_MEMORY" --webui-port $((UI_PORT + i)) --work-dir "$WORK/workers/$i" \
            >"$LOGS/worker-$i.log" 2>&1 &
        pids+=($!)
    done
    wait_for 120 "two workers" alive_workers
    echo "cluster-demo: master $MASTER with 2 workers of 1 core, $WORKER_MEMORY each (UI http://$HOST:$UI_PORT)"
}

# run_pipeline MASTER LAKE [enforce]: every job of the pipeline up to score (and enforce when asked), each
# its own spark-submit, over LAKE.
run_pipeline() {
    local master=$1 lake=$2 last=${3:-score} start
    rm -rf "$lake"
    mkdir -p "$lake"
    local conf=(--env cluster --set "lake.root=$lake" --set "mlflow.tracking_uri=sqlite:///$lake/mlflow.db"
                --set spark.shuffle_partitions=4 --set "reports.root=$lake/reports")
    submit() {
        local name=$1
        shift
        echo "cluster-demo: [$master] jobs/$name.py $*"
        # The working directory is the lake's: nothing a job leaves in its cwd can reach the next one.
        (cd "$lake" && "$SPARK_HOME/bin/spark-submit" --master "$master" --packages "$DELTA" \
            --conf "spark.pyspark.python=$PY" --conf spark.executor.memory=768m --conf spark.driver.memory=2g \
            --conf spark.ui.enabled=false --conf spark.ui.showConsoleProgress=false \
            "$ROOT/jobs/$name.py" "$@" "${conf[@]}") >>"$LOGS/$(basename "$lake").log" 2>&1 \
            || { echo "cluster-demo: jobs/$name.py failed on $master (log: $LOGS/$(basename "$lake").log)"; tail -30 "$LOGS/$(basename "$lake").log"; exit 1; }
    }
    start=$SECONDS
    submit ingest "$EXPORT"
    for day in $SNAPSHOTS; do
        submit features --as-of "$day"
    done
    submit features --truth "$TRUTH"
    submit train --truth "$TRUTH"
    # The gates may refuse a first model trained on a few hundred accounts: the demo promotes it anyway
    # (no Spark in this step; exit 1 when it already is the champion).
    (cd "$lake" && "$PY" -m genuine.jobs.train --promote 1 --force "${conf[@]}" >>"$LOGS/$(basename "$lake").log" 2>&1) || true
    submit score
    [ "$last" != enforce ] || submit enforce
    echo "cluster-demo: [$master] pipeline done in $((SECONDS - start)) s"
}

mkdir -p "$LOGS"
echo "cluster-demo: simulating $ACCOUNTS accounts x $DAYS days into $EXPORT"
rm -rf "$EXPORT"
"$ROOT/.venv/bin/genuine" simulate --accounts "$ACCOUNTS" --days "$DAYS" --out "$EXPORT" \
    --set simulate.label_fraction=0.5 >"$LOGS/simulate.log" 2>&1

# The executors' Python: each task reports its interpreter, where genuine and scikit-learn load from, and
# its working directory (an executor's, under a worker's work dir: not the driver's).
probe_workers() {
    cat >"$WORK/probe.py" <<'PROBE'
import os, sys
from pyspark.sql import SparkSession

def where(_):
    import genuine, sklearn
    yield (sys.executable, os.path.dirname(genuine.__file__), sklearn.__version__, os.getcwd().rsplit("/", 2)[0])

spark = SparkSession.builder.appName("genuine-cluster-probe").getOrCreate()
seen = sorted(set(spark.sparkContext.parallelize(range(8), 8).mapPartitions(where).collect()))
for row in seen:
    print("cluster-demo: a task ran on python %s, genuine from %s, scikit-learn %s, in executor dir %s/..." % row)
want, workers = sys.argv[1], sys.argv[2]
bad = [r for r in seen if r[0] != want or not r[3].startswith(workers)]
sys.exit("cluster-demo: tasks ran elsewhere or on another python: %s" % bad if bad else 0)
PROBE
    "$SPARK_HOME/bin/spark-submit" --master "$MASTER" --conf "spark.pyspark.python=$PY" \
        --conf spark.executor.memory=768m --conf spark.ui.enabled=false "$WORK/probe.py" "$PY" "$WORK/workers" \
        2>>"$LOGS/probe.log" | grep '^cluster-demo:'
}

start_cluster
probe_workers
run_pipeline "$MASTER" "$WORK/lake-cluster" enforce
"$PY" - "$UI_PORT" <<'EOF'
import json, sys, urllib.request
status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json", timeout=5))
apps = status["completedapps"]
print(f"cluster-demo: the master ran {len(apps)} application(s) on its 2 workers "
      f"({', '.join(sorted({a['name'] for a in apps}))}); every one of them {'FINISHED' if all(a['state'] == 'FINISHED' for a in apps) else 'did NOT finish: ' + str([a['state'] for a in apps])}")
sys.exit(0 if apps and all(a["state"] == "FINISHED" for a in apps) else 1)
EOF
stop_cluster

if [ "${CLUSTER_DEMO_SKIP_LOCAL:-0}" = 1 ]; then
    echo "cluster-demo: CLUSTER_DEMO_SKIP_LOCAL=1: no local[2] run to compare with"
    exit 0
fi
# The local run stops at score: the comparison is of the feature and score tables.
run_pipeline "local[2]" "$WORK/lake-local"
"$PY" -m genuine.devtools.compare_lakes "$WORK/lake-cluster" "$WORK/lake-local" --env cluster
echo "cluster-demo: the cluster's feature and score tables equal local[2]'s"
