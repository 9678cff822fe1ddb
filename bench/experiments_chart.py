"""Benchmark: metric chart of the experiments panel for a run of 100,000 points vs 1,000.

Starts JupyterLab (this checkout's extension) on a fresh embedded platform, logs two runs into
the demo model project through MLflow's client (``log_batch``): a baseline of 1,000 ``loss``
points and a big one of 100,000. Then, in the system Chromium, opens the experiments panel,
charts each run alone several times (alternating) and reads what the panel records on the chart
element:

- ``total``: from the history request to the drawn canvas (proxy + MLflow's server-side
  downsampling to at most 2,500 points per run + aligning + uPlot drawing),
- ``draw``: from the data in hand to the drawn canvas (uPlot alone).

It also times MLflow's ``get-history-bulk-interval`` directly against the same server and the
full ``get-history`` (what a chart without server-side downsampling would have to fetch).
Nothing is asserted; medians and ratios to the baseline are printed side by side.

Run: ``.venv/bin/python bench/experiments_chart.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PROJECT = "demo/eurosat-lulc-classifier"
CHROMIUM = os.environ.get("PW_CHROMIUM_PATH", "/usr/bin/chromium")
TOKEN = "bench-token"  # throwaway token of a loopback JupyterLab
SIZES = {"baseline": 1_000, "big": 100_000}


def start_lab(root: Path, data: Path) -> tuple[subprocess.Popen[bytes], str]:
    from jupyter_mlops.embedded import free_loopback_port

    port = free_loopback_port()
    env = {**os.environ, "MLOPS_EMBEDDED_DATA_DIR": str(data), "JUPYTER_PLATFORM_DIRS": "1"}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}", "--JupyterMLOps.embedded_start_timeout=240",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            info = httpx.get(f"{url}/jupyter-mlops/info", params={"token": TOKEN}).json()
            if info.get("status") == "ready":
                return process, url
            if info.get("status") == "failed":
                break
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)
    process.kill()
    raise SystemExit("JupyterLab or the embedded platform did not start")


def log_runs(tracking_uri: str) -> dict[str, str]:
    """The two runs, logged with log_batch; run ids by size name."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("chart bench (101)")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment("chart bench (101)")
    )
    runs: dict[str, str] = {}
    for name, count in SIZES.items():
        run = client.create_run(experiment_id, run_name=name)
        now = int(time.time() * 1000)
        for start in range(0, count, 1000):
            metrics = [
                Metric("loss", 1.0 / (1 + step) + (step % 7) * 1e-3, now + step, step)
                for step in range(start, min(start + 1000, count))
            ]
            client.log_batch(run.info.run_id, metrics=metrics)
        client.set_terminated(run.info.run_id)
        runs[name] = run.info.run_id
    return runs


def time_server(tracking_uri: str, runs: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Direct MLflow calls: downsampled interval vs full history, in ms."""
    times: dict[str, list[float]] = {}
    with httpx.Client(timeout=300) as client:
        for _ in range(rounds):
            for name, run_id in runs.items():
                calls: list[tuple[str, str, dict[str, str | int]]] = [
                    (
                        "interval",
                        "metrics/get-history-bulk-interval",
                        {"run_ids": run_id, "metric_key": "loss", "max_results": 2500},
                    ),
                    ("full", "metrics/get-history", {"run_id": run_id, "metric_key": "loss"}),
                ]
                for kind, endpoint, params in calls:
                    start = time.perf_counter()
                    response = client.get(f"{tracking_uri}api/2.0/mlflow/{endpoint}", params=params)
                    response.raise_for_status()
                    times.setdefault(f"{kind}:{name}", []).append(
                        (time.perf_counter() - start) * 1000
                    )
    return times


def time_browser(url: str, runs: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Chart each run alone in the panel; ``total`` and ``draw`` times in ms."""
    from playwright.sync_api import expect, sync_playwright

    times: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/lab?reset&token={TOKEN}")
        page.wait_for_selector("#jupyterlab-splash", state="detached")
        expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=120_000)
        page.keyboard.press("Control+Shift+C")
        palette = page.locator("#modal-command-palette")
        palette.locator(".lm-CommandPalette-input").fill("Open MLflow Experiments")
        palette.locator(".lm-CommandPalette-item", has_text="Open MLflow Experiments").click()
        picker = page.locator(".jp-mlops-TrackingPicker")
        picker.locator(".jp-mlops-picker-search").fill("eurosat classifier")
        picker.locator(f'.jp-mlops-picker-project[data-project="{PROJECT}"]').click()
        page.locator(".jp-Dialog .jp-mod-accept").click()
        panel = page.locator(".jp-mlops-ExperimentsPanel")
        panel.locator(".jp-mlops-exp-item", has_text="chart bench").click()
        expect(panel.locator(".jp-mlops-run")).to_have_count(len(runs), timeout=60_000)
        chart = panel.locator(".jp-mlops-chart")
        expect(chart).to_have_attribute("data-state", "ready", timeout=60_000)
        for _ in range(rounds):
            for name, run_id in runs.items():
                for other, other_id in runs.items():
                    box = panel.locator(f'.jp-mlops-run[data-run-id="{other_id}"] input')
                    if other != name and box.is_checked():
                        box.uncheck()
                box = panel.locator(f'.jp-mlops-run[data-run-id="{run_id}"] input')
                if box.is_checked():  # already alone: draw again from scratch
                    box.uncheck()
                page.wait_for_function(
                    "s => document.querySelector(s).dataset.state !== 'loading'",
                    arg=".jp-mlops-ExperimentsPanel .jp-mlops-chart",
                )
                renders = int(chart.get_attribute("data-renders") or 0)
                box.check()
                page.wait_for_function(
                    """([selector, renders]) => {
                        const chart = document.querySelector(selector);
                        return chart.dataset.state === 'ready'
                            && Number(chart.dataset.renders || 0) > renders;
                    }""",
                    arg=[".jp-mlops-ExperimentsPanel .jp-mlops-chart", renders],
                    timeout=120_000,
                )
                times.setdefault(f"total:{name}", []).append(
                    float(chart.get_attribute("data-total-ms") or "nan")
                )
                times.setdefault(f"draw:{name}", []).append(
                    float(chart.get_attribute("data-render-ms") or "nan")
                )
                times.setdefault(f"points:{name}", []).append(
                    float(chart.get_attribute("data-points") or "nan")
                )
        browser.close()
    return times


def report(times: dict[str, list[float]], kinds: list[str]) -> None:
    rows = [
        ("panel: request -> chart drawn", "total"),
        ("panel: data -> chart drawn (uPlot)", "draw"),
        ("points drawn", "points"),
        ("MLflow get-history-bulk-interval (2,500/run)", "interval"),
        ("MLflow get-history (all points)", "full"),
    ]
    print(f"\n{'measure':46} {'1,000 pts':>12} {'100,000 pts':>12} {'ratio':>7}")
    for label, kind in rows:
        if kind not in kinds:
            continue
        base = statistics.median(times[f"{kind}:baseline"])
        big = statistics.median(times[f"{kind}:big"])
        unit = "" if kind == "points" else " ms"
        print(f"{label:46} {base:>9.1f}{unit:3} {big:>9.1f}{unit:3} {big / base:>6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory() as folder:
        root, data = Path(folder, "root"), Path(folder, "data")
        root.mkdir()
        process, url = start_lab(root, data)
        try:
            info = httpx.get(f"{url}/jupyter-mlops/info", params={"token": TOKEN}).json()
            tracking_uri = f"{info['mlflow_url']}/{PROJECT}/tracking/"
            started = time.perf_counter()
            runs = log_runs(tracking_uri)
            print(f"logged {sum(SIZES.values()):,} points in {time.perf_counter() - started:.1f} s")
            times = time_server(tracking_uri, runs, args.rounds)
            report(times, ["interval", "full"])
            times.update(time_browser(url, runs, args.rounds))
        finally:
            process.terminate()
            process.wait(timeout=60)
    report(times, ["total", "draw", "points"])


if __name__ == "__main__":
    main()
