"""``mlops-server gitlab-setup`` (the chart's post-install Job) against GitLab and Kubernetes
doubles over HTTP: it leaves exactly one OAuth application and one system hook, keeps the
application's credentials in a Secret, and is idempotent across reruns (helm upgrades)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator

import pytest
from mlops_server.cli import main

from tests.deploy.doubles import AdminGitLab, KubernetesDouble
from tests.gitlab_double import User

ADMIN_TOKEN = "glpat-admin-0123456789"
USER_TOKEN = "glpat-alice-0123456789"
KUBE_TOKEN = "sa-token-xyz"
WEBHOOK_SECRET = "hook-secret-42"
NAMESPACE = "mlops"
SECRET = "mlops-jupyterhub-oauth"
HUB_CALLBACK = "https://jupyter.example.org/hub/oauth_callback"
HOOK_URL = "http://mlops-catalog.mlops.svc:8000/api/webhooks/gitlab"


@pytest.fixture
def gitlab() -> Iterator[AdminGitLab]:
    users = [User("root", [ADMIN_TOKEN], admin=True), User("alice", [USER_TOKEN])]
    with AdminGitLab(users, KubernetesDouble(KUBE_TOKEN)) as double:
        yield double


@pytest.fixture
def kube(gitlab: AdminGitLab) -> KubernetesDouble:
    return gitlab.kubernetes


@pytest.fixture
def setup(
    gitlab: AdminGitLab, kube: KubernetesDouble, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., int]:
    """Run the subcommand as the Job does: flags from the chart, secrets from the env."""
    monkeypatch.setenv("MLOPS_GITLAB_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("MLOPS_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("MLOPS_KUBE_TOKEN", KUBE_TOKEN)

    def run(*extra: str, redirect: str = HUB_CALLBACK) -> int:
        return main(
            [
                "gitlab-setup",
                "--gitlab-url",
                gitlab.url,
                "--application-name",
                "jupyter-mlops JupyterHub",
                "--redirect-uri",
                redirect,
                "--scopes",
                "api read_user openid",
                "--secret-name",
                SECRET,
                "--namespace",
                NAMESPACE,
                "--kube-api-url",
                gitlab.url,
                "--hook-url",
                HOOK_URL,
                "--wait",
                "0",
                *extra,
            ]
        )

    return run


def stored(kube: KubernetesDouble) -> dict[str, str]:
    data = kube.secrets[(NAMESPACE, SECRET)]["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def test_first_run_creates_application_secret_and_system_hook(setup, gitlab, kube) -> None:
    # Given a fresh GitLab and no Secret
    # When the Job runs
    assert setup() == 0
    # Then GitLab holds one confidential application with the hub's callback and the scopes
    assert len(gitlab.applications) == 1
    app = gitlab.applications[0]
    assert app["application_name"] == "jupyter-mlops JupyterHub"
    assert app["callback_url"] == HUB_CALLBACK
    assert app["scopes"] == ["api", "read_user", "openid"]
    assert app["confidential"] is True
    # And the Secret holds exactly its credentials, as JupyterHub will read them
    assert stored(kube) == {"client-id": app["application_id"], "client-secret": app["secret"]}
    # And one system hook to the catalog carries the webhook secret and push events
    assert len(gitlab.system_hooks) == 1
    ((number, hook),) = gitlab.system_hooks.items()
    assert (hook.url, hook.token, hook.project) == (HOOK_URL, WEBHOOK_SECRET, None)
    assert gitlab._hook_events[number]["push_events"] is True


def test_rerun_changes_nothing_but_refreshes_the_hook(setup, gitlab, kube) -> None:
    # Given a completed first run
    assert setup() == 0
    before_app, before_secret = dict(gitlab.applications[0]), stored(kube)
    gitlab.calls.clear()
    # When the Job runs again (helm upgrade)
    assert setup() == 0
    # Then the application and its secret are untouched: no create, renew or delete call
    assert gitlab.applications == [before_app]
    assert stored(kube) == before_secret
    assert not [c for c in gitlab.calls if c[1].startswith("/applications") and c[0] != "GET"]
    # And there is still exactly one system hook (replaced, so a rotated token would apply)
    assert [h.url for h in gitlab.system_hooks.values()] == [HOOK_URL]
    assert len([h for h in gitlab.state.hooks if h.url == HOOK_URL]) == 1


def test_rotated_webhook_secret_reaches_gitlab_on_upgrade(
    setup, gitlab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first run with the old secret
    assert setup() == 0
    # When the operator rotates MLOPS_WEBHOOK_SECRET and upgrades
    monkeypatch.setenv("MLOPS_WEBHOOK_SECRET", "rotated-secret")
    assert setup() == 0
    # Then the one hook GitLab holds sends the new token
    assert [h.token for h in gitlab.system_hooks.values()] == ["rotated-secret"]


def test_lost_secret_renews_credentials_of_the_same_application(setup, gitlab, kube) -> None:
    # Given a first run, then the Secret was deleted (namespace recreated, say)
    assert setup() == 0
    client_id, old_secret = gitlab.applications[0]["application_id"], stored(kube)["client-secret"]
    del kube.secrets[(NAMESPACE, SECRET)]
    # When the Job runs again
    assert setup() == 0
    # Then the same application (same client id, so nothing else changes) gets a new secret
    assert len(gitlab.applications) == 1
    assert gitlab.applications[0]["application_id"] == client_id
    new_secret = gitlab.applications[0]["secret"]
    assert stored(kube) == {"client-id": client_id, "client-secret": new_secret}
    assert stored(kube)["client-secret"] != old_secret


def test_changed_redirect_replaces_the_application(setup, gitlab, kube) -> None:
    # Given a first run for one hub URL
    assert setup() == 0
    old_id = gitlab.applications[0]["application_id"]
    # When the hub moves to another host
    new_callback = "https://hub.example.org/hub/oauth_callback"
    assert setup(redirect=new_callback) == 0
    # Then exactly one application remains, with the new callback and fresh credentials
    assert [a["callback_url"] for a in gitlab.applications] == [new_callback]
    assert gitlab.applications[0]["application_id"] != old_id
    assert stored(kube)["client-id"] == gitlab.applications[0]["application_id"]


def test_non_admin_token_fails_cleanly_without_leaking_it(
    setup, gitlab, kube, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a token of a user who is not an administrator
    monkeypatch.setenv("MLOPS_GITLAB_ADMIN_TOKEN", USER_TOKEN)
    # When the Job runs
    with caplog.at_level(logging.DEBUG):
        status = setup()
    # Then it fails, creates nothing, and no token or secret appears in the log
    assert status == 1
    assert gitlab.applications == []
    assert gitlab.system_hooks == {}
    assert kube.secrets == {}
    assert "not a GitLab administrator" in caplog.text
    for secret in (USER_TOKEN, ADMIN_TOKEN, WEBHOOK_SECRET, KUBE_TOKEN):
        assert secret not in caplog.text


def test_successful_run_logs_no_secret(setup, gitlab, caplog: pytest.LogCaptureFixture) -> None:
    # Given / When a full run, logged at debug level
    with caplog.at_level(logging.DEBUG):
        assert setup() == 0
    # Then the log says what was done and shows neither tokens nor the application secret
    assert "created" in caplog.text
    assert "system hook" in caplog.text
    for secret in (ADMIN_TOKEN, WEBHOOK_SECRET, KUBE_TOKEN, gitlab.applications[0]["secret"]):
        assert secret not in caplog.text


def test_unreachable_gitlab_is_a_clear_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given no GitLab listening at the URL
    monkeypatch.setenv("MLOPS_GITLAB_ADMIN_TOKEN", ADMIN_TOKEN)
    from tests.gitlab_double.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    # When the Job runs without waiting
    status = main(["gitlab-setup", "--gitlab-url", url, "--hook-url", HOOK_URL, "--wait", "0"])
    # Then it exits 1 and says GitLab is not answering
    assert status == 1
    assert "is not answering" in caplog.text


def test_missing_admin_token_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no MLOPS_GITLAB_ADMIN_TOKEN in the environment
    monkeypatch.delenv("MLOPS_GITLAB_ADMIN_TOKEN", raising=False)
    # When / Then the subcommand refuses before calling anything
    assert main(["gitlab-setup", "--gitlab-url", "http://127.0.0.1:9", "--wait", "0"]) == 2
