"""GitLab CI in the test double: the pipelines and jobs API, and a shell-executor runner.

Routes follow GitLab's REST documentation (Pipelines API, Jobs API):

- ``POST /projects/:id/pipeline`` (``ref`` required, ``variables`` as ``[{key, value,
  variable_type}]``): Developer role or more (403 otherwise); 400 ``{"message": {"base": [...]}}``
  when the ref has no ``.gitlab-ci.yml`` or no job matches its ``rules``; 201 with the pipeline.
- ``GET /projects/:id/pipelines/:pipeline_id`` and ``.../pipelines/:pipeline_id/jobs``;
- ``GET /projects/:id/jobs/:job_id`` and ``.../jobs/:job_id/trace`` (the log as plain text).

Jobs really run, like a GitLab Runner with the shell executor: in a temporary checkout of the
project's files, ``before_script`` then ``script`` lines go through ``bash -c`` with the CI
predefined variables, the project's CI/CD variables (:attr:`CIRunner.project_variables`), the
pipeline's variables and the job's ``variables`` (with ``$VAR`` expanded), output appended to the
trace as it comes. The runner's interpreter directory is first on ``PATH``. Supported
``.gitlab-ci.yml`` subset: jobs with ``script``, ``before_script``, ``variables``, ``stage``,
``rules: [{if: $VAR}]`` / ``[{if: $VAR == "value"}]``; ``image`` is ignored (no containers).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tests.gitlab_double.model import DEVELOPER, GitLabState, Project, User

#: Keys of .gitlab-ci.yml that are not jobs.
_GLOBAL_KEYS = {"stages", "variables", "default", "include", "workflow", "image", "services"}
_RULE = re.compile(r'^\$(\w+)(?:\s*(==|!=)\s*"([^"]*)")?$')
_VAR = re.compile(r"\$\{?(\w+)\}?")
NO_JOBS = (
    "Pipeline will not run for the selected trigger. The rules configuration prevented any"
    " jobs from being added to the pipeline."
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Job:
    id: int
    name: str
    stage: str
    spec: dict[str, Any]
    status: str = "created"
    trace: str = ""
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None


@dataclass
class Pipeline:
    id: int
    iid: int
    project: Project
    ref: str
    sha: str
    user: User
    variables: dict[str, str]
    jobs: list[Job] = field(default_factory=list)
    created_at: str = field(default_factory=_now)

    @property
    def status(self) -> str:
        states = {job.status for job in self.jobs}
        if "failed" in states:
            return "failed"
        if "running" in states or ("success" in states and states & {"pending", "created"}):
            return "running"
        for status in ("pending", "created"):
            if status in states:
                return status
        return "success" if states else "skipped"


class CIError(Exception):
    def __init__(self, status: int, message: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CIRunner:
    """Pipelines of the double's projects, and the runner that executes their jobs."""

    def __init__(self, state: GitLabState) -> None:
        self.state = state
        self.pipelines: dict[int, Pipeline] = {}
        self.jobs: dict[int, Job] = {}
        #: Project CI/CD variables (Settings > CI/CD > Variables): path -> {key: value}.
        self.project_variables: dict[str, dict[str, str]] = {}
        self._ids = iter(range(1001, 10**9))
        self._lock = threading.Lock()

    # -- the API ---------------------------------------------------------------------------

    def create(
        self, web: str, user: User, project: Project, body: dict[str, Any]
    ) -> dict[str, Any]:
        if self.state.access_level(user, project) < DEVELOPER:
            raise CIError(403, "403 Forbidden")
        ref = body.get("ref")
        if not ref:
            raise CIError(400, "ref is missing")
        if ref != project.default_branch:
            raise CIError(400, {"base": ["Reference not found"]})
        variables = {
            str(v["key"]): str(v.get("value", ""))
            for v in body.get("variables") or []
            if isinstance(v, dict) and "key" in v
        }
        config = project.files.get(".gitlab-ci.yml")
        if config is None:
            raise CIError(400, {"base": ["Missing CI config file"]})
        document = yaml.safe_load(config if isinstance(config, str) else config.decode()) or {}
        with self._lock:
            pipeline = Pipeline(
                next(self._ids), len(self.pipelines) + 1, project, ref,
                project.commit_sha, user, variables,
            )  # fmt: skip
            for name, spec in document.items():
                if name in _GLOBAL_KEYS or name.startswith(".") or not isinstance(spec, dict):
                    continue
                if self._selected(spec, variables):
                    job = Job(next(self._ids), name, str(spec.get("stage", "test")), spec)
                    pipeline.jobs.append(job)
                    self.jobs[job.id] = job
            if not pipeline.jobs:
                raise CIError(400, {"base": [NO_JOBS]})
            self.pipelines[pipeline.id] = pipeline
        threading.Thread(target=self._run, args=(pipeline, document, web), daemon=True).start()
        return self.pipeline_json(web, pipeline)

    def pipeline(self, project: Project, pipeline_id: str) -> Pipeline:
        found = self.pipelines.get(int(pipeline_id)) if pipeline_id.isdigit() else None
        if found is None or found.project.id != project.id:
            raise CIError(404, "404 Not found")
        return found

    def job(self, project: Project, job_id: str) -> tuple[Pipeline, Job]:
        for pipeline in self.pipelines.values():
            for job in pipeline.jobs:
                if str(job.id) == job_id and pipeline.project.id == project.id:
                    return pipeline, job
        raise CIError(404, "404 Not found")

    def pipeline_json(self, web: str, pipeline: Pipeline) -> dict[str, Any]:
        return {
            "id": pipeline.id,
            "iid": pipeline.iid,
            "project_id": pipeline.project.id,
            "sha": pipeline.sha,
            "ref": pipeline.ref,
            "status": pipeline.status,
            "source": "api",
            "created_at": pipeline.created_at,
            "updated_at": _now(),
            "web_url": f"{web}/{pipeline.project.path}/-/pipelines/{pipeline.id}",
            "user": {"id": pipeline.user.id, "username": pipeline.user.username},
        }

    def job_json(self, web: str, pipeline: Pipeline, job: Job) -> dict[str, Any]:
        return {
            "id": job.id,
            "name": job.name,
            "stage": job.stage,
            "status": job.status,
            "ref": pipeline.ref,
            "tag": False,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "pipeline": {
                "id": pipeline.id,
                "project_id": pipeline.project.id,
                "ref": pipeline.ref,
                "sha": pipeline.sha,
                "status": pipeline.status,
            },
            "web_url": f"{web}/{pipeline.project.path}/-/jobs/{job.id}",
            "user": {"id": pipeline.user.id, "username": pipeline.user.username},
        }

    # -- the runner --------------------------------------------------------------------------

    @staticmethod
    def _selected(spec: dict[str, Any], variables: dict[str, str]) -> bool:
        rules = spec.get("rules")
        if not rules:
            return True
        for rule in rules:
            condition = str(rule.get("if", "")).strip()
            match = _RULE.match(condition)
            if match is None:
                continue
            value = variables.get(match[1], "")
            if match[2] is None and value:
                return True
            if match[2] == "==" and value == match[3]:
                return True
            if match[2] == "!=" and value != match[3]:
                return True
        return False

    def _run(self, pipeline: Pipeline, document: dict[str, Any], web: str) -> None:
        for job in pipeline.jobs:
            job.status = "pending"
        for job in pipeline.jobs:
            self._run_job(pipeline, job, document, web)

    def _run_job(self, pipeline: Pipeline, job: Job, document: dict[str, Any], web: str) -> None:
        project = pipeline.project
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_SERVER_URL": web,
            "CI_API_V4_URL": f"{web}/api/v4",
            "CI_PROJECT_ID": str(project.id),
            "CI_PROJECT_PATH": project.path,
            "CI_COMMIT_REF_NAME": pipeline.ref,
            "CI_COMMIT_SHA": pipeline.sha,
            "CI_PIPELINE_ID": str(pipeline.id),
            "CI_PIPELINE_SOURCE": "api",
            "CI_JOB_ID": str(job.id),
            "CI_JOB_NAME": job.name,
        }
        env.update(self.project_variables.get(project.path, {}))
        env.update({k: str(v) for k, v in (document.get("variables") or {}).items()})
        for key, value in (job.spec.get("variables") or {}).items():
            env[key] = _VAR.sub(lambda m: env.get(m[1], ""), str(value))
        env.update(pipeline.variables)  # pipeline variables take precedence, as in GitLab
        lines = [*job.spec.get("before_script", []), *job.spec.get("script", [])]
        job.status, job.started_at = "running", _now()
        job.trace += "Running with gitlab-runner (test double) on shell executor\n"
        with tempfile.TemporaryDirectory(prefix="ci-build-") as build:
            for path, content in project.files.items():
                target = Path(build) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content.encode() if isinstance(content, str) else content)
            for line in lines:
                job.trace += f"$ {line}\n"
                process = subprocess.Popen(
                    ["bash", "-c", line], cwd=build, env=env, text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                )  # fmt: skip
                assert process.stdout is not None
                for output in process.stdout:
                    job.trace += output
                if process.wait() != 0:
                    job.trace += f"ERROR: Job failed: exit status {process.returncode}\n"
                    job.status, job.finished_at = "failed", _now()
                    return
        job.trace += "Job succeeded\n"
        job.status, job.finished_at = "success", _now()
