"""Benchmark: the permission layer vs plain ``mlflow server`` on the same kind of backend.

Run: ``.venv/bin/python -m tests.tracking.bench_overhead`` (from the repository root). Starts the
check-API double, a plain ``mlflow server`` and a ``--app-name sharinghub`` one (SQLite each),
then times ``log_batch`` of 1000 metrics and ``search_runs`` on both and prints the ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.tracking.conftest import base_env, free_port, stop

ROUNDS = 30


def _start(
    command: list[str], env: dict[str, str], ready: str, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready, timeout=1).status_code < 500:
                return process
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"not ready: {ready}\n{log.read_text()[-2000:]}")


def _mlflow(work: Path, port: int, plugin: bool, env: dict[str, str]) -> subprocess.Popen[bytes]:
    database = f"sqlite:///{work / f'{port}.db'}"
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--backend-store-uri", database,
               "--serve-artifacts", "--artifacts-destination", str(work / f"a{port}")]  # fmt: skip
    if plugin:
        command[4:4] = ["--app-name", "sharinghub"]
    return _start(command, env, f"http://127.0.0.1:{port}/health", work / f"{port}.log")


def _time(action: Callable[[], object]) -> float:
    action()  # warm-up (and fill the permission cache)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _measure(uri: str, experiment_name: str) -> dict[str, float]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(experiment_name)
    run_id = client.create_run(experiment_id).info.run_id
    for _ in range(20):
        client.create_run(experiment_id)
    step = iter(range(10**9))

    def log_batch() -> None:
        s = next(step)
        now = int(time.time() * 1000)
        metrics = [Metric(f"m{i}", float(i), now, s) for i in range(1000)]
        client.log_batch(run_id, metrics=metrics)

    return {
        "log_batch(1000 metrics)": _time(log_batch),
        "search_runs": _time(lambda: client.search_runs([experiment_id], max_results=50)),
    }


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
    config = work / "double.json"
    config.write_text(
        json.dumps(
            {
                "projects": [
                    {"id": 7, "path": "g/p", "visibility": "private", "categories": ["ai-model"]}
                ],
                "members": {"dev": {"g/p": 3}},
            }
        )
    )
    env = base_env()
    double_port, plain_port, layer_port = free_port(), free_port(), free_port()
    processes = [
        _start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "--port",
                str(double_port),
                "tests.tracking.sharinghub_double:create_app",
            ],
            {**env, "DOUBLE_CONFIG": str(config)},
            f"http://127.0.0.1:{double_port}/calls",
            work / "double.log",
        ),
        _mlflow(work, plain_port, False, env),
        _mlflow(
            work, layer_port, True, {**env, "SHARINGHUB_URL": f"http://127.0.0.1:{double_port}"}
        ),
    ]
    try:
        os.environ["MLFLOW_TRACKING_TOKEN"] = "dev"
        plain = _measure(f"http://127.0.0.1:{plain_port}", "bench")
        layer = _measure(f"http://127.0.0.1:{layer_port}/g/p/tracking/", "bench (7)")
    finally:
        for process in processes:
            stop(process)
    print(f"{'operation':28} {'plain ms':>9} {'layer ms':>9} {'ratio':>6}")
    for name in plain:
        ratio = layer[name] / plain[name]
        print(f"{name:28} {plain[name] * 1000:9.1f} {layer[name] * 1000:9.1f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
