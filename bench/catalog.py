"""Benchmark: mlops-server's catalog search against stac-fastapi-pgstac, same items, same run.

Run with ``make bench`` (or ``python bench/catalog.py --sizes 10000,100000``). For each size it

1. generates projects with real-world-like footprints: Sentinel-2 tile-sized boxes (about
   110 km) and small polygons clustered over land, declared temporal extents spread over two
   years (2023-2024), a mix of ``ai-model`` projects (with ``mlm:`` front matter) and
   ``dataset`` projects, and titles/descriptions with words to search;
2. indexes them into mlops-server's index through the ``Index`` API (``Index.rebuild``, the
   code path ``mlops-server serve`` runs at start), once on SQLite and once on PostgreSQL, and
   times each build;
3. loads the same items as STAC items into pgstac (``pypgstac migrate`` + ``pypgstac load``,
   in a throwaway PostgreSQL 15 + PostGIS cluster) and serves them with
   ``stac_fastapi.pgstac`` under uvicorn (a venv of its own, see ``--pgstac-venv``);
4. serves both indexes with mlops-server's app (``mlops_server.app.create_app`` under uvicorn,
   one process each, public mode) and measures, interleaving servers request by request:

   (a) one collection + bbox + a 2-year datetime interval, (b) several collections,
   (c) free text ``q``, (d) a CQL2 filter on an ``mlm:`` property, (e) paging through all
   results of a query (following ``next`` links), and the throughput of 8 concurrent clients.

Then it runs mlops-server over the GitLab test double (``tests/gitlab_double``) to count the
GitLab calls a search makes after the sync, and the seconds from a push webhook to the pushed
README being searchable.

Numbers are printed (p50/p95 and the ratios ours/pgstac), never asserted: this is not a test.

pgstac items carry ``datetime: null`` and the declared extent as ``start_datetime`` /
``end_datetime`` so that pgstac's datetime filter means what mlops-server's does (the declared
temporal extent): both servers then match the same items, which the table shows.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.gitlab_double, when run as a script

# -- projects with real-world-like footprints ----------------------------------------------

# Land regions (lon/lat boxes) and how many projects fall in each: EO work clusters there.
REGIONS = [
    ("europe", (-10.0, 36.0, 30.0, 60.0), 30),
    ("north-america", (-124.0, 26.0, -70.0, 50.0), 18),
    ("south-america", (-75.0, -35.0, -40.0, 5.0), 10),
    ("africa", (-15.0, -30.0, 40.0, 15.0), 14),
    ("india", (70.0, 8.0, 88.0, 30.0), 10),
    ("east-asia", (100.0, 20.0, 125.0, 42.0), 10),
    ("australia", (115.0, -38.0, 150.0, -15.0), 8),
]
THEMES = [
    "flood", "wildfire", "crop", "forest", "urban", "glacier", "drought", "landslide",
    "wetland", "coastal", "snow", "vineyard", "solar-panel", "road", "building", "ship",
]  # fmt: skip
TASKS = ["segmentation", "classification", "object-detection", "regression"]
ARCHITECTURES = ["U-Net", "ResNet-50", "ViT-B/16", "DeepLabV3+", "YOLOv8", "Random Forest"]
FRAMEWORKS = ["pytorch", "tensorflow", "scikit-learn", "onnxruntime", "jax"]
SENSORS = ["Sentinel-2 L2A", "Sentinel-1 GRD", "Landsat 8", "PlanetScope", "SPOT 6"]
WORDS = [
    "time",
    "series",
    "of",
    "reflectances",
    "labelled",
    "by",
    "field",
    "campaigns",
    "and",
    "validated",
    "against",
    "ground",
    "truth",
    "with",
    "cloud",
    "masks",
    "at",
    "ten",
    "metre",
    "resolution",
    "for",
    "the",
    "monitoring",
    "season",
]
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730  # two years

# The queries. Europe's central box and the 2-year interval of the generated extents.
BBOX_A = [0.0, 42.0, 16.0, 54.0]
BBOX_E = [0.0, 44.0, 10.0, 50.0]  # a small box: every result of it is paged through
TWO_YEARS = "2023-01-01T00:00:00Z/2024-12-31T23:59:59Z"
FILTER_D = {"op": "=", "args": [{"property": "mlm:framework"}, "pytorch"]}
TEXT_C = "wildfire"
PAGE = 50
PAGE_E = 100


def _footprint(rng: random.Random) -> tuple[str, str]:
    """(region, footprint): a Sentinel-2 tile-sized box (70%) or a small polygon (WKT)."""
    weights = [w for _, _, w in REGIONS]
    region, (minx, miny, maxx, maxy), _ = rng.choices(REGIONS, weights)[0]
    lat = rng.uniform(miny, maxy)
    lon = rng.uniform(minx, maxx)
    if rng.random() < 0.7:
        half_lat = 0.495  # 110 km
        half_lon = half_lat / max(math.cos(math.radians(lat)), 0.2)
        box = [lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat]
        return region, f"[{box[0]:.5f}, {box[1]:.5f}, {box[2]:.5f}, {box[3]:.5f}]"
    sides = rng.randint(5, 8)
    radius = rng.uniform(0.05, 0.6)
    points = []
    for k in range(sides):
        angle = 2 * math.pi * k / sides + rng.uniform(-0.2, 0.2)
        r = radius * rng.uniform(0.6, 1.0)
        points.append((lon + r * math.cos(angle), lat + r * math.sin(angle)))
    points.append(points[0])
    wkt = "POLYGON((" + ", ".join(f"{x:.5f} {y:.5f}" for x, y in points) + "))"
    return region, f"'{wkt}'"


def _readme(rng: random.Random, index: int, model: bool) -> tuple[str, str, list[str]]:
    """(name, README with front matter, topics) of one generated project."""
    theme = rng.choice(THEMES)
    task = rng.choice(TASKS)
    region, spatial = _footprint(rng)
    start = START + timedelta(days=rng.uniform(0, SPAN_DAYS - 1))
    end = min(start + timedelta(days=rng.uniform(1, 180)), START + timedelta(days=SPAN_DAYS))
    sensor = rng.choice(SENSORS)
    prose = " ".join(rng.choices(WORDS, k=40))
    lines = ["---"]
    if model:
        architecture = rng.choice(ARCHITECTURES)
        framework = rng.choice(FRAMEWORKS)
        name = f"{theme.title()} {task} {architecture} {region} #{index}"
        lines += [
            f"title: {name}",
            "license: Apache-2.0",
            "extent:",
            f"  spatial: {spatial}",
            f"  temporal: [{start.isoformat()}, {end.isoformat()}]",
            "mlm:",
            f"  name: {theme}-{task}-{index}",
            f"  architecture: {architecture}",
            f"  framework: {framework}",
            f"  tasks: [{task}]",
            f"  total_parameters: {rng.randint(10_000, 90_000_000)}",
            f"  accelerator: {rng.choice(['cuda', 'amd64'])}",
            f"  pretrained: {rng.choice(['true', 'false'])}",
            "assets: ['*.onnx']",
        ]
        topics = ["sharinghub:aimodel", theme, task]
    else:
        name = f"{theme.title()} {sensor} dataset {region} #{index}"
        lines += [
            f"title: {name}",
            "license: CC-BY-4.0",
            "extent:",
            f"  spatial: {spatial}",
            f"  temporal: [{start.isoformat()}, {end.isoformat()}]",
            f"platform: {sensor.split()[0].lower()}",
            f"eo:cloud_cover: {rng.randint(0, 60)}",
            "assets: ['data/*.tif']",
        ]
        topics = ["sharinghub:dataset", theme]
    lines += ["---", f"# {name}", "", f"{theme.title()} {task} over {region}: {prose}.", ""]
    return name, "\n".join(lines), topics


def generate(count: int, first: int = 0, seed: int = 42) -> Iterator[Any]:
    """Projects ``first`` to ``count - 1`` (mlops_server ``Project`` objects), 40% models,
    60% datasets; each from its own seed, so that slices can be made in parallel."""
    from mlops_server.sources.base import Project

    created = datetime(2022, 6, 1, tzinfo=UTC)
    for index in range(first, count):
        rng = random.Random(seed * 1_000_003 + index)
        model = rng.random() < 0.4
        name, readme, topics = _readme(rng, index, model)
        files = ("README.md", "model.onnx") if model else ("README.md", "data/tile-0.tif")
        yield Project(
            id=index + 1,
            name=name,
            path=f"eo-lab-{index % 97:02d}/{'model' if model else 'data'}-{index}",
            description="",
            topics=tuple(topics),
            visibility="public",
            default_branch="main",
            created_at=created,
            last_activity_at=created + timedelta(minutes=index),
            star_count=index % 13,
            readme=readme,
            files=files,
            dvc_initialized=False,
        )


class GeneratedProjects:
    """A ``ProjectSource`` over generated projects (memory only; no files to serve)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def iter_projects(self) -> Iterator[Any]:
        return generate(self.count)

    def get_project(self, path: str) -> Any:
        from mlops_server.sources.base import ProjectNotFound

        raise ProjectNotFound(path)

    def open_file(self, project_path: str, file_path: str, ref: str | None = None) -> Any:
        from mlops_server.sources.base import ProjectNotFound

        raise ProjectNotFound(project_path)


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"PostgreSQL server binaries are missing ({name}): make system-deps")
    return found[-1]


class Cluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl, free port; as nobody under root)."""

    def __init__(self, work: Path) -> None:
        self.root = work / "pg"
        self.root.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody")
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self.data = self.root / "data"
        self.port = free_port()
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c shared_buffers=256MB -c max_connections=200"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.root / "log"), "-w", "start",
        )  # fmt: skip

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=300)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )


def serve_index(db_url: str, port: int) -> None:
    """Serve an already built index with mlops-server's app (``serve-index`` subcommand)."""
    import uvicorn
    from mlops_server.app import create_app
    from mlops_server.index import Index
    from mlops_server.settings import load_settings

    app = create_app(load_settings(None), GeneratedProjects(0), Index(db_url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    search: str = ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_ours(name: str, db_url: str, log: Path) -> Server:
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, "serve-index", "--db", db_url, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/status", process)
    return Server(name, url, process, f"{url}/api/stac/search")


def start_pgstac(venv: Path, cluster: Cluster, log: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "PGUSER": "postgres",
        "PGPASSWORD": "",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        "PGDATABASE": "pgstac",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASS": "",
        "POSTGRES_HOST_READER": "127.0.0.1",
        "POSTGRES_HOST_WRITER": "127.0.0.1",
        "POSTGRES_PORT": str(cluster.port),
        "POSTGRES_DBNAME": "pgstac",
        "WEB_CONCURRENCY": "1",
    }
    command = [str(venv / "bin" / "uvicorn"), "stac_fastapi.pgstac.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_mgmt/ping", process)
    return Server("pgstac", url, process, f"{url}/search")


# -- loading -------------------------------------------------------------------------------


def map_projects(count: int) -> list[Any]:
    """Map ``count`` generated projects to index rows once (``mlops_server.index`` helpers,
    what ``Index.rebuild`` runs per project), to be written into each store."""
    from mlops_server.index import _rows
    from mlops_server.settings import load_settings

    settings = load_settings(None)
    return [_rows(project, settings) for project in generate(count)]


def _map_slice(bounds: tuple[int, int]) -> list[Any]:
    from mlops_server.index import _rows
    from mlops_server.settings import load_settings

    settings = load_settings(None)
    return [_rows(project, settings) for project in generate(bounds[1], bounds[0])]


def map_projects_parallel(count: int, workers: int) -> list[Any]:
    """``map_projects`` in ``workers`` processes (slices of 2,000 projects)."""
    if workers <= 1:
        return map_projects(count)
    import multiprocessing

    slices = [(start, min(start + 2000, count)) for start in range(0, count, 2000)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return [rows for part in pool.imap(_map_slice, slices) for rows in part]


def _clone(rows: Any, copy: int, project_id: int) -> Any:
    """Project ``rows`` again under another path and id (``<path>-c<copy>``): same item."""
    old, old_id = rows.item["path"], rows.item["project_id"]
    new = f"{old}-c{copy}"
    document = (
        rows.document["item"]
        .replace(f'"{old}"', f'"{new}"')
        .replace(f"/{old}/", f"/{new}/")
        .replace(f'"sharinghub:id": {old_id},', f'"sharinghub:id": {project_id},')
    )
    return type(rows)(
        {**rows.item, "path": new, "project_id": project_id},
        {"path": new, "item": document},
        [{**row, "path": new} for row in rows.categories],
        [{**row, "path": new} for row in rows.topics],
        [
            {**row, "path": new, "value": new if row["name"] == "sharinghub:path" else row["value"]}
            for row in rows.properties
        ],
    )


def grow(rows: list[Any], size: int) -> list[Any]:
    """``rows`` plus clones of them up to ``size`` projects (new paths and ids)."""
    grown = list(rows)
    copy = 0
    while len(grown) < size:
        copy += 1
        for base in rows[: size - len(grown)]:
            grown.append(_clone(base, copy, len(grown) + 1))
    return grown


def build_ours(db_url: str, rows: list[Any]) -> float:
    """Write mapped rows into a fresh index the way ``Index.rebuild`` does; seconds taken."""
    from mlops_server.index import _BATCH, Index, _insert
    from sqlalchemy.orm import Session

    index = Index(db_url)
    started = time.perf_counter()
    with Session(index.engine) as session, session.begin():
        for offset in range(0, len(rows), _BATCH):
            _insert(session, rows[offset : offset + _BATCH])
    index.analyze()
    elapsed = time.perf_counter() - started
    index.dispose()
    return elapsed


def write_stac_items(path: Path, rows: list[Any]) -> Path:
    """The same items as STAC items (ndjson) plus their collections, for pypgstac."""
    from mlops_server.settings import load_settings
    from mlops_server.stac.catalog import collection
    from mlops_server.stac.items import render_item

    settings = load_settings(None)
    base = "http://127.0.0.1"
    with path.open("w") as out:
        for project in rows:
            category = settings.category(project.categories[0]["category"])
            item = render_item(json.loads(project.document["item"]), category, base, 1)
            item["properties"]["datetime"] = None  # search the declared extent, as ours does
            out.write(json.dumps(item) + "\n")
    collections = path.with_name("collections.ndjson")
    with collections.open("w") as out:
        for category in settings.categories:
            document = collection(category, base)
            document["extent"]["temporal"]["interval"] = [["2023-01-01T00:00:00Z", None]]
            out.write(json.dumps(document) + "\n")
    return collections


def load_pgstac(venv: Path, cluster: Cluster, items: Path, collections: Path) -> float:
    """``pypgstac migrate`` then ``pypgstac load``; seconds taken by the item load."""
    cluster.create_database("pgstac")
    pypgstac = str(venv / "bin" / "pypgstac")
    dsn = cluster.dsn("pgstac")
    subprocess.run([pypgstac, "migrate", "--dsn", dsn], check=True, capture_output=True)
    subprocess.run(
        [pypgstac, "load", "collections", str(collections), "--dsn", dsn, "--method", "upsert"],
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    subprocess.run(
        [pypgstac, "load", "items", str(items), "--dsn", dsn, "--method", "insert"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


# -- measuring -------------------------------------------------------------------------------

QUERIES: dict[str, dict[str, Any]] = {
    "a": {"collections": ["dataset"], "bbox": BBOX_A, "datetime": TWO_YEARS, "limit": PAGE},
    "b": {"collections": ["ai-model", "dataset"], "limit": PAGE},
    "c": {"collections": ["ai-model", "dataset"], "q": TEXT_C, "limit": PAGE},
    "d": {"collections": ["ai-model"], "filter-lang": "cql2-json", "filter": FILTER_D,
          "limit": PAGE},
    "e": {"collections": ["dataset"], "bbox": BBOX_E, "datetime": TWO_YEARS, "limit": PAGE_E},
}  # fmt: skip
LABELS = {
    "a": "(a) 1 collection + bbox + 2-year datetime",
    "b": "(b) 2 collections",
    "c": "(c) free text q",
    "d": "(d) CQL2 mlm:framework = pytorch",
    "e": "(e) page through all results",
}


def search_once(client: httpx.Client, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(server.search, json=body)
    response.raise_for_status()
    return dict(response.json())


def page_all(client: httpx.Client, server: Server, body: dict[str, Any]) -> int:
    """Follow ``next`` links to the end; return the number of items seen."""
    seen = 0
    document = search_once(client, server, body)
    while True:
        seen += len(document["features"])
        link = next((lk for lk in document.get("links", []) if lk.get("rel") == "next"), None)
        if link is None:
            return seen
        if link.get("method", "GET") == "POST":
            body = {**body, **link["body"]} if link.get("merge") else dict(link["body"])
            response = client.post(link["href"], json=body)
        else:
            response = client.get(link["href"])
        response.raise_for_status()
        document = response.json()


@dataclass
class Timings:
    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    matched: dict[tuple[str, str], Any] = field(default_factory=dict)

    def add(self, server: str, query: str, seconds: float) -> None:
        self.samples.setdefault((server, query), []).append(seconds)


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure_latency(servers: list[Server], rounds: int, warmup: int) -> Timings:
    """Every query on every server, round after round, in a shuffled server order."""
    timings = Timings()
    rng = random.Random(7)
    clients = {s.name: httpx.Client(timeout=120) for s in servers}
    try:
        for number in range(warmup + rounds):
            for key, body in QUERIES.items():
                order = list(servers)
                rng.shuffle(order)
                for server in order:
                    client = clients[server.name]
                    started = time.perf_counter()
                    if key == "e":
                        result: Any = page_all(client, server, body)
                    else:
                        document = search_once(client, server, body)
                        result = document.get("numberMatched", document.get("context"))
                        if number == 0:
                            timings.matched[(server.name, f"{key}-returned")] = len(
                                document["features"]
                            )
                    elapsed = time.perf_counter() - started
                    if number == 0:
                        timings.matched[(server.name, key)] = result
                    if number >= warmup:
                        timings.add(server.name, key, elapsed)
    finally:
        for client in clients.values():
            client.close()
    return timings


async def _throughput(server: Server, clients: int, seconds: float) -> tuple[int, float]:
    """Requests done by ``clients`` concurrent clients in about ``seconds``, and the time."""
    bodies = [QUERIES[k] for k in "abcd"]
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(timeout=120) as client:
            step = offset
            while time.perf_counter() < deadline:
                response = await client.post(server.search, json=bodies[step % len(bodies)])
                response.raise_for_status()
                done += 1
                step += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    return done, time.perf_counter() - started


def measure_throughput(
    servers: list[Server], clients: int, seconds: float, slices: int = 5
) -> dict[str, float]:
    """Requests per second of ``clients`` concurrent clients cycling through (a)-(d).

    Each server gets ``seconds`` in ``slices`` runs, interleaved in a shuffled order, so that
    a change in the machine's speed during the measurement (a shared or virtual machine)
    falls on every server alike, as the latency rounds do.
    """
    rng = random.Random(11)
    totals = {s.name: [0, 0.0] for s in servers}
    for _ in range(slices):
        order = list(servers)
        rng.shuffle(order)
        for server in order:
            done, elapsed = asyncio.run(_throughput(server, clients, seconds / slices))
            totals[server.name][0] += done
            totals[server.name][1] += elapsed
    return {name: done / elapsed for name, (done, elapsed) in totals.items()}


# -- GitLab: calls per search after the sync, webhook to searchable -------------------------


def gitlab_numbers(work: Path, searches: int, pushes: int) -> dict[str, float]:
    from tests.gitlab_double import GitLabDouble, Project, User

    secret = "bench-hook-secret"
    users = [User("root", ["svc-token"], admin=True)]
    projects = [
        Project(
            f"bench/dataset-{n}",
            visibility="public",
            topics=["sharinghub:dataset"],
            files={"README.md": f"---\ntitle: Dataset {n}\n---\n# Dataset {n}\n"},
        )
        for n in range(20)
    ]
    with GitLabDouble(users, projects) as gitlab:
        port = free_port()
        env = {
            **os.environ,
            "MLOPS_GITLAB_TOKEN": "svc-token",
            "MLOPS_WEBHOOK_SECRET": secret,
            "GITLAB_ALLOW_PUBLIC": "true",
        }
        command = [sys.executable, "-m", "mlops_server", "serve", "--gitlab-url", gitlab.url]
        command += ["--sync-interval", "0", "--port", str(port), "--log-level", "warning"]
        with (work / "gitlab-server.log").open("w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/status", process)
            gitlab.state.add_hook(f"{url}/api/webhooks/gitlab", token=secret)
            with httpx.Client(timeout=30) as client:
                before = len(gitlab.requests)
                for n in range(searches):
                    client.get(
                        f"{url}/api/stac/search", params={"q": f"dataset {n % 20}"}
                    ).raise_for_status()
                calls = (len(gitlab.requests) - before) / searches
                delays = []
                for n in range(pushes):
                    word = f"pushed{n}word"
                    started = time.perf_counter()
                    # GitLab delivers the push hook; the double sends it when the push returns.
                    gitlab.state.push(
                        "bench/dataset-0",
                        {"README.md": f"---\ntitle: Dataset {word}\n---\n# {word}\n"},
                    )
                    while True:
                        found = client.get(f"{url}/api/stac/search", params={"q": word}).json()
                        if found["numberMatched"] == 1:
                            break
                        if time.perf_counter() - started > 30:
                            raise RuntimeError("a pushed README never became searchable")
                        time.sleep(0.005)
                    delays.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(timeout=15)
    return {
        "gitlab_calls_per_search": calls,
        "webhook_p50_s": statistics.median(delays),
        "webhook_max_s": max(delays),
    }


# -- report ----------------------------------------------------------------------------------


def report(
    size: int, timings: Timings, throughput: dict[str, float], names: list[str], rounds: int
) -> list[str]:
    lines = [f"\n## {size:,} projects ({rounds} interleaved rounds; latencies in ms)"]
    header = f"{'query':42} " + " ".join(f"{n + ' p50/p95':>22}" for n in names)
    ours = [n for n in names if n != "pgstac"]
    header += " " + " ".join(f"{n + '/pgstac p50':>20}" for n in ours)
    lines.append(header)
    for key, label in LABELS.items():
        cells = []
        for name in names:
            values = timings.samples[(name, key)]
            cells.append(
                f"{1000 * percentile(values, 50):9.1f} / {1000 * percentile(values, 95):8.1f}"
            )
        row = f"{label:42} " + " ".join(f"{c:>22}" for c in cells)
        base = statistics.median(timings.samples[("pgstac", key)])
        row += " " + " ".join(
            f"{statistics.median(timings.samples[(n, key)]) / base:>20.2f}" for n in ours
        )
        lines.append(row)
    tp = f"{'throughput, 8 clients (req/s)':42} " + " ".join(
        f"{throughput[n]:>22.1f}" for n in names
    )
    tp += " " + " ".join(f"{throughput[n] / throughput['pgstac']:>20.2f}" for n in ours)
    lines.append(tp)
    lines.append("matched (first round; e: items paged through):")
    for key in LABELS:
        values = ", ".join(f"{n}={timings.matched.get((n, key))}" for n in names)
        lines.append(f"  {key}: {values}")
    return lines


def run_size(args: argparse.Namespace, size: int, work: Path) -> list[str]:
    out = work / str(size)
    out.mkdir()
    cluster = Cluster(out)
    servers: list[Server] = []
    lines: list[str] = []
    try:
        cluster.create_database("mlops")
        sqlite_url = f"sqlite:///{out / 'index.sqlite'}"
        pg_url = cluster.dsn("mlops").replace("postgresql://", "postgresql+psycopg://")
        print(f"[{size}] mapping projects to items ...", flush=True)
        started = time.perf_counter()
        mapped = min(size, args.map_at_most)
        rows = map_projects_parallel(mapped, args.workers)
        mapping = time.perf_counter() - started
        rows = grow(rows, size)
        print(f"[{size}] writing the SQLite and PostgreSQL indexes ...", flush=True)
        # Both stores at once (each its own connection): their times are each one's own.
        with ThreadPoolExecutor(2) as pool:
            sqlite_job = pool.submit(build_ours, sqlite_url, rows)
            pg_job = pool.submit(build_ours, pg_url, rows)
            build_sqlite, build_pg = sqlite_job.result(), pg_job.result()
        print(f"[{size}] writing and loading STAC items into pgstac ...", flush=True)
        collections = write_stac_items(out / "items.ndjson", rows)
        del rows
        load_pg = load_pgstac(args.pgstac_venv, cluster, out / "items.ndjson", collections)
        lines.append(
            f"\nindex build for {size:,} projects: item mapping (README front matter -> STAC "
            f"item, once) of {mapped:,} projects {mapping:.1f} s"
            + (
                f" (the other {size - mapped:,} are copies under new paths)"
                if size > mapped
                else ""
            )
            + f"; index writes: SQLite {build_sqlite:.1f} s, "
            f"PostgreSQL {build_pg:.1f} s; pgstac: pypgstac load {load_pg:.1f} s"
        )
        print(lines[-1], flush=True)
        servers = [
            start_ours("sqlite", sqlite_url, out / "sqlite.log"),
            start_ours("postgres", pg_url, out / "postgres.log"),
            start_pgstac(args.pgstac_venv, cluster, out / "pgstac.log"),
        ]
        rounds = args.rounds if size <= 10_000 else args.rounds_large
        print(f"[{size}] measuring latency ({rounds} rounds) ...", flush=True)
        timings = measure_latency(servers, rounds, warmup=2)
        print(f"[{size}] measuring throughput ...", flush=True)
        throughput = measure_throughput(servers, 8, args.seconds)
        lines += report(size, timings, throughput, [s.name for s in servers], rounds)
        with httpx.Client(timeout=60) as client:
            q = dict(QUERIES["c"])
            without = dict(q)
            del without["q"]
            pg_q = search_once(client, servers[2], q)
            pg_plain = search_once(client, servers[2], without)
            ignored = [f["id"] for f in pg_q["features"]] == [f["id"] for f in pg_plain["features"]]
        lines.append(
            f"pgstac item search with q={TEXT_C!r}: "
            + ("same page as without q (q ignored)" if ignored else "results differ from no q")
        )
    finally:
        for server in servers:
            server.stop()
        cluster.stop()
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve-index", help="(internal) serve a built index")
    serve.add_argument("--db", required=True)
    serve.add_argument("--port", type=int, required=True)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=40, help="latency rounds at <= 10k")
    parser.add_argument("--rounds-large", type=int, default=20, help="rounds above 10k")
    parser.add_argument(
        "--seconds", type=float, default=15, help="throughput time per server (5 interleaved runs)"
    )
    parser.add_argument(
        "--pgstac-venv",
        type=Path,
        default=Path(os.environ.get("PGSTAC_VENV", "/tmp/pgstac-venv")),
        help="venv with stac-fastapi-pgstac[server] and pypgstac[psycopg] (make bench makes it)",
    )
    parser.add_argument("--skip-gitlab", action="store_true")
    parser.add_argument(
        "--map-at-most",
        type=int,
        default=1_000_000,
        help="map at most this many projects; copy them (new paths, ids) up to the size",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes mapping projects to items"
    )
    args = parser.parse_args()
    if args.command == "serve-index":
        serve_index(args.db, args.port)
        return
    if not (args.pgstac_venv / "bin" / "pypgstac").exists():
        raise SystemExit(f"no pypgstac in {args.pgstac_venv}: run `make bench` (it creates it)")
    # A terminated run still stops its servers and clusters (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = Path(tempfile.mkdtemp(prefix="mlops-catalog-bench-"))
    os.chmod(work, 0o755)
    lines: list[str] = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            lines += run_size(args, size, work)
        if not args.skip_gitlab:
            numbers = gitlab_numbers(work, searches=200, pushes=20)
            lines.append(
                f"\nGitLab double, after sync: {numbers['gitlab_calls_per_search']:.2f} GitLab "
                f"calls per search (200 searches); push webhook -> searchable: p50 "
                f"{numbers['webhook_p50_s']:.3f} s, max {numbers['webhook_max_s']:.3f} s "
                f"(20 pushes)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n# Results" + "\n".join(lines))


if __name__ == "__main__":
    main()
