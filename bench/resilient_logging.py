"""Benchmark: resilient logging vs MLflow's own ways of logging metric points, side by side.

Run with ``python bench/resilient_logging.py`` (``--points 10000``). It starts one real
``mlflow server`` (SQLite backend, as the embedded platform uses), creates one run, and logs
metric points into that run, each method under its own metric key:

* ``plain``: a ``mlflow.log_metric`` loop (one HTTP request per point);
* ``async``: ``mlflow.log_metric(..., synchronous=False)`` then ``mlflow.flush_async_logging()``;
* ``log_batch``: raw ``MlflowClient.log_batch`` calls of 1000 metrics;
* ``resilient``: :class:`jupyter_mlops.resilient.RunLogger` then ``flush()``;
* ``resilient-fluent``: ``mlflow.log_metric`` with :func:`jupyter_mlops.resilient.enable`.

The plain and async loops are slow by nature, so they log fewer points (``--plain-points``,
``--async-points``); every method is reported per point: end to end (until the server holds all
points) and the training loop's own time per call. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mlflow(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = (work / "mlflow.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
         "--default-artifact-root", str(work / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("mlflow server did not start") from None
            time.sleep(0.3)


def timed(label: str, points: int, loop: Callable[[], None], wait: Callable[[], object]) -> dict:
    start = time.perf_counter()
    loop()
    looped = time.perf_counter() - start
    wait()
    total = time.perf_counter() - start
    row = {"method": label, "points": points, "total": total / points, "loop": looped / points}
    print(
        f"  {label:18} {points:6d} points  {row['total'] * 1e3:9.3f} ms/point end to end"
        f"  {row['loop'] * 1e6:10.1f} us/call in the loop",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--plain-points", type=int, default=300)
    parser.add_argument("--async-points", type=int, default=2_000)
    args = parser.parse_args()

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from jupyter_mlops import resilient

    work = Path(tempfile.mkdtemp(prefix="bench-resilient-"))
    os.environ["MLOPS_SPOOL_DIR"] = str(work / "spool")
    process, url = start_mlflow(work)
    try:
        mlflow.set_tracking_uri(url)
        client = MlflowClient(url)
        experiment = client.create_experiment("bench")
        run = mlflow.start_run(experiment_id=experiment)
        run_id = run.info.run_id
        print(f"mlflow server {url} (SQLite), run {run_id}", flush=True)
        rows = {}

        def plain() -> None:
            for step in range(args.plain_points):
                mlflow.log_metric("plain", step * 0.5, step=step)

        rows["plain"] = timed("plain log_metric", args.plain_points, plain, lambda: None)

        def async_loop() -> None:
            for step in range(args.async_points):
                mlflow.log_metric("async", step * 0.5, step=step, synchronous=False)

        rows["async"] = timed(
            "async log_metric", args.async_points, async_loop, mlflow.flush_async_logging
        )

        def raw_batches() -> None:
            now = int(time.time() * 1000)
            for first in range(0, args.points, 1000):
                metrics = [
                    Metric("log_batch", step * 0.5, now, step)
                    for step in range(first, min(first + 1000, args.points))
                ]
                client.log_batch(run_id, metrics=metrics)

        rows["batch"] = timed("raw log_batch", args.points, raw_batches, lambda: None)

        resilient.enable(work / "spool")
        logger = resilient.logger(run_id, url)

        def resilient_loop() -> None:
            for step in range(args.points):
                logger.log_metric("resilient", step * 0.5, step)

        rows["resilient"] = timed(
            "resilient", args.points, resilient_loop, lambda: resilient.flush(600)
        )

        def fluent_loop() -> None:
            for step in range(args.points):
                mlflow.log_metric("resilient_fluent", step * 0.5, step=step)

        rows["fluent"] = timed(
            "resilient-fluent", args.points, fluent_loop, lambda: resilient.flush(600)
        )
        mlflow.end_run()
        resilient.disable()

        counts = {
            key: len(client.get_metric_history(run_id, key))
            for key in ("plain", "async", "log_batch", "resilient", "resilient_fluent")
        }
        print(f"points on the server: {counts}")
        res = rows["resilient"]["total"]
        print("\nper-point ratios (end to end, same server, same run):")
        print(f"  plain loop / resilient      {rows['plain']['total'] / res:8.1f}x  (goal >= 200x)")
        print(f"  async / resilient           {rows['async']['total'] / res:8.1f}x  (goal >= 20x)")
        print(f"  resilient / raw log_batch   {res / rows['batch']['total']:8.2f}x  (goal <= 1.5x)")
        print(
            f"  loop cost per call          {rows['resilient']['loop'] * 1e6:8.2f} us"
            " (goal < 50 us)"
            f"; through mlflow.log_metric {rows['fluent']['loop'] * 1e6:.1f} us"
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
