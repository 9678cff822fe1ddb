"""Publishing reads a registered model version as the user (``mlflow_source.fetch_isolated``).

The Jupyter server publishes for its user but must not change MLflow's process-wide
credentials, so the version is read in a child process with the project's tracking URI and the
user's token. Here against the real MLflow SharingHub layer: the token really reaches MLflow and
its permissions apply; nothing leaks into this process's environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_mlops.errors import PublishValidationError
from jupyter_mlops.publishing import mlflow_source
from jupyter_mlops.publishing.mlflow_source import VersionCache, fetch_isolated
from tests.tracking.conftest import OUTSIDER, MlflowServer, Seed, token_of


def test_a_reporter_reads_a_private_model_version_into_a_folder(
    mlflow_server: MlflowServer, seeds: dict[str, Seed], tmp_path: Path
) -> None:
    seed = seeds["private"]
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}

    # When a private project's version 1 is read with a reporter's token
    folder = fetch_isolated(
        f"models:/{seed.model}/1",
        tmp_path,
        mlflow_server.tracking_uri(seed.path),
        token_of("reporter"),
    )

    # Then its artifacts (the seed run's file.txt) are in the destination
    assert folder.is_relative_to(tmp_path)
    assert (folder / "file.txt").read_text() == "hello"
    # And this process's MLflow settings did not change (no token was set here)
    assert {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")} == before


@pytest.mark.parametrize("token", [OUTSIDER, None], ids=["outsider", "anonymous"])
def test_without_access_the_error_names_the_field_and_no_file_is_written(
    mlflow_server: MlflowServer, seeds: dict[str, Seed], tmp_path: Path, token: str | None
) -> None:
    seed = seeds["private"]
    with pytest.raises(PublishValidationError) as error:
        fetch_isolated(
            f"models:/{seed.model}/1", tmp_path, mlflow_server.tracking_uri(seed.path), token
        )
    assert error.value.field == "mlflow_model"
    assert seed.model in error.value.message
    assert list(tmp_path.iterdir()) == []
    # The token is not repeated in the error
    assert OUTSIDER not in error.value.message


def test_an_unknown_version_is_reported_by_mlflow(
    mlflow_server: MlflowServer, seeds: dict[str, Seed], tmp_path: Path
) -> None:
    seed = seeds["public"]
    with pytest.raises(PublishValidationError) as error:
        fetch_isolated(
            f"models:/{seed.model}/99",
            tmp_path,
            mlflow_server.tracking_uri(seed.path),
            token_of("maintainer"),
        )
    assert error.value.field == "mlflow_model"
    assert "99" in error.value.message


def test_the_cache_reads_a_version_once_per_token_and_asks_mlflow_for_a_new_token(
    mlflow_server: MlflowServer,
    seeds: dict[str, Seed],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = seeds["private"]
    reference = f"models:/{seed.model}/1"
    uri = mlflow_server.tracking_uri(seed.path)
    calls: list[str | None] = []
    real = mlflow_source.fetch_isolated

    def counted(ref: str, dest: Path, tracking: str, token: str | None) -> Path:
        calls.append(token)
        return real(ref, dest, tracking, token)

    monkeypatch.setattr(mlflow_source, "fetch_isolated", counted)
    cache = VersionCache(ttl=60)

    # When the Publish panel's dry runs read the same version twice with a reporter's token
    first, lease = cache.fetch(reference, uri, token_of("reporter"))
    again, _ = cache.fetch(reference, uri, token_of("reporter"))

    # Then MLflow is read once and both plans get the same folder
    assert again == first
    assert calls == [token_of("reporter")]
    # And a plan letting go of its lease does not remove the cached folder
    lease.cleanup()
    assert (first / "file.txt").read_text() == "hello"

    # When someone else's token asks for it, MLflow decides again (and refuses an outsider)
    with pytest.raises(PublishValidationError):
        cache.fetch(reference, uri, OUTSIDER)
    assert calls == [token_of("reporter"), OUTSIDER]
