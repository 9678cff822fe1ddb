"""Resilient logging against a real ``mlflow server`` process that is killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from jupyter_mlops import resilient
from tests.tracking.conftest import base_env, free_port, wait_ready


@dataclass
class Server:
    """A plain ``mlflow server`` (SQLite) that a test can kill and start again, same port."""

    work: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        log = self.work / "mlflow.log"
        with log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1",
                 "--backend-store-uri", f"sqlite:///{self.work / 'mlflow.db'}",
                 "--default-artifact-root", str(self.work / "artifacts")],
                stdout=out, stderr=subprocess.STDOUT, env=base_env(), start_new_session=True,
            )  # fmt: skip
        if wait:
            self.wait()

    def wait(self) -> None:
        assert self.process is not None
        wait_ready(self.process, f"{self.url}/health", self.work / "mlflow.log", seconds=240)

    def kill(self) -> None:
        """SIGKILL the whole process group: no graceful shutdown, requests cut mid-flight."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("mlflow"), free_port())
    running.start()
    yield running
    running.kill()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "spool"
    resilient.enable(folder)
    yield folder
    resilient.disable(timeout=5)
    mlflow.set_tracking_uri("")


def _history(url: str, run_id: str, key: str) -> list[tuple[int, float]]:
    resilient.disable(timeout=5)  # read through MLflow's plain client
    points = MlflowClient(url).get_metric_history(run_id, key)
    return [(p.step, p.value) for p in sorted(points, key=lambda p: (p.timestamp, p.step))]


def test_batches_respect_mlflow_limits() -> None:
    # Given 2500 metrics, 150 params and a param key repeated, for one run
    records: list[tuple[object, ...]] = [("m", "r", "loss", float(i), 1, i) for i in range(2500)]
    records += [("p", "r", f"p{i}", i) for i in range(150)]
    records += [("p", "r", "p149", 149)]

    # When cut into log_batch bodies
    cut = resilient.batches(records)

    # Then no body breaks a limit, order is kept and nothing is lost
    assert all(len(b["metrics"]) <= 1000 and len(b["params"]) <= 100 for b in cut)
    assert all(len(b["metrics"]) + len(b["params"]) + len(b["tags"]) <= 1000 for b in cut)
    steps = [m[3] for b in cut for m in b["metrics"]]
    assert steps == list(range(2500))
    params = [p[0] for b in cut for p in b["params"]]
    assert params == [f"p{i}" for i in range(150)] + ["p149"]
    assert not any(b["params"].count(["p149", "149"]) > 1 for b in cut)


def test_outage_loses_nothing_and_duplicates_nothing(server: Server, spool: Path) -> None:
    # Given a run on a live server and a resilient logger
    client = MlflowClient(server.url)
    run_id = client.create_run(client.create_experiment("outage")).info.run_id
    log = resilient.logger(run_id, server.url)
    store = resilient.store_for(server.url)

    # When 10,000 points are logged while the server is SIGKILLed at point 3000 and started
    # again (same SQLite backend, same port) at point 7000, the loop going on meanwhile
    killed_at = restarted_at = 0.0
    for step in range(10_000):
        log.log_metric("loss", 1.0 / (step + 1), step)
        if step == 3_000:
            server.kill()
            killed_at = time.monotonic()
        if step == 7_000:
            server.start(wait=False)
            restarted_at = time.monotonic()
        time.sleep(0.0005)  # a training step
    log.log_param("epochs", 10)
    delivered = resilient.flush(timeout=300)

    # Then the server was away for seconds, batches went through the spool, and after replay
    # the server holds every point exactly once, in order
    assert restarted_at - killed_at > 1.5
    assert delivered
    assert store.shipper.stats["outages"] >= 1
    assert store.shipper.stats["spooled"] > 0
    assert store.shipper.stats["replayed"] > 0
    assert store.shipper.stats["rejected"] == 0
    history = _history(server.url, run_id, "loss")
    assert [step for step, _ in history] == list(range(10_000))
    assert [value for _, value in history] == [1.0 / (s + 1) for s in range(10_000)]
    assert MlflowClient(server.url).get_run(run_id).data.params == {"epochs": "10"}
    assert not list(spool.rglob("*.jsonl"))


def test_a_spool_left_by_a_dead_process_is_replayed(server: Server, spool: Path) -> None:
    # Given a run, and a spool written by a training process that died while the server was away
    client = MlflowClient(server.url)
    run_id = client.create_run(client.create_experiment("orphan")).info.run_id
    script = (
        "import sys, mlflow\n"
        "from jupyter_mlops import resilient\n"
        "resilient.enable(sys.argv[1])\n"
        "log = resilient.logger(sys.argv[2], 'http://127.0.0.1:9')\n"  # nothing listens there
        "[log.log_metric('acc', s / 100, s) for s in range(100)]\n"
        "resilient.store_for('http://127.0.0.1:9').shipper.flush(1)\n"
        "import os; os._exit(0)\n"  # dies without closing
    )
    subprocess.run([sys.executable, "-c", script, str(spool), run_id], check=True, env=base_env())
    orphans = list(spool.rglob("*.jsonl"))
    assert len(orphans) == 1
    # (the spool names the server it was for; move it to the live server's folder)
    live = resilient.store_for(server.url).shipper.spool_dir
    resilient.disable(timeout=5)
    live.mkdir(parents=True, exist_ok=True)
    orphans[0].rename(live / orphans[0].name)

    # When resilient logging starts again in this process
    resilient.enable(spool)
    resilient.logger(run_id, server.url).log_metric("acc", 1.0, 100)
    assert resilient.flush(timeout=60)

    # Then the dead process's points were replayed, before the new one
    assert [s for s, _ in _history(server.url, run_id, "acc")] == list(range(101))


def test_refused_batches_are_dropped_and_logging_goes_on(server: Server, spool: Path) -> None:
    # Given a run whose parameter "lr" is already 0.1
    client = MlflowClient(server.url)
    run_id = client.create_run(client.create_experiment("refused")).info.run_id
    client.log_param(run_id, "lr", "0.1")
    log = resilient.logger(run_id, server.url)

    # When a batch tries to change it, and later points follow
    log.log_param("lr", "0.2")
    assert resilient.flush(timeout=60)
    log.log_metric("loss", 0.5, 1)
    assert resilient.flush(timeout=60)

    # Then the refused batch is counted, not retried forever, and the next one lands
    assert resilient.store_for(server.url).shipper.stats["rejected"] == 1
    assert _history(server.url, run_id, "loss") == [(1, 0.5)]


def test_mlflow_fluent_api_and_autolog_go_through_the_queue(server: Server, spool: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    # Given resilient logging enabled and sklearn autologging on
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog(log_models=False, log_datasets=False, silent=True)

    # When a model is fitted and a metric logged by hand, inside one run
    with mlflow.start_run() as run:
        LogisticRegression(C=0.5, max_iter=50).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        for step in range(5):
            mlflow.log_metric("manual", step * 2.0, step=step)
    mlflow.sklearn.autolog(disable=True)
    shipped = resilient.store_for(server.url).shipper.stats["sent"]

    # Then both reached the server through the resilient store
    data = MlflowClient(server.url).get_run(run.info.run_id).data
    assert shipped >= 1
    assert data.params["C"] == "0.5"
    assert "training_accuracy_score" in data.metrics
    assert [s for s, _ in _history(server.url, run.info.run_id, "manual")] == list(range(5))
