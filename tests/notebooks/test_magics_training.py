"""``%mlops log``, ``register`` and ``train`` in a real IPython shell, against the embedded
platform (catalog + MLflow behind the SharingHub layer, over HTTP)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from mlflow import MlflowClient

from jupyter_mlops.training import TrainingSummary

PROJECT = "demo/eurosat-lulc-classifier"  # id 101, ai-model, public; the local user maintains it

TRAIN_SCRIPT = textwrap.dedent(
    """
    import argparse, mlflow
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with mlflow.start_run():
        loss = 1.0
        for epoch in range(1, args.epochs + 1):
            loss *= 1 - args.lr
            mlflow.log_metric("loss", loss, step=epoch)
            print(f"epoch {epoch}/{args.epochs} loss={loss:.4f}", flush=True)
        mlflow.log_metric("accuracy", 1 - loss)
    """
)


def _client(platform: str) -> MlflowClient:
    uri = f"{platform}/mlflow/{PROJECT}/tracking/"
    return MlflowClient(uri, registry_uri=uri)


def test_log_from_a_cell_and_from_flags(
    shell: InteractiveShell, platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a tracked project and a file to keep
    shell.run_line_magic("mlops", f"track {PROJECT} --experiment magics-log")
    report = tmp_path / "report.txt"
    report.write_text("confusion matrix")
    shell.user_ns["config"] = {"optimizer": "adam", "batch": 32}

    # When a cell is logged, then variables and flags
    shell.run_cell_magic("mlops", "log --as-params", "lr = 0.01\nname = 'mlp'\n")
    shell.run_cell_magic("mlops", "log --step 1", "acc = 0.93\n")
    shell.run_line_magic("mlops", f"log config --metric f1=0.9 --artifact {report}")

    # Then the run holds params, metrics and the artifact; the cell's variables exist
    out = capsys.readouterr().out
    import mlflow

    run_id = mlflow.active_run().info.run_id
    run = _client(platform).get_run(run_id)
    assert shell.user_ns["acc"] == 0.93
    assert run.data.params == {
        "lr": "0.01", "name": "mlp", "config.optimizer": "adam", "config.batch": "32",
    }  # fmt: skip
    assert run.data.metrics == {"acc": 0.93, "f1": 0.9}
    assert [a.path for a in _client(platform).list_artifacts(run_id)] == ["report.txt"]
    assert f"to run {run_id}" in out


def test_register_names_the_model_the_project_way(
    shell: InteractiveShell, platform: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run with a logged sklearn model
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    shell.run_line_magic("mlops", f"track {PROJECT} --experiment magics-register")
    with mlflow.start_run() as run:
        model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        mlflow.sklearn.log_model(model, name="model")

    # When it is registered by name, with an alias, and again under the default name
    shell.run_line_magic("mlops", "register --name 'eurosat clf' --alias champion")
    shell.run_line_magic("mlops", f"register {run.info.run_id} --name 'eurosat clf (101)'")
    out = capsys.readouterr().out

    # Then the names carry the project suffix once, and the alias points at version 1
    client = _client(platform)
    versions = client.search_model_versions("name = 'eurosat clf (101)'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert client.get_model_version_by_alias("eurosat clf (101)", "champion").version == "1"
    assert {v.run_id for v in versions} == {run.info.run_id}
    assert "Registered 'eurosat clf (101)' version 1, alias 'champion'" in out


def test_register_refuses_another_projects_suffix(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    # Given a run in the tracked project
    shell.run_line_magic("mlops", f"track {PROJECT} --experiment magics-register")
    with mlflow.start_run():
        pass

    # When the name claims another project
    shell.run_line_magic("mlops", "register --name 'stolen (7)'")

    # Then a clear one-line error, no traceback
    err = capsys.readouterr().err
    assert err.startswith("%mlops: 'stolen (7)' names project 7, not project 101.")
    assert "Traceback" not in err


def test_train_a_script_streams_output_and_summarizes(
    shell: InteractiveShell, platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a tracked project and a training script that reports epochs
    shell.run_line_magic("mlops", f"track {PROJECT}")
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)

    # When it is trained with parameters in an experiment
    summary = shell.run_line_magic(
        "mlops", f"train {script} --param lr=0.5 --param epochs=3 --experiment magics-train"
    )

    # Then its output was streamed with a progress bar, and the summary names the run,
    # its final metrics and a chart of the loss
    captured = capsys.readouterr()
    assert isinstance(summary, TrainingSummary)
    assert "epoch 3/3 loss=0.1250" in captured.out
    assert "3/3" in captured.err  # tqdm's bar
    assert summary.status == "FINISHED"
    assert summary.metrics == {"loss": 0.125, "accuracy": 0.875}
    assert summary.history["loss"] == [0.5, 0.25, 0.125]
    assert summary.run_url.startswith(f"{platform}/mlflow/{PROJECT}/tracking/#/experiments/")
    html = summary._repr_html_()
    assert "<polyline" in html
    assert summary.run_id in html
    run = _client(platform).get_run(summary.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.5", "epochs": "3"}
    experiment = _client(platform).get_experiment(run.info.experiment_id)
    assert experiment.name == "magics-train (101)"


def test_train_a_notebook_with_parameters(
    shell: InteractiveShell, platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import nbformat

    # Given a notebook with a "parameters" cell, and a failing script
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("steps = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import mlflow\n"
            "with mlflow.start_run():\n"
            "    for s in range(1, steps + 1):\n"
            "        mlflow.log_metric('score', s * 10, step=s)\n"
            "        print(f'step {s}/{steps}')\n"
        ),
    ]
    path = tmp_path / "train.ipynb"
    nbformat.write(notebook, path)
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit('no data')\n")
    shell.run_line_magic("mlops", f"track {PROJECT} --experiment magics-train")

    # When both are trained
    summary = shell.run_line_magic("mlops", f"train {path} --param steps=4")
    failed = shell.run_line_magic("mlops", f"train {broken}")

    # Then the notebook ran with steps=4 and its output was streamed; the script's run failed
    out = capsys.readouterr().out
    assert "step 4/4" in out
    assert summary.status == "FINISHED"
    assert summary.history["score"] == [10.0, 20.0, 30.0, 40.0]
    assert "no data" in out
    assert failed.status == "FAILED"
    assert _client(platform).get_run(failed.run_id).info.status == "FAILED"
    assert json.dumps(summary.metrics) == '{"score": 40.0}'
