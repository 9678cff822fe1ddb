"""Benchmark: the SharingHub permission layer vs plain ``mlflow server``, side by side.

Run from the repository root: ``python bench/mlflow_overhead.py [--rounds 40]``. It starts

* the SharingHub check-API test double (``tests/tracking/sharinghub_double.py``, over HTTP),
* a plain ``mlflow server`` and an ``mlflow server --app-name sharinghub`` (``SHARINGHUB_URL``
  = the double), each on its own SQLite file with proxied local artifacts, one worker each,

then, for ``log_batch`` of 1000 metrics and for a run search (``search_runs``, 50 of 21 runs),
interleaves the two servers request by request (alternating which goes first) so that machine
noise hits both alike, and prints medians, p90s and two ratios: layer median / plain median,
and the median of the per-round ratios. Goal: ratio <= 1.2. Numbers are printed, never
asserted: this is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-developer"
PROJECT = {"id": 7, "path": "bench/model", "visibility": "private", "categories": ["ai-model"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **extra,
    }


def _start(
    command: list[str], env: dict[str, str], ready: str, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(ready, timeout=1).status_code < 500:
                return process
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"not ready: {ready}\n{log.read_text()[-2000:]}")


def _mlflow(
    work: Path, name: str, plugin: bool, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    database, artifacts = f"sqlite:///{work / f'{name}.db'}", str(work / f"{name}-artifacts")
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--backend-store-uri", database,
               "--serve-artifacts", "--artifacts-destination", artifacts]  # fmt: skip
    if plugin:
        command += ["--app-name", "sharinghub"]
    url = f"http://127.0.0.1:{port}"
    return _start(command, env, f"{url}/health", work / f"{name}.log"), url


class Target:
    """One server under test: a project experiment with a run to log into and runs to find."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.experiment_id = self.client.create_experiment(experiment)
        self.run_id = self.client.create_run(self.experiment_id).info.run_id
        for _ in range(20):
            self.client.create_run(self.experiment_id)
        self.step = 0

    def log_batch(self, metrics: int) -> None:
        from mlflow.entities import Metric

        self.step += 1
        now = int(time.time() * 1000)
        batch = [Metric(f"m{i}", float(i), now, self.step) for i in range(metrics)]
        self.client.log_batch(self.run_id, metrics=batch)

    def search(self) -> None:
        self.client.search_runs([self.experiment_id], max_results=50)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds per operation")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured rounds first")
    parser.add_argument("--metrics", type=int, default=1000, help="metrics per log_batch")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mlflow-overhead-"))
    config = work / "double.json"
    config.write_text(json.dumps({"projects": [PROJECT], "members": {TOKEN: {PROJECT["path"]: 3}}}))
    double_port = _free_port()
    double_url = f"http://127.0.0.1:{double_port}"
    double = [sys.executable, "-m", "uvicorn", "--factory", "--port", str(double_port),
              "--log-level", "warning", "tests.tracking.sharinghub_double:create_app"]  # fmt: skip
    processes = [
        _start(double, _env(DOUBLE_CONFIG=str(config)), f"{double_url}/calls", work / "double.log")
    ]
    try:
        plain_process, plain_url = _mlflow(work, "plain", False, _env())
        processes.append(plain_process)
        layer_process, layer_url = _mlflow(work, "layer", True, _env(SHARINGHUB_URL=double_url))
        processes.append(layer_process)
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        os.environ["MLFLOW_TRACKING_TOKEN"] = TOKEN  # the plain server ignores it
        plain = Target(plain_url, "bench")
        layer = Target(f"{layer_url}/{PROJECT['path']}/tracking/", f"bench ({PROJECT['id']})")
        operations: dict[str, Callable[[Target], object]] = {
            f"log_batch({args.metrics} metrics)": lambda t: t.log_batch(args.metrics),
            "search_runs(50 of 21)": lambda t: t.search(),
        }
        results: dict[str, tuple[list[float], list[float]]] = {}
        for name, operation in operations.items():
            plain_times: list[float] = []
            layer_times: list[float] = []
            for round_number in range(args.warmup + args.rounds):
                pair = (plain, layer) if round_number % 2 == 0 else (layer, plain)
                times = {id(t): _timed(partial(operation, t)) for t in pair}
                if round_number >= args.warmup:
                    plain_times.append(times[id(plain)])
                    layer_times.append(times[id(layer)])
            results[name] = (plain_times, layer_times)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    print(f"plain mlflow server vs --app-name sharinghub, SQLite each, {args.rounds} rounds")
    header = (
        f"{'operation':26} {'plain p50':>10} {'layer p50':>10} {'plain p90':>10} "
        f"{'layer p90':>10} {'ratio p50':>10} {'ratio/round':>12}"
    )
    print(header)
    for name, (plain_times, layer_times) in results.items():
        p50_plain, p50_layer = statistics.median(plain_times), statistics.median(layer_times)
        ratios = [lt / pt for pt, lt in zip(plain_times, layer_times, strict=True)]
        per_round = statistics.median(ratios)
        print(
            f"{name:26} {p50_plain * 1000:8.1f}ms {p50_layer * 1000:8.1f}ms "
            f"{_p90(plain_times) * 1000:8.1f}ms {_p90(layer_times) * 1000:8.1f}ms "
            f"{p50_layer / p50_plain:10.2f} {per_round:12.2f}"
        )
    print("goal: ratio <= 1.2")


if __name__ == "__main__":
    main()
