"""A Ray cluster to dream on, and the pool of dreamers that live on it.

:class:`Cluster` joins (or starts) a Ray cluster. :class:`DreamerPool` starts one
:class:`~inceptionism.cluster.worker.Dreamer` actor per node (one per GPU on GPU nodes),
each holding its networks once, and lends them out one call at a time. A call whose
actor dies (its node was lost, or the process was killed) is retried on another actor;
the lost actor is replaced when its node is still alive. Everything else Ray does:
placement by resources, the object store that carries pictures both ways, and the
processes.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar

from ..errors import ConfigError, InceptionismError, cause

__all__ = ["Cluster", "ClusterError", "DreamerPool", "INSTALL_HINT", "check_reachable"]

INSTALL_HINT = 'pip install "inceptionism[cluster]"'
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # Ray's switch that keeps every address on 127.0.0.1

log = logging.getLogger("inceptionism.cluster")
T = TypeVar("T")
R = TypeVar("R")


class ClusterError(InceptionismError):
    """The cluster could not be reached, or lost every worker, or lost one item's worker too often."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--cluster needs Ray, which is not installed; install it with: {INSTALL_HINT}",
                          field="cluster") from None
    return ray


# What a gRPC server (a Ray head node's GCS, a Ray Client server) answers the HTTP/2 preface
# with: its own SETTINGS frame, at once.
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 0x04


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, in one line, unless a gRPC server (as a Ray head node is) answers at
    ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``). Ray's own connect retries for ever
    where nothing listens (a typo in the port), printing a warning every few seconds.

    Raises:
        ClusterError: nothing answers there in ``timeout`` s, or what answers speaks no gRPC.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    tls = os.environ.get("RAY_USE_TLS", "").strip().lower() in ("1", "true")  # no cleartext preface to answer then
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            if tls:
                return
            conn.settimeout(timeout)
            conn.sendall(_PREFACE)
            answer = b""
            while len(answer) < 9 and (part := conn.recv(9 - len(answer))):  # a frame's header may come in pieces
                answer += part
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise ClusterError(f"nothing answers at {address!r} ({reason}); check the address, and that a Ray head node "
                           "runs there (ray start --head --port PORT)") from None
    if len(answer) < 9 or answer[3] != _SETTINGS:
        raise ClusterError(f"{address!r} answers, but not as a Ray cluster does (no gRPC); check the port") from None


class Cluster:
    """A connection to a Ray cluster: ``local`` starts a Ray runtime on this machine (all its
    cores and GPUs, listening on loopback only), ``auto`` joins the cluster this machine
    belongs to, ``HOST:PORT`` a head node's address, ``ray://HOST:PORT`` through Ray Client.
    When Ray is already initialized in this process (a library user's own ``ray.init``), it
    is used as it is, and left running on :meth:`close`."""

    def __init__(self, address: str) -> None:
        if address == "local":
            os.environ.setdefault(LOOPBACK_ONLY, "0")  # read when Ray is imported
        if address not in ("local", "auto"):
            check_reachable(address)
        self.ray = ray = import_ray()
        self.address = address
        self._owned = not ray.is_initialized()
        if self._owned:
            options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING,
                                       "configure_logging": False}  # fmt: skip
            if address == "local":
                options["include_dashboard"] = False
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Ray cluster at {address!r}: {cause(exc)}") from None

    def nodes(self) -> list[dict]:
        """The nodes alive now, as ``ray.nodes()`` describes them."""
        return [node for node in self.ray.nodes() if node.get("Alive")]

    def close(self) -> None:
        if self._owned and self.ray.is_initialized():
            self.ray.shutdown()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Worker:
    actor: Any
    node_id: str
    node: str  # "IP/abcdef", as counts and messages show it
    cpus: float
    gpus: float


def _label(node: dict) -> str:
    return f"{node.get('NodeManagerAddress', '?')}/{node['NodeID'][:6]}"


class DreamerPool:
    """Dreamer actors across the cluster's nodes: one per GPU on a node with GPUs, else one
    using all of the node's CPU cores (and as many threads; ``threads`` overrides).

    :meth:`call` lends an idle actor to a function; :meth:`map` runs a function over items
    on every actor at once, yielding each item's outcome as it finishes. With ``warm`` (a
    DreamConfig), each actor loads that network as it starts, all nodes at once.
    """

    def __init__(self, cluster: Cluster, *, threads: int | None = None, warm: Any = None, retries: int = 3,
                 ready_s: float = 120.0) -> None:
        from .worker import Dreamer

        self.cluster, self.threads, self.retries = cluster, threads, retries
        # A network each actor loads as it starts; not custom weights (a file here, shipped with each call).
        self.warm = warm if warm is not None and not getattr(warm, "weights", None) else None
        # A plain actor: its calls run one at a time on its main thread. (On a thread of its
        # own, as a concurrency group or max_concurrency > 1 would run them, the same dream
        # took ~35% longer here; so do dreams on a thread in a plain process.)
        self._remote = cluster.ray.remote(Dreamer)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._live: list[_Worker] = []
        self._replaced: dict[str, int] = {}
        self._lock = threading.Lock()
        self._waiting = threading.Lock()  # the first borrowers wait for the actors together
        for node in cluster.nodes():
            resources = node.get("Resources", {})
            gpus, cpus = int(resources.get("GPU", 0)), resources.get("CPU", 0)
            if gpus:
                for _ in range(gpus):
                    self._start(node, cpus=max(1.0, cpus // gpus), gpus=1)
            elif cpus >= 1:
                self._start(node, cpus=cpus, gpus=0)
        if not self._live:
            raise ClusterError(f"the Ray cluster at {cluster.address!r} has no node with a CPU or GPU to dream on")
        self._ready_s: float | None = ready_s  # the actors start meanwhile; the first call waits for them

    def _wait_ready(self) -> None:
        """Wait once until every actor has started (so work is shared from the first item); an
        actor that cannot start in ``ready_s`` (its node busy with other work) is given up."""
        with self._lock:
            timeout_s, self._ready_s = self._ready_s, None
            workers = list(self._live)
        if timeout_s is None:
            return
        ray = self.cluster.ray
        pending = {worker.actor.ready.remote(): worker for worker in workers}
        ready, late = ray.wait(list(pending), num_returns=len(pending), timeout=timeout_s)
        reasons = []
        for ref in ready:
            try:
                ray.get(ref)
            except ray.exceptions.RayError as exc:
                raised = getattr(exc, "cause", None) or exc  # its traceback's last line names the error
                reasons.append(str(raised).strip().splitlines()[-1] if str(raised).strip() else type(raised).__name__)
                self._forget(pending[ref], f"could not start: {reasons[-1]}")
        for ref in late:
            self._forget(pending[ref], f"not started after {timeout_s:g} s")
            ray.kill(pending[ref].actor)
        if not self._live:
            why = reasons[0] if reasons else f"none started within {timeout_s:g} s (are the nodes busy?)"
            raise ClusterError(f"no worker could start on the Ray cluster at {self.cluster.address!r}: {why}")

    def _forget(self, worker: _Worker, reason: str) -> None:
        with self._lock:
            if worker in self._live:
                self._live.remove(worker)
        log.warning("gave up the worker on %s: %s", worker.node, reason)

    @property
    def size(self) -> int:
        return len(self._live)

    def _start(self, node: dict, *, cpus: float, gpus: float) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        threads = self.threads or max(1, int(cpus))
        actor = self._remote.options(
            num_cpus=cpus, num_gpus=gpus, max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
        ).remote(threads, self.warm)  # fmt: skip
        worker = _Worker(actor, node["NodeID"], _label(node), cpus, gpus)
        with self._lock:
            self._live.append(worker)
        self._idle.put(worker)

    def _lost(self, worker: _Worker, reason: str) -> None:
        """Forget ``worker``; start a replacement when its node is still alive (a killed
        process, not a lost machine), at most ``retries`` times per node."""
        self._forget(worker, reason)
        node = next((n for n in self.cluster.nodes() if n["NodeID"] == worker.node_id), None)
        if node is not None and self._replaced.get(worker.node_id, 0) < self.retries:
            self._replaced[worker.node_id] = self._replaced.get(worker.node_id, 0) + 1
            self._start(node, cpus=worker.cpus, gpus=worker.gpus)

    def _borrow(self) -> _Worker:
        if self._ready_s is not None:
            with self._waiting:
                self._wait_ready()
        while True:
            with self._lock:
                if not self._live:
                    raise ClusterError("every worker of the Ray cluster was lost")
            try:
                worker = self._idle.get(timeout=0.5)
            except queue.Empty:
                continue
            if worker in self._live:  # not one given up meanwhile
                return worker

    def busy(self) -> list[Any]:
        """The actors lent out now."""
        with self._lock:
            idle = list(self._idle.queue)
            return [worker.actor for worker in self._live if worker not in idle]

    def call(self, work: Callable[[Any], R], *, what: str = "the work") -> tuple[R, str]:
        """``work(actor)`` on an idle actor; returns its result and the node that did it.

        Raises the error ``work`` raised on the actor (unwrapped from Ray's), or
        :class:`ClusterError` after ``retries`` lost actors.
        """
        ray = self.cluster.ray
        lost = 0
        while True:
            worker = self._borrow()
            try:
                result = work(worker.actor)
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
                reason = cause(exc)
                self._lost(worker, reason)
                lost += 1
                if lost > self.retries:
                    raise ClusterError(f"{what} failed: its worker was lost {lost} times (last: {reason})") from None
                continue
            except ray.exceptions.RayTaskError as exc:
                self._idle.put(worker)
                raised = getattr(exc, "cause", None)  # the error ``work`` raised on the actor
                raise (raised if isinstance(raised, BaseException) else ClusterError(f"{what} failed: {exc}")) from None
            except BaseException:
                self._idle.put(worker)  # its calls run one after another: a given-up one just finishes first
                raise
            self._idle.put(worker)
            return result, worker.node

    def map(self, items: Iterable[T], work: Callable[[Any, T], R], *, name: Callable[[T], str] = str
            ) -> Iterator[tuple[T, R | BaseException, str]]:
        """``work(actor, item)`` for every item, as many at once as there are actors; yields
        ``(item, result or the exception it raised, node)`` in the order they finish."""
        items = list(items)
        with ThreadPoolExecutor(max(1, self.size), thread_name_prefix="cluster") as threads:
            futures = {threads.submit(self._outcome, item, work, name): item for item in items}
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()

    def _outcome(self, item: T, work: Callable[[Any, T], R], name: Callable[[T], str]
                 ) -> tuple[T, R | BaseException, str]:
        try:
            result, node = self.call(lambda actor: work(actor, item), what=name(item))
            return item, result, node
        except Exception as exc:  # noqa: BLE001 - reported per item; the caller decides
            return item, exc, ""

    def cancel(self, stream: Any) -> None:
        """Stop a streaming call (a video segment after its frame, a studio job at its next step)."""
        self.cluster.ray.cancel(stream)

    def get(self, ref: Any) -> Any:
        return self.cluster.ray.get(ref)

    def close(self) -> None:
        """Stop every actor, so their CPUs and GPUs are free for the cluster's next work."""
        with self._lock:
            workers, self._live = list(self._live), []
        for worker in workers:
            self.cluster.ray.kill(worker.actor)
