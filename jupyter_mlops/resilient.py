# mypy: disable-error-code="no-untyped-call"
# (MLflow's store and REST helpers carry no annotations.)
"""Resilient MLflow logging: batched in the background, spooled to disk through outages.

A training loop should neither slow down per step, nor die, nor lose a point when the tracking
server blips. In resilient mode each ``log`` call only appends a record to an in-memory queue
(a ``deque.append``: well under a microsecond of the loop's time). A background thread drains
the queue into ``log_batch`` requests within MLflow's limits (1000 metrics, 100 params, 1000
entries per request). When a request fails because the server is unreachable (connection error,
timeout, 5xx, 429, 401), that batch and every later one are appended to a spool file on local
disk (JSON lines, fsync'd once per write, not per point); the thread replays the spool in order,
with backoff, until the server answers, then goes back to sending directly. Order is kept
because nothing bypasses a non-empty spool. A batch the server may have committed just before
it died is sent again: MLflow's stores ignore a metric whose key, step, timestamp and value are
already recorded, and a parameter logged again with the same value, so each point lands once.

Two ways in:

- :func:`enable` hooks MLflow's client in this process: every ``http(s)`` tracking store becomes
  a :class:`ResilientRestStore`, so ``mlflow.log_metric``, ``MlflowClient.log_batch`` and
  autologging all go through the queue without code changes.
- :func:`logger` returns a :class:`RunLogger` bound to a run, the cheapest call per point.

``python -m jupyter_mlops.resilient SCRIPT [ARGS...]`` runs a script with resilient logging on.

Spools live under ``MLOPS_SPOOL_DIR`` (default ``~/.cache/jupyter-mlops/spool``), one folder per
tracking server; a spool left by a process that died is adopted and replayed by the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import runpy
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: MLflow's limits for one ``log_batch`` request.
MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_ENTRIES = 1000

LOG_BATCH_ENDPOINT = "/api/2.0/mlflow/runs/log-batch"

#: HTTP statuses after which the server may well accept the same batch later.
TRANSIENT_STATUSES = frozenset({401, 408, 429, 500, 502, 503, 504})

# A record is ("m", run_id, key, value, timestamp_ms, step) or ("p"|"t", run_id, key, value).
Record = tuple[Any, ...]
Batch = dict[str, Any]


class TransientError(Exception):
    """The server could not take a batch now; it may later."""


class RejectedError(Exception):
    """The server refused a batch for good (bad value, no permission, unknown run)."""


def default_spool_dir() -> Path:
    """``MLOPS_SPOOL_DIR`` or ``~/.cache/jupyter-mlops/spool``."""
    configured = os.environ.get("MLOPS_SPOOL_DIR")
    if configured:
        return Path(configured)
    return (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "jupyter-mlops"
        / ("spool")
    )


def batches(records: list[Record]) -> list[Batch]:
    """Cut records, in order, into ``log_batch`` bodies within MLflow's limits.

    A batch holds one run; a parameter or tag key seen twice starts a new batch, since MLflow
    refuses duplicate keys within one request.
    """
    out: list[Batch] = []
    current: Batch | None = None
    keys: set[tuple[str, str]] = set()
    for record in records:
        kind, run_id = record[0], record[1]
        if (
            current is None
            or current["run_id"] != run_id
            or current["_size"] >= MAX_ENTRIES
            or (kind == "m" and len(current["metrics"]) >= MAX_METRICS)
            or (kind == "p" and len(current["params"]) >= MAX_PARAMS)
            or (kind != "m" and (kind, record[2]) in keys)
        ):
            current = {"run_id": run_id, "metrics": [], "params": [], "tags": [], "_size": 0}
            keys = set()
            out.append(current)
        if kind == "m":
            current["metrics"].append(list(record[2:]))
        else:
            current["params" if kind == "p" else "tags"].append([record[2], str(record[3])])
            keys.add((kind, record[2]))
        current["_size"] += 1
    for batch in out:
        del batch["_size"]
    return out


def _json_number(value: float) -> float | str:
    """MLflow's JSON protocol spells non-finite doubles as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def request_body(batch: Batch) -> dict[str, Any]:
    """The JSON body of ``POST runs/log-batch`` for one spooled batch."""
    return {
        "run_id": batch["run_id"],
        "metrics": [
            {"key": k, "value": _json_number(float(v)), "timestamp": int(ts), "step": int(step)}
            for k, v, ts, step in batch["metrics"]
        ],
        "params": [{"key": k, "value": v} for k, v in batch["params"]],
        "tags": [{"key": k, "value": v} for k, v in batch["tags"]],
    }


class Spool:
    """Append-only JSON-lines file of undelivered batches, with a replay offset beside it.

    The offset file names how many bytes were delivered; it is replaced atomically after each
    replayed batch, so a crash during replay resends at most one batch (which MLflow ignores).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset_path = path.with_suffix(".offset")

    def __bool__(self) -> bool:
        return self.path.exists()

    def append(self, items: list[Batch]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(b, separators=(",", ":")) + "\n" for b in items)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())

    def offset(self) -> int:
        try:
            return int(self.offset_path.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def pending(self) -> Iterator[tuple[int, Batch]]:
        """Undelivered batches in order, each with the offset just after it."""
        with self.path.open("rb") as source:
            source.seek(self.offset())
            for line in source:
                if not line.endswith(b"\n"):
                    return  # a write cut short by a crash: nothing was acknowledged for it
                yield source.tell(), json.loads(line)

    def commit(self, offset: int) -> None:
        partial_path = self.offset_path.with_suffix(".offset.tmp")
        with partial_path.open("w") as out:
            out.write(str(offset))
            out.flush()
            os.fsync(out.fileno())
        partial_path.replace(self.offset_path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.offset_path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Shipper:
    """The queue, the background thread that ships it, and the spool behind them.

    Parameters
    ----------
    send
        Delivers one batch; raises :class:`TransientError` or :class:`RejectedError`.
    spool_dir
        Folder for this destination's spool files.
    interval
        Seconds between two drains when fewer than a batch of records wait.
    max_backoff
        Longest wait, in seconds, between two replay attempts while the server is away.
    """

    def __init__(
        self,
        send: Callable[[Batch], None],
        spool_dir: Path,
        interval: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        self._send = send
        self.spool_dir = spool_dir
        self.spool = Spool(spool_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl")
        self.interval = interval
        self.max_backoff = max_backoff
        self._queue: deque[Record] = deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._closing = False
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        #: Counters, for people and tests: batches sent directly, spooled, replayed, rejected.
        self.stats = {"sent": 0, "spooled": 0, "replayed": 0, "rejected": 0, "outages": 0}
        self._adopt_orphans()

    # -- the training loop's side -----------------------------------------------------------

    def put(self, record: Record) -> None:
        """Queue one record (the hot path: an append and a length check)."""
        self._queue.append(record)
        if self._thread is None:
            self._start()
        if len(self._queue) >= MAX_ENTRIES:
            self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is on the server; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self._queue or self._busy or self.spool:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._wake.set()
                self._idle.wait(0.05 if left is None else min(0.05, left))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Flush for up to ``timeout`` s, then keep what is left in the spool for later."""
        delivered = self.flush(timeout)
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        leftover = self._drain()
        if leftover:
            self.spool.append(batches(leftover))
        if not delivered or self.spool:
            log.warning(
                "MLflow tracking server unreachable: undelivered metrics kept in %s; they are"
                " replayed the next time resilient logging runs.",
                self.spool.path,
            )

    # -- the background thread --------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="mlops-resilient", daemon=True)
                thread.start()
                self._thread = thread

    def _drain(self) -> list[Record]:
        queue, out = self._queue, []
        while queue:
            out.append(queue.popleft())
        return out

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._idle:
                self._busy = True
            try:
                if self.spool:
                    self._replay()
                records = self._drain()
                if records:
                    self._deliver(batches(records))
            except Exception:  # the thread must outlive any surprise; the data is on disk
                log.exception("Resilient logging: unexpected error while shipping")
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def _deliver(self, items: list[Batch]) -> None:
        for index, batch in enumerate(items):
            if self.spool:
                self._to_spool(items[index:])
                return
            try:
                self._send(batch)
                self.stats["sent"] += 1
            except TransientError as error:
                self._went_away(error)
                self._to_spool(items[index:])
                return
            except RejectedError as error:
                self._rejected(error, batch)

    def _to_spool(self, items: list[Batch]) -> None:
        self.spool.append(items)
        self.stats["spooled"] += len(items)

    def _replay(self) -> None:
        if time.monotonic() < self._next_attempt:
            return
        for offset, batch in self.spool.pending():
            try:
                self._send(batch)
                self.stats["replayed"] += 1
            except TransientError as error:
                self._went_away(error)
                return
            except RejectedError as error:
                self._rejected(error, batch)
            self.spool.commit(offset)
        self.spool.clear()
        if self._backoff:
            log.info("MLflow tracking server is back: spooled metrics replayed.")
        self._backoff = 0.0

    def _went_away(self, error: Exception) -> None:
        if not self._backoff:
            self.stats["outages"] += 1
            log.warning(
                "MLflow tracking server unreachable (%s): spooling to %s", error, self.spool.path
            )
        self._backoff = min(self.max_backoff, max(0.25, self._backoff * 2))
        self._next_attempt = time.monotonic() + self._backoff

    def _rejected(self, error: Exception, batch: Batch) -> None:
        self.stats["rejected"] += 1
        size = len(batch["metrics"]) + len(batch["params"]) + len(batch["tags"])
        log.warning("MLflow refused a batch of %d entries; dropped: %s", size, error)

    def _adopt_orphans(self) -> None:
        """Take over spools of processes that died before replaying them (same server)."""
        if not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("*.jsonl"), key=lambda p: p.stat().st_mtime):
            pid = path.name.split("-", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            orphan = Spool(path)
            with contextlib.suppress(OSError, ValueError):
                leftovers = [batch for _, batch in orphan.pending()]
                if leftovers:
                    self._to_spool(leftovers)
                orphan.clear()


# -- MLflow integration ---------------------------------------------------------------------


def _mlflow_sender(get_host_creds: Callable[[], Any], timeout: float) -> Callable[[Batch], None]:
    from mlflow.exceptions import MlflowException, RestException
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    def send(batch: Batch) -> None:
        try:
            response = http_request(
                get_host_creds(), LOG_BATCH_ENDPOINT, "POST",
                max_retries=0, timeout=timeout, json=request_body(batch),
            )  # fmt: skip
        except MlflowException as error:  # connection refused, reset, timed out
            raise TransientError(error.message) from None
        if response.status_code in TRANSIENT_STATUSES:
            raise TransientError(f"HTTP {response.status_code}")
        try:
            verify_rest_response(response, LOG_BATCH_ENDPOINT)
        except RestException as error:
            raise RejectedError(error.message) from None

    return send


def _spool_dir_for(host: str, root: Path | None) -> Path:
    digest = hashlib.sha256(host.encode()).hexdigest()[:16]
    return (root or default_spool_dir()) / digest


@functools.cache
def _store_class() -> type:
    """Build :class:`ResilientRestStore` lazily: MLflow is an optional dependency."""
    from mlflow.entities import RunStatus
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.async_logging.run_operations import RunOperations

    class _ResilientRestStore(RestStore):
        """MLflow's REST store with metric, param and tag writes going through a Shipper."""

        #: Seconds a read of a run waits for queued writes (read-your-writes when online).
        read_wait = 2.0
        #: Seconds ending a run waits for queued writes to reach the server.
        end_wait = 30.0

        def __init__(
            self,
            get_host_creds: Callable[[], Any],
            spool_root: Path | None = None,
            timeout: float = 10.0,
        ) -> None:
            super().__init__(get_host_creds)
            host = get_host_creds().host
            self.shipper = Shipper(
                _mlflow_sender(get_host_creds, timeout), _spool_dir_for(host, spool_root)
            )

        def log_metric(self, run_id: str, metric: Any) -> None:
            self.shipper.put(
                ("m", run_id, metric.key, metric.value, metric.timestamp, metric.step or 0)
            )

        def log_param(self, run_id: str, param: Any) -> None:
            self.shipper.put(("p", run_id, param.key, param.value))

        def set_tag(self, run_id: str, tag: Any) -> None:
            self.shipper.put(("t", run_id, tag.key, tag.value))

        def log_batch(self, run_id: str, metrics: Any, params: Any, tags: Any) -> None:
            put = self.shipper.put
            for p in params:
                put(("p", run_id, p.key, p.value))
            for m in metrics:
                put(("m", run_id, m.key, m.value, m.timestamp, m.step or 0))
            for t in tags:
                put(("t", run_id, t.key, t.value))

        def log_metric_async(self, run_id: str, metric: Any) -> Any:
            self.log_metric(run_id, metric)
            return RunOperations([])

        def log_param_async(self, run_id: str, param: Any) -> Any:
            self.log_param(run_id, param)
            return RunOperations([])

        def set_tag_async(self, run_id: str, tag: Any) -> Any:
            self.set_tag(run_id, tag)
            return RunOperations([])

        def log_batch_async(self, run_id: str, metrics: Any, params: Any, tags: Any) -> Any:
            self.log_batch(run_id, metrics, params, tags)
            return RunOperations([])

        def flush_async_logging(self) -> None:
            self.shipper.flush(self.end_wait)

        def delete_tag(self, run_id: str, key: str) -> None:
            self.shipper.flush(self.end_wait)
            super().delete_tag(run_id, key)

        def get_run(self, run_id: str) -> Any:
            self.shipper.flush(self.read_wait)
            return super().get_run(run_id)

        def get_metric_history(self, run_id: str, metric_key: str, *args: Any, **kw: Any) -> Any:
            self.shipper.flush(self.read_wait)
            return super().get_metric_history(run_id, metric_key, *args, **kw)

        def update_run_info(
            self, run_id: str, run_status: Any, end_time: Any, run_name: Any
        ) -> Any:
            if RunStatus.is_terminated(run_status):
                self.shipper.flush(self.end_wait)
            return super().update_run_info(run_id, run_status, end_time, run_name)

    _ResilientRestStore.__name__ = _ResilientRestStore.__qualname__ = "ResilientRestStore"
    return _ResilientRestStore


_state_lock = threading.Lock()
_stores: dict[str, Any] = {}
_spool_root: Path | None = None
_enabled = False


def _build_store(store_uri: str, **_: Any) -> Any:
    from mlflow.utils.credentials import get_default_host_creds

    with _state_lock:
        store = _stores.get(store_uri)
        if store is None:
            store = _store_class()(partial(get_default_host_creds, store_uri), _spool_root)
            _stores[store_uri] = store
        return store


def _registry() -> Any:
    from mlflow.tracking._tracking_service import utils

    return utils._tracking_store_registry


def enable(spool_dir: str | Path | None = None) -> None:
    """Send this process's MLflow metrics, params and tags through resilient logging.

    Every ``http``/``https`` tracking store MLflow builds from now on (and the ones already
    cached) is a resilient one, so manual logging and autologging need no change. Idempotent.

    Parameters
    ----------
    spool_dir
        Where undelivered batches wait; default :func:`default_spool_dir`.
    """
    global _spool_root, _enabled
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    _spool_root = Path(spool_dir) if spool_dir else None
    registry = _registry()
    for scheme in ("http", "https"):
        registry.register(scheme, _build_store)
    TrackingStoreRegistry._get_store_with_resolved_uri.cache_clear()
    if not _enabled:
        atexit.register(_close_all)
    _enabled = True


def disable(timeout: float = 30.0) -> None:
    """Flush, stop the background threads and give MLflow its plain REST store back."""
    global _enabled
    from mlflow.tracking._tracking_service import utils
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    _close_all(timeout)
    registry = _registry()
    for scheme in ("http", "https"):
        registry.register(scheme, utils._get_rest_store)
    TrackingStoreRegistry._get_store_with_resolved_uri.cache_clear()
    _enabled = False


def is_enabled() -> bool:
    """Whether :func:`enable` is in force."""
    return _enabled


def _close_all(timeout: float = 10.0) -> None:
    with _state_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.shipper.close(timeout)


def flush(timeout: float | None = None) -> bool:
    """Wait until every queued point reached its server; False if ``timeout`` s passed first."""
    with _state_lock:
        stores = list(_stores.values())
    return all(store.shipper.flush(timeout) for store in stores)


def store_for(tracking_uri: str | None = None) -> Any:
    """The resilient store of a tracking URI (default: MLflow's current one)."""
    import mlflow

    if not _enabled:
        enable()
    return _build_store(tracking_uri or mlflow.get_tracking_uri())


class RunLogger:
    """The cheapest way to log a point: bound to one run, no validation on the hot path.

    Obtain one with :func:`logger`. Values reach the server in the background; call
    :func:`flush` (or end the run) to wait for them.
    """

    __slots__ = ("_put", "run_id")

    def __init__(self, shipper: Shipper, run_id: str) -> None:
        self._put = shipper.put
        self.run_id = run_id

    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Queue one metric point (``timestamp`` in ms since the epoch; default: now)."""
        self._put(("m", self.run_id, key, value, timestamp or time.time_ns() // 1_000_000, step))

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        now = time.time_ns() // 1_000_000
        for key, value in metrics.items():
            self._put(("m", self.run_id, key, value, now, step))

    def log_param(self, key: str, value: Any) -> None:
        self._put(("p", self.run_id, key, value))

    def log_params(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self._put(("p", self.run_id, key, value))

    def set_tag(self, key: str, value: Any) -> None:
        self._put(("t", self.run_id, key, value))


def logger(run_id: str | None = None, tracking_uri: str | None = None) -> RunLogger:
    """A :class:`RunLogger` for ``run_id`` (default: the active MLflow run)."""
    import mlflow

    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise ValueError("No active MLflow run: start one or pass run_id.")
        run_id = active.info.run_id
    return RunLogger(store_for(tracking_uri).shipper, run_id)


def main(argv: list[str] | None = None) -> int:
    """``python -m jupyter_mlops.resilient SCRIPT [ARGS...]``: run a script, resiliently."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print("usage: python -m jupyter_mlops.resilient SCRIPT [ARGS...]")
        return 0 if args else 2
    enable()
    sys.argv = args
    try:
        runpy.run_path(args[0], run_name="__main__")
    finally:
        _close_all(float(os.environ.get("MLOPS_RESILIENT_EXIT_WAIT", "60")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
