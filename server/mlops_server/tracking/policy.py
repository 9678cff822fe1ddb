"""Decisions: may this caller do this on this project, and how must the request change.

A request reaches the policy with its route (from :mod:`.routes`), the project of its URL prefix
(``None`` in the global, read-only view) and its parameters. The policy finds the project of
every object the request touches (through MLflow's stores), compares it with the route's
project and the caller's access level, and returns a :class:`Plan`: go ahead (maybe with a
rewritten body or query), answer directly, or filter a search response.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from mlops_server.tracking.access import (
    AccessLookup,
    AuthenticationRequired,
    Credentials,
    ProjectAccess,
)
from mlops_server.tracking.routes import Kind, Match
from mlops_server.tracking.stores import InvalidReference, ObjectNotFound, Stores

NAME_SUFFIX = re.compile(r"^(?P<base>.*\S) \((?P<id>\d+)\)$")
SEARCH_EXPERIMENTS_DEFAULT = 1000
SEARCH_MODELS_DEFAULT = 100
SEARCH_VERSIONS_DEFAULT = 10000


class Denied(Exception):
    """The request is refused; carries the HTTP status and MLflow error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def forbidden(message: str) -> Denied:
    return Denied(403, "PERMISSION_DENIED", message)


@dataclass
class Call:
    """One request as the policy sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any] | None
    credentials: Credentials
    project: ProjectAccess | None  # the route's project; None in the global view

    def param(self, name: str) -> Any:
        if self.body is not None and name in self.body:
            return self.body[name]
        values = self.query.get(name)
        return values[0] if values else None

    def params(self, name: str) -> list[str]:
        if self.body is not None and isinstance(self.body.get(name), list):
            return [str(v) for v in self.body[name]]
        return list(self.query.get(name, []))


Predicate = Callable[[dict[str, Any]], Awaitable[bool]]


@dataclass
class SearchFilter:
    """Keep only the readable entries of a search answer, refilling the page."""

    list_key: str
    default_max: int
    readable: Predicate


@dataclass
class Plan:
    """What to do with an allowed request."""

    body: dict[str, Any] | None = None
    query: dict[str, list[str]] | None = None
    answer: dict[str, Any] | None = None
    search: SearchFilter | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Policy:
    """Applies upstream mlflow-sharinghub's rules with the caller's access levels."""

    def __init__(self, access: AccessLookup, stores: Stores, project_tag: str) -> None:
        self._access = access
        self._stores = stores
        self.tag = project_tag
        # Ownership never changes through the layer: a run stays in its experiment, the
        # project tag cannot be edited, and a name's suffix pins it to one project. So the
        # answers are kept (bounded), which spares a store query per logging call.
        self._owners: dict[tuple[str, str], Any] = {}

    async def _cached(self, kind: str, key: str, function: Callable[[str], Any]) -> Any:
        found = self._owners.get((kind, key))
        if found is None:
            found = await self._run(function, key)
            if found is not None:
                if len(self._owners) > 100_000:
                    self._owners.clear()
                self._owners[(kind, key)] = found
        return found

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(function, *args)
        except ObjectNotFound as error:
            raise Denied(404, "RESOURCE_DOES_NOT_EXIST", str(error)) from error
        except InvalidReference as error:
            raise Denied(400, "INVALID_PARAMETER_VALUE", str(error)) from error

    # -- who owns what ------------------------------------------------------------------

    async def project_access(self, call: Call, path: str) -> ProjectAccess | None:
        try:
            return await self._access(call.credentials, path)
        except AuthenticationRequired:
            return None

    async def _owner_allows(self, call: Call, owner: str | None, write: bool) -> bool:
        """Whether the caller may read (or write) an object tagged with project ``owner``."""
        if owner is None:
            return False
        if call.project is not None:
            if owner != call.project.path:
                return False
            return call.project.can_write if write else call.project.can_read
        if write:
            return False
        found = await self.project_access(call, owner)
        return found is not None and found.can_read

    async def _require_owner(self, call: Call, owner: str | None, what: str, write: bool) -> None:
        if call.project is None and write:
            raise forbidden("The global MLflow view is read-only: use a project tracking URI")
        if await self._owner_allows(call, owner, write):
            return
        if call.project is not None and owner != call.project.path:
            raise forbidden(f"{what} does not belong to project {call.project.path}")
        verb = "write" if write else "read"
        raise forbidden(f"You may not {verb} {what}")

    def _experiment_tag(self, experiment_id: str) -> str | None:
        return self._stores.experiment_tags(experiment_id).get(self.tag)

    def _model_tag(self, name: str) -> str | None:
        return self._stores.model_tags(name).get(self.tag)

    async def experiment_owner(self, experiment_id: str) -> str | None:
        owner: str | None = await self._cached("experiment", experiment_id, self._experiment_tag)
        return owner

    async def run_owner(self, run_id: str) -> tuple[str, str | None]:
        experiment_id = str(await self._cached("run", run_id, self._stores.run_experiment))
        return experiment_id, await self.experiment_owner(experiment_id)

    async def logged_model_experiment(self, model_id: str) -> str:
        found = await self._cached("logged", model_id, self._stores.logged_model_experiment)
        return str(found)

    async def model_owner(self, name: str) -> str | None:
        owner: str | None = await self._cached("model", name, self._model_tag)
        return owner

    # -- naming and tags ----------------------------------------------------------------

    def _check_name(self, call: Call, name: Any, what: str) -> None:
        project = call.project
        if project is None:
            raise forbidden(f"Create the {what} from a project tracking URI, not the global view")
        expected = f" ({project.id})"
        found = NAME_SUFFIX.match(name) if isinstance(name, str) else None
        if found is None or found.group("id") != str(project.id):
            raise forbidden(
                f"The {what} name must end with '{expected}', the id of project "
                f"{project.path}: for example 'my-{what.replace(' ', '-')}{expected}' "
                f"(got {name!r})"
            )

    def _with_project_tag(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        assert call.project is not None
        tags = [t for t in body.get("tags") or [] if isinstance(t, dict)]
        for tag in tags:
            if tag.get("key") == self.tag and tag.get("value") != call.project.path:
                raise forbidden(f"The '{self.tag}' tag is set by the server and cannot be chosen")
        tags = [t for t in tags if t.get("key") != self.tag]
        tags.append({"key": self.tag, "value": call.project.path})
        return {**body, "tags": tags}

    def _check_tag_edit(self, call: Call) -> None:
        if call.param("key") == self.tag:
            raise forbidden(f"The '{self.tag}' tag is set by the server and cannot be changed")

    # -- the plan -----------------------------------------------------------------------

    async def plan(self, call: Call, matched: Match) -> Plan:
        """Decide on one request; raises :class:`Denied` when it is refused."""
        route = matched.route
        kind = route.kind
        if call.project is None and route.write:
            raise forbidden("The global MLflow view is read-only: use a project tracking URI")
        if kind is Kind.PUBLIC:
            return Plan()
        if kind is Kind.UI:
            if call.project is not None and not call.project.can_read:
                raise forbidden(f"You may not read project {call.project.path}")
            return Plan()
        if route.tag_edit:
            self._check_tag_edit(call)

        if kind is Kind.EXPERIMENT:
            experiment_id = str(call.param("experiment_id"))
            owner = await self.experiment_owner(experiment_id)
            await self._require_owner(call, owner, f"experiment {experiment_id}", route.write)
            if route.renames and call.param("new_name") is not None:
                self._check_name(call, call.param("new_name"), "experiment")
            return Plan()
        if kind is Kind.EXPERIMENT_NAME:
            name = str(call.param("experiment_name"))
            tags: dict[str, str] = await self._run(self._stores.experiment_tags_by_name, name)
            await self._require_owner(call, tags.get(self.tag), f"experiment {name!r}", False)
            return Plan()
        if kind is Kind.CREATE_EXPERIMENT:
            body = dict(call.body or {})
            self._check_name(call, body.get("name"), "experiment")
            if body.get("artifact_location"):
                raise forbidden("Experiments of a project cannot choose their artifact location")
            await self._require_owner(call, self._route_path(call), "this project", True)
            return Plan(body=self._with_project_tag(call, body))
        if kind is Kind.SEARCH_EXPERIMENTS:
            return await self._search_experiments(call)
        if kind in (Kind.EXPERIMENTS, Kind.SEARCH_RUNS, Kind.SEARCH_LOGGED_MODELS):
            return await self._keep_readable_experiments(call)
        if kind in (Kind.CREATE_RUN, Kind.CREATE_LOGGED_MODEL):
            experiment_id = str(call.param("experiment_id"))
            owner = await self.experiment_owner(experiment_id)
            await self._require_owner(call, owner, f"experiment {experiment_id}", True)
            return Plan()
        if kind is Kind.RUN:
            run_id = call.param("run_id") or call.param("run_uuid")
            if not run_id:
                raise Denied(400, "INVALID_PARAMETER_VALUE", "Missing value for 'run_id'")
            _, owner = await self.run_owner(str(run_id))
            await self._require_owner(call, owner, f"run {run_id}", route.write)
            return Plan()
        if kind is Kind.RUN_IDS:
            run_ids = call.params("run_ids") or call.params("run_id")
            for run_id in run_ids:
                _, owner = await self.run_owner(run_id)
                await self._require_owner(call, owner, f"run {run_id}", False)
            return Plan()
        if kind is Kind.LOGGED_MODEL:
            model_id = matched.params["model_id"]
            experiment_id = await self.logged_model_experiment(model_id)
            owner = await self.experiment_owner(experiment_id)
            await self._require_owner(call, owner, f"logged model {model_id}", route.write)
            return Plan()
        if kind is Kind.MODEL:
            name = str(call.param("name"))
            owner = await self.model_owner(name)
            await self._require_owner(call, owner, f"registered model {name!r}", route.write)
            if route.renames:
                self._check_name(call, call.param("new_name"), "registered model")
            return Plan()
        if kind is Kind.CREATE_MODEL:
            body = dict(call.body or {})
            self._check_name(call, body.get("name"), "registered model")
            await self._require_owner(call, self._route_path(call), "this project", True)
            return Plan(body=self._with_project_tag(call, body))
        if kind is Kind.CREATE_MODEL_VERSION:
            return await self._create_model_version(call)
        if kind is Kind.SEARCH_MODELS:
            return self._search_models(call)
        if kind is Kind.SEARCH_VERSIONS:
            return Plan(
                search=SearchFilter(
                    "model_versions", SEARCH_VERSIONS_DEFAULT, self._version_ok(call)
                )
            )
        if kind in (Kind.ARTIFACT_PATH, Kind.ARTIFACT_LIST):
            raw = matched.params.get("artifact_path") or call.param("path") or ""
            experiment_id = str(raw).strip("/").split("/", 1)[0]
            if not experiment_id.isdigit():
                raise forbidden("Artifact paths must start with the experiment id")
            owner = await self.experiment_owner(experiment_id)
            await self._require_owner(
                call, owner, f"artifacts of experiment {experiment_id}", route.write
            )
            return Plan()
        raise forbidden("This MLflow route is not available through SharingHub")

    @staticmethod
    def _route_path(call: Call) -> str | None:
        return call.project.path if call.project is not None else None

    async def _create_model_version(self, call: Call) -> Plan:
        name = str(call.param("name"))
        owner = await self.model_owner(name)
        await self._require_owner(call, owner, f"registered model {name!r}", True)
        # The version's source must come from the same project (upstream does not check).
        run_id = call.param("run_id")
        if run_id:
            _, run_owner = await self.run_owner(str(run_id))
            if run_owner != owner:
                raise forbidden(f"Run {run_id} does not belong to project {owner}")
        source = str(call.param("source") or "")
        model_id = call.param("model_id")
        if not model_id and source.startswith("models:/m-"):
            model_id = source.removeprefix("models:/").split("/", 1)[0]
        if model_id:
            experiment_id = await self.logged_model_experiment(str(model_id))
            if await self.experiment_owner(experiment_id) != owner:
                raise forbidden(f"Model {model_id} does not belong to project {owner}")
        if source.startswith("mlflow-artifacts:/"):
            experiment_id = source.removeprefix("mlflow-artifacts:").strip("/").split("/", 1)[0]
            if not experiment_id.isdigit() or await self.experiment_owner(experiment_id) != owner:
                raise forbidden(f"Source {source} does not belong to project {owner}")
        return Plan()

    async def _search_experiments(self, call: Call) -> Plan:
        if call.project is None:
            return Plan(
                search=SearchFilter(
                    "experiments", SEARCH_EXPERIMENTS_DEFAULT, self._tagged_entry_ok(call)
                )
            )
        if not call.project.can_read:
            raise forbidden(f"You may not read project {call.project.path}")
        # On a project route the store does the filtering: exact paging, one query.
        return self._with_tag_filter(call)

    def _search_models(self, call: Call) -> Plan:
        if call.project is None:
            return Plan(
                search=SearchFilter(
                    "registered_models", SEARCH_MODELS_DEFAULT, self._tagged_entry_ok(call)
                )
            )
        if not call.project.can_read:
            raise forbidden(f"You may not read project {call.project.path}")
        return self._with_tag_filter(call)

    def _with_tag_filter(self, call: Call) -> Plan:
        assert call.project is not None
        mine = f"tags.`{self.tag}` = '{call.project.path}'"
        current = call.param("filter")
        # MLflow filters are conjunctions without parentheses: prepending one more is exact.
        combined = f"{mine} AND {current}" if current else mine
        if call.body is not None and call.method != "GET":
            return Plan(body={**call.body, "filter": combined})
        return Plan(query={**call.query, "filter": [combined]})

    def _tagged_entry_ok(self, call: Call) -> Predicate:
        async def readable(entry: dict[str, Any]) -> bool:
            tags = {t.get("key"): t.get("value") for t in entry.get("tags") or []}
            return await self._owner_allows(call, tags.get(self.tag), False)

        return readable

    def _version_ok(self, call: Call) -> Predicate:
        owners: dict[str, str | None] = {}

        async def readable(entry: dict[str, Any]) -> bool:
            name = str(entry.get("name"))
            if name not in owners:
                try:
                    owners[name] = await self.model_owner(name)
                except Denied:
                    owners[name] = None
            return await self._owner_allows(call, owners[name], False)

        return readable

    async def _keep_readable_experiments(self, call: Call) -> Plan:
        if call.project is not None and not call.project.can_read:
            raise forbidden(f"You may not read project {call.project.path}")
        kept = []
        for experiment_id in call.params("experiment_ids"):
            try:
                owner = await self.experiment_owner(experiment_id)
            except Denied:
                continue
            if await self._owner_allows(call, owner, False):
                kept.append(experiment_id)
        if not kept:
            return Plan(answer={})
        if call.body is not None:
            return Plan(body={**call.body, "experiment_ids": kept})
        return Plan(query={**call.query, "experiment_ids": kept})
