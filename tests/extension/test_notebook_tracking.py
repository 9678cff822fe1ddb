"""One-click tracking, kernel side: what the toolbar button executes in a real IPython kernel,
against the embedded platform (catalog + MLflow behind the SharingHub layer) over HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from jupyter_mlops.notebook_tracking import MIME_TYPE, TrackingState
from tests.tracking import conftest as tracking_fixtures

PROJECT = "demo/eurosat-lulc-classifier"  # id 101, ai-model
SECRET = "glpat-kernel-side-secret-0123456789"  # must never be printed by the kernel


# The embedded platform (``mlops-server serve --mlflow`` on the demo store) of the tracking tests.
store = tracking_fixtures.store
platform = tracking_fixtures.platform


class Kernel:
    """A real IPython kernel; records every IOPub message it sends."""

    def __init__(self, client: BlockingKernelClient) -> None:
        self.client = client
        self.iopub: list[dict[str, Any]] = []

    def run(self, code: str, expression: str | None = None) -> dict[str, Any]:
        """Execute ``code`` like the frontend does; answer the reply content."""
        expressions = {"state": expression} if expression else {}
        msg_id = self.client.execute(code, store_history=False, user_expressions=expressions)
        reply = self.client.get_shell_msg(timeout=180)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=180)
        while True:
            message = self.client.get_iopub_msg(timeout=60)
            self.iopub.append(message)
            if (
                message["parent_header"].get("msg_id") == msg_id
                and message["msg_type"] == "status"
                and message["content"]["execution_state"] == "idle"
            ):
                break
        content: dict[str, Any] = reply["content"]
        return content

    def state(self, code: str = "") -> dict[str, Any]:
        content = self.run(
            code, "__import__('jupyter_mlops.notebook_tracking').notebook_tracking.state()"
        )
        assert content["status"] == "ok", content
        result = content["user_expressions"]["state"]
        assert result["status"] == "ok", result
        data: dict[str, Any] = result["data"][MIME_TYPE]
        return data


@pytest.fixture(scope="module")
def kernel(platform: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    home = tmp_path_factory.mktemp("kernel-home")
    env = {
        **os.environ,
        "MLOPS_SHARINGHUB_URL": platform,
        "MLOPS_MLFLOW_URL": f"{platform}/mlflow",
        "MLOPS_TOKEN": SECRET,
        "MLOPS_CREDENTIALS_PATH": str(home / "credentials.json"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_AUTH", "MLFLOW_EXPERIMENT_ID"):
        env.pop(name, None)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(home))
    client = manager.blocking_client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    try:
        yield Kernel(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


TRAIN = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
LogisticRegression(max_iter=200).fit(X, y)
"""


def test_state_displays_as_json_for_the_frontend() -> None:
    # Given
    state = TrackingState(active=True, project="a/b", project_id=3, experiment="nb (3)")

    # When
    bundle = state._repr_mimebundle_()

    # Then: the frontend reads the JSON document; people read one line, never a URI with secrets
    assert bundle[MIME_TYPE]["experiment"] == "nb (3)"
    assert bundle["text/plain"] == "MLflow tracking: a/b / nb (3)"


def test_start_track_and_stop_in_a_real_kernel(kernel: Kernel, platform: str) -> None:
    # Given: a kernel that is not tracking
    assert kernel.state()["active"] is False

    # When: the toolbar button starts tracking the project with the notebook's name
    started = kernel.run(
        f"import jupyter_mlops.notebook_tracking as _t; _t.start({PROJECT!r}, 'land cover')",
        "_t.state()",
    )

    # Then: the kernel logs to the project's tracking URI, the experiment carries the suffix,
    # and autologging is on for scikit-learn (installed here)
    assert started["status"] == "ok", started
    state = started["user_expressions"]["state"]["data"][MIME_TYPE]
    assert state["tracking_uri"] == f"{platform}/mlflow/{PROJECT}/tracking/"
    assert (state["project"], state["project_id"]) == (PROJECT, 101)
    assert state["experiment"] == "land cover (101)"
    assert "sklearn" in state["autolog"]
    assert state["run_id"] is None

    # When: the user trains a model in a cell
    trained = kernel.state(TRAIN)

    # Then: autolog recorded a finished run in that experiment, readable through the layer
    assert trained["run_id"]
    assert trained["run_status"] == "FINISHED"
    run = httpx.get(
        f"{state['tracking_uri']}api/2.0/mlflow/runs/get",
        params={"run_id": trained["run_id"]},
        headers={"Authorization": f"Bearer {SECRET}"},
    ).json()["run"]
    assert run["info"]["experiment_id"] == trained["experiment_id"]
    assert any(metric["key"].startswith("training_") for metric in run["data"]["metrics"])

    # When: the second click stops tracking
    stopped = kernel.state("_t.stop()\nimport os; _uri = os.environ.get('MLFLOW_TRACKING_URI')")
    environment = kernel.run("", "_uri")

    # Then: nothing points at the project any more
    assert stopped["active"] is False
    assert environment["user_expressions"]["state"]["data"]["text/plain"] == "None"

    # And: no message the kernel sent, output or error, ever contained the token
    assert kernel.iopub, "the kernel sent no messages at all"
    assert SECRET not in json.dumps([m["content"] for m in kernel.iopub], default=str)


def test_a_project_without_mlflow_is_a_clear_error(kernel: Kernel) -> None:
    # Given: a project that does not exist on the platform
    # When
    reply = kernel.run(
        "import jupyter_mlops.notebook_tracking as _t; _t.start('demo/no-such-project')"
    )

    # Then: a typed error with a message, and tracking did not start
    assert reply["status"] == "error"
    assert reply["ename"] == "NotFoundError"
    assert SECRET not in json.dumps(reply)
    assert kernel.state()["active"] is False


def test_token_stays_out_of_the_kernel_namespace(kernel: Kernel) -> None:
    # Given: tracking was started once in this kernel
    kernel.run(f"import jupyter_mlops.notebook_tracking as _t; _t.start({PROJECT!r})")

    # When: every global of the user namespace is rendered as text
    reply = kernel.run("", "repr({k: v for k, v in globals().items() if not k.startswith('__')})")

    # Then: the token is nowhere in it (it travels only in request headers)
    assert SECRET not in reply["user_expressions"]["state"]["data"]["text/plain"]
    kernel.run("_t.stop()")
