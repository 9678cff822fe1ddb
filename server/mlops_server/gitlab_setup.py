"""``mlops-server gitlab-setup``: register the platform with GitLab, idempotently.

Run by the chart's post-install/post-upgrade Job (``server/chart``), or by hand. With an admin
token it makes GitLab hold exactly:

- one instance OAuth application named ``--application-name`` with the given redirect URIs and
  scopes (JupyterHub logs users in with it, so their auth state carries a GitLab token). GitLab
  shows an application's secret only when it is created or renewed, so the credentials are
  written into a Kubernetes Secret (keys ``client-id`` and ``client-secret``) and the secret is
  renewed only when that Secret does not already hold credentials of this application;
- one system hook pointing at the catalog's ``/api/webhooks/gitlab`` with the shared secret, so
  project pushes, renames, deletions and membership changes re-index the catalog at once. GitLab
  never shows a hook's token again, so the hook for that URL is replaced on every run: a rotated
  webhook secret is picked up by the next ``helm upgrade``.

Secrets come from the environment only: ``MLOPS_GITLAB_ADMIN_TOKEN`` (an admin's personal access
token, scope ``api``) and ``MLOPS_WEBHOOK_SECRET``. Nothing secret is printed or logged.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: the CLI answers usage errors without them
    import gitlab
    import requests

log = logging.getLogger(__name__)

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CLIENT_ID_KEY = "client-id"
CLIENT_SECRET_KEY = "client-secret"  # noqa: S105 (a key name, not a secret)
#: System hook triggers; project create/destroy/rename/transfer and membership events are
#: always sent to system hooks, these add pushes so README front matter changes re-index.
HOOK_EVENTS = {
    "push_events": True,
    "tag_push_events": False,
    "merge_requests_events": False,
    "repository_update_events": True,
    "enable_ssl_verification": True,
}


class SetupError(Exception):
    """The setup cannot proceed (GitLab unreachable, token not an admin, Kubernetes refused)."""


@dataclass(frozen=True)
class OAuthApplication:
    """The OAuth application GitLab must hold."""

    name: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    confidential: bool = True


@dataclass
class Report:
    """What a run did, for the Job's log (never any secret)."""

    actions: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        log.info("%s", message)
        self.actions.append(message)


class KubernetesSecrets:
    """Read and write one namespace's Secrets through the Kubernetes REST API.

    Parameters
    ----------
    api_url
        API server base URL (in a pod: ``https://kubernetes.default.svc``).
    namespace
        Namespace of the Secrets.
    token
        Bearer token (in a pod: the service account token).
    verify
        TLS verification: a CA bundle path, or a bool.
    """

    def __init__(
        self, api_url: str, namespace: str, token: str | None = None, verify: str | bool = True
    ) -> None:
        import requests

        self.base = f"{api_url.rstrip('/')}/api/v1/namespaces/{namespace}/secrets"
        self.session = requests.Session()
        self.session.verify = verify
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def in_cluster(cls, namespace: str | None = None) -> KubernetesSecrets:
        """The pod's own API server, service account token, CA and (default) namespace."""
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
        namespace = namespace or (SERVICE_ACCOUNT / "namespace").read_text().strip()
        return cls(
            "https://kubernetes.default.svc",
            namespace,
            token=token,
            verify=str(SERVICE_ACCOUNT / "ca.crt"),
        )

    def read(self, name: str) -> dict[str, str] | None:
        """The decoded ``data`` of Secret ``name``, None when it does not exist."""
        response = self.session.get(f"{self.base}/{name}", timeout=30)
        if response.status_code == 404:
            return None
        self._raise_for(response, f"read Secret {name}")
        data = response.json().get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def write(self, name: str, data: dict[str, str], labels: dict[str, str]) -> None:
        """Create Secret ``name`` or replace its data (other keys are kept)."""
        encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
        response = self.session.get(f"{self.base}/{name}", timeout=30)
        if response.status_code == 404:
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name, "labels": labels},
                "data": encoded,
            }
            self._raise_for(self.session.post(self.base, json=body, timeout=30), f"create {name}")
            return
        self._raise_for(response, f"read Secret {name}")
        current = response.json()
        current["data"] = {**(current.get("data") or {}), **encoded}
        replaced = self.session.put(f"{self.base}/{name}", json=current, timeout=30)
        self._raise_for(replaced, f"update Secret {name}")

    @staticmethod
    def _raise_for(response: requests.Response, what: str) -> None:
        if response.status_code >= 400:
            raise SetupError(f"Kubernetes refused to {what}: HTTP {response.status_code}")


def connect(url: str, token: str, *, wait: float = 0.0, poll: float = 5.0) -> gitlab.Gitlab:
    """An authenticated admin client, waiting up to ``wait`` seconds for GitLab to answer."""
    import gitlab
    import requests

    client = gitlab.Gitlab(url, private_token=token, timeout=30)
    deadline = time.monotonic() + wait
    while True:
        try:
            client.auth()
            break
        except (gitlab.GitlabAuthenticationError, gitlab.GitlabGetError) as error:
            if getattr(error, "response_code", None) in (401, 403):
                raise SetupError("GitLab refused the admin token (HTTP 401/403)") from None
            failure: Exception = error
        except (requests.ConnectionError, requests.Timeout, gitlab.GitlabHttpError) as error:
            failure = error
        if time.monotonic() >= deadline:
            raise SetupError(f"GitLab at {url} is not answering: {type(failure).__name__}")
        log.info("waiting for GitLab at %s", url)
        time.sleep(poll)
    user = client.user
    if user is None or not getattr(user, "is_admin", False):
        raise SetupError("the token's user is not a GitLab administrator")
    return client


def ensure_application(
    client: gitlab.Gitlab,
    wanted: OAuthApplication,
    secrets: KubernetesSecrets,
    secret_name: str,
    report: Report,
) -> None:
    """Make GitLab hold exactly one application ``wanted.name`` and the Secret its credentials."""
    redirect = "\n".join(wanted.redirect_uris)
    matching = [
        app for app in client.applications.list(get_all=True) if app.application_name == wanted.name
    ]
    stored = secrets.read(secret_name) or {}
    keep = None
    for app in matching:
        same = app.callback_url == redirect and bool(app.confidential) == wanted.confidential
        if keep is None and same:
            keep = app
        else:  # stale settings (GitLab cannot edit an application) or a duplicate
            app.delete()
            report.add(f"OAuth application {wanted.name!r} (id {app.id}) deleted: outdated")
    current = keep is not None and stored.get(CLIENT_ID_KEY) == keep.application_id
    if keep is not None and current and stored.get(CLIENT_SECRET_KEY):
        report.add(f"OAuth application {wanted.name!r} (id {keep.id}) up to date")
        return
    if keep is not None:
        # The secret is shown once; renew it rather than recreate (the client id stays).
        renewed: Any = client.http_post(f"/applications/{keep.id}/renew-secret")
        client_id, client_secret = str(renewed["application_id"]), str(renewed["secret"])
        report.add(f"OAuth application {wanted.name!r} (id {keep.id}) secret renewed")
    else:
        created = client.applications.create(
            {
                "name": wanted.name,
                "redirect_uri": redirect,
                "scopes": " ".join(wanted.scopes),
                "confidential": wanted.confidential,
            }
        )
        client_id, client_secret = str(created.application_id), str(created.secret)
        report.add(f"OAuth application {wanted.name!r} (id {created.id}) created")
    secrets.write(
        secret_name,
        {CLIENT_ID_KEY: client_id, CLIENT_SECRET_KEY: client_secret},
        {"app.kubernetes.io/managed-by": "mlops-server-gitlab-setup"},
    )
    report.add(f"client credentials written to Secret {secret_name}")


def ensure_system_hook(client: gitlab.Gitlab, url: str, token: str, report: Report) -> None:
    """Make GitLab hold exactly one system hook to ``url``, carrying the current ``token``."""
    for hook in client.hooks.list(get_all=True):
        if hook.url == url:
            hook.delete()
    created = client.hooks.create({"url": url, "token": token, **HOOK_EVENTS})
    report.add(f"system hook to {url} registered (id {created.id})")


@dataclass(frozen=True)
class SetupRequest:
    """Everything one run needs; secrets stay out of ``repr``."""

    gitlab_url: str
    admin_token: str = field(repr=False)
    application: OAuthApplication | None = None
    secret_name: str | None = None
    hook_url: str | None = None
    hook_token: str | None = field(default=None, repr=False)
    wait: float = 0.0


def run(request: SetupRequest, secrets: Callable[[], KubernetesSecrets]) -> Report:
    """Apply the setup; ``secrets`` gives the Kubernetes Secret store when one is needed."""
    report = Report()
    client = connect(request.gitlab_url, request.admin_token, wait=request.wait)
    if request.application is not None:
        if not request.secret_name:
            raise SetupError("an OAuth application needs --secret-name to keep its credentials")
        ensure_application(client, request.application, secrets(), request.secret_name, report)
    if request.hook_url:
        if not request.hook_token:
            raise SetupError("a system hook needs MLOPS_WEBHOOK_SECRET")
        ensure_system_hook(client, request.hook_url, request.hook_token, report)
    return report


def add_arguments(parser: Any) -> None:
    """The ``gitlab-setup`` subcommand's options (``parser`` is an argparse parser)."""
    parser.add_argument("--gitlab-url", required=True, help="GitLab base URL")
    parser.add_argument(
        "--application-name", default=None, help="OAuth application to ensure (skipped if unset)"
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="redirect URI of the OAuth application (repeatable)",
    )
    parser.add_argument(
        "--scopes",
        default="api read_user openid profile email",
        help="space-separated OAuth scopes (default: %(default)s)",
    )
    parser.add_argument(
        "--public-client", action="store_true", help="register a public (non-confidential) app"
    )
    parser.add_argument(
        "--secret-name", default=None, help="Kubernetes Secret receiving client-id/client-secret"
    )
    parser.add_argument("--namespace", default=None, help="namespace of that Secret")
    parser.add_argument(
        "--kube-api-url",
        default=None,
        help="Kubernetes API base URL (default: the pod's in-cluster API and service account)",
    )
    parser.add_argument("--hook-url", default=None, help="system hook target (catalog webhook)")
    parser.add_argument(
        "--wait", type=float, default=600.0, help="seconds to wait for GitLab (default 600)"
    )


def main(args: Any, environ: dict[str, str]) -> int:
    """Run ``gitlab-setup`` from parsed arguments; exit status 0 on success."""
    import gitlab

    token = environ.get("MLOPS_GITLAB_ADMIN_TOKEN", "").strip()
    if not token:
        log.error("MLOPS_GITLAB_ADMIN_TOKEN is not set")
        return 2
    application = None
    if args.application_name:
        if not args.redirect_uri:
            log.error("--application-name needs at least one --redirect-uri")
            return 2
        application = OAuthApplication(
            args.application_name,
            tuple(args.redirect_uri),
            tuple(args.scopes.split()),
            confidential=not args.public_client,
        )
    request = SetupRequest(
        gitlab_url=args.gitlab_url,
        admin_token=token,
        application=application,
        secret_name=args.secret_name,
        hook_url=args.hook_url,
        hook_token=environ.get("MLOPS_WEBHOOK_SECRET") or None,
        wait=args.wait,
    )

    def secrets() -> KubernetesSecrets:
        if args.kube_api_url:
            return KubernetesSecrets(
                args.kube_api_url,
                args.namespace or "default",
                token=environ.get("MLOPS_KUBE_TOKEN") or None,
            )
        return KubernetesSecrets.in_cluster(args.namespace)

    try:
        run(request, secrets)
    except (SetupError, gitlab.GitlabError) as error:
        log.error("gitlab-setup failed: %s", error)
        return 1
    return 0


__all__: Sequence[str] = [
    "KubernetesSecrets",
    "OAuthApplication",
    "Report",
    "SetupError",
    "SetupRequest",
    "add_arguments",
    "main",
    "run",
]
