"""The permission table: role x visibility x operation, through the real MLflow client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.tracking.conftest import (
    OUTSIDER,
    PROJECTS,
    ROLES,
    MlflowServer,
    Seed,
    as_token,
    token_of,
)

CALLERS = ["anonymous", "outsider", *ROLES]
READS = ("read run", "list artifacts", "download artifact")
WRITES = ("create experiment", "log", "register", "set alias", "delete")


def level(caller: str, visibility: str) -> int:
    """Upstream access level: members by role, anyone who sees public/internal reads (2)."""
    if caller == "anonymous":
        return 2 if visibility == "public" else 0
    if caller == "outsider":
        return 0 if visibility == "private" else 2
    role = ROLES[caller]
    return role if visibility == "private" else max(role, 2)


def expected(caller: str, visibility: str, operation: str) -> str:
    found = level(caller, visibility)
    if found == 0:
        return "401" if caller == "anonymous" else "403"
    if operation in WRITES and found < 3:
        return "403"
    return "ok"


def operations(seed: Seed, caller: str, tmp: Path) -> dict[str, Callable[[MlflowClient], object]]:
    return {
        "create experiment": lambda c: c.create_experiment(f"by {caller} ({seed.project_id})"),
        "log": lambda c: c.log_metric(seed.run_id, f"by_{caller}", 1.0),
        "read run": lambda c: c.get_run(seed.run_id),
        "list artifacts": lambda c: c.list_artifacts(seed.run_id),
        "download artifact": lambda c: c.download_artifacts(seed.run_id, "file.txt", str(tmp)),
        "register": lambda c: c.create_model_version(
            seed.model, c.get_run(seed.run_id).info.artifact_uri, run_id=seed.run_id
        ),
        "set alias": lambda c: c.set_registered_model_alias(seed.model, f"by-{caller}", "1"),
        "delete": lambda c: c.delete_run(seed.victims[caller]),
    }


def outcome(action: Callable[[MlflowClient], object], client: MlflowClient) -> str:
    try:
        action(client)
    except MlflowException as error:
        return str(error.get_http_status_code())
    return "ok"


@pytest.mark.parametrize("visibility", list(PROJECTS))
@pytest.mark.parametrize("caller", CALLERS)
def test_permission_table(
    mlflow_server: MlflowServer,
    seeds: dict[str, Seed],
    caller: str,
    visibility: str,
    tmp_path: Path,
) -> None:
    # Given a project of this visibility with objects made by its maintainer
    seed = seeds[visibility]
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri(seed.path))
    token = (
        None if caller == "anonymous" else OUTSIDER if caller == "outsider" else token_of(caller)
    )

    # When the caller tries every operation through the project's tracking URI
    with as_token(token):
        got = {
            name: outcome(action, client)
            for name, action in operations(seed, caller, tmp_path).items()
        }

    # Then each answer is exactly what the caller's access level allows
    want = {name: expected(caller, visibility, name) for name in got}
    assert got == want


def test_denied_writes_changed_nothing(mlflow_server: MlflowServer, seeds: dict[str, Seed]) -> None:
    # Given the permission table has run (reporters tried to delete their victim runs)
    seed = seeds["private"]
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri(seed.path))

    # When the maintainer looks at the victims and the model's aliases
    with as_token(token_of("maintainer")):
        reporter_victim = client.get_run(seed.victims["reporter"])
        aliases = client.get_registered_model(seed.model).aliases

    # Then the refused delete and alias did not happen
    assert reporter_victim.info.lifecycle_stage == "active"
    assert "by-reporter" not in aliases
    assert "by-guest" not in aliases
