"""`fangkong serve-ingest`: the scan ingestion server (asyncio HTTP/1.1, group commit).

Pre-fork: the parent starts N worker processes; each binds the port with SO_REUSEPORT (the
kernel spreads connections over them) and runs one event loop with:

- a minimal HTTP/1.1 parser (keep-alive, Content-Length bodies; responses in request order);
- `Gate.admit` inline (device token, JSON, Ed25519 signature: CPU only);
- a `Committer`: scans wait in a queue; each of W writer connections takes everything queued,
  records it in one transaction (core.record_batch_async) and answers each scan only after its
  COMMIT returned. While one batch commits, the next accumulates: the batch size follows the load
  and no timer adds latency when the server is idle. synchronous_commit is left on.
- the key ring and the device registry reloaded every REFRESH seconds (a rotated or revoked key,
  a revoked scanner stop working within that time; the colour is read in the transaction of
  every scan, never cached).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal
import socket
import sys
import time
from collections import deque
from typing import NamedTuple

from fangkong.ingest.core import REASONS, Gate, Refused, Reply, record_batch_async
from fangkong.ingest.core import refuse_device as _refuse

REFRESH = 5.0  # seconds between reloads of the key ring and the device registry
MAX_BATCH = 512
MAX_HEAD = 16384


class DeviceRegistry:
    """device id -> (venue id, revoked) for every registered scanner, reloaded periodically."""

    def __init__(self) -> None:
        self.devices: dict[int, tuple[int, bool]] = {}
        self.venues: set[int] = set()

    def load(self) -> None:
        from fangkong.ingest.models import ScannerDevice

        rows = ScannerDevice.objects.values_list("id", "venue_id", "revoked_at")
        self.devices = {d: (v, r is not None) for d, v, r in rows}
        self.venues = {v for v, _ in self.devices.values()}

    def check(self, device_id: int, venue_id: int) -> None:
        known = self.devices.get(device_id)
        if known is None or known[0] != venue_id:
            _refuse(venue_id in self.venues, device_id, venue_id, False)
        elif known[1]:
            _refuse(True, device_id, venue_id, True)


class Committer:
    def __init__(
        self, dsn: str, writers: int = 1, max_batch: int = MAX_BATCH, linger: float = 0.0
    ) -> None:
        self.dsn, self.writers, self.max_batch, self.linger = dsn, writers, max_batch, linger
        self.queue: asyncio.Queue = asyncio.Queue()
        self.batches = 0
        self.scans = 0

    async def start(self) -> None:
        conns = [await self._connect() for _ in range(self.writers)]
        self.tasks = [asyncio.create_task(self._writer(c)) for c in conns]

    async def _connect(self):
        import psycopg

        return await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)

    def submit(self, scan) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((scan, future))
        return future

    async def _writer(self, conn) -> None:
        while True:
            batch = [await self.queue.get()]
            if self.linger:  # wait a little for more: fewer, larger transactions
                await asyncio.sleep(self.linger)
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                answers = await record_batch_async(conn, [scan for scan, _ in batch])
            except Exception as error:  # the transaction did not commit: nobody is acknowledged
                print(f"ingest: batch of {len(batch)} failed: {error!r}", file=sys.stderr)
                answers = [Refused(503, "unavailable", "not recorded, try again").reply()] * len(
                    batch
                )
                conn = await self._reconnect(conn)
            self.batches += 1
            self.scans += len(batch)
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    async def _reconnect(self, conn):
        try:
            await conn.close()
        except Exception:
            pass
        while True:
            try:
                return await self._connect()
            except Exception:
                await asyncio.sleep(0.2)


@functools.lru_cache(maxsize=1024)
def _head(status: int, length: int, keep_alive: bool) -> bytes:
    # cached: a few statuses and body lengths recur for every answer
    return (
        f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{'' if keep_alive else 'Connection: close' + chr(13) + chr(10)}"
        "\r\n"
    ).encode("ascii")


class Request(NamedTuple):
    method: str
    target: str
    version: str
    headers: dict[bytes, bytes]  # lower-case names, stripped values; the last one wins


def parse_head(head: bytes) -> Request | None:
    """The request line and headers of a request head (without its blank line), or None if the
    request line does not parse. Header values stay bytes: only the few used are decoded."""
    lines = head.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ", 2)
    if len(parts) != 3:
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return Request(parts[0], parts[1], parts[2], headers)


def _keep_alive(request: Request) -> bool:
    connection = request.headers.get(b"connection", b"").lower()
    return connection != b"close" if request.version == "HTTP/1.1" else connection == b"keep-alive"


class HttpConnection(asyncio.Protocol):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.buffer = bytearray()
        self.pending: deque = deque()  # (reply or future, keep_alive) in request order
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self._next_request():
            pass

    def _next_request(self) -> bool:
        """Handle the first complete request in the buffer; False when there is none (yet)."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self._fail(Refused(400, "bad_request", "request head too large").reply())
            return False
        request = parse_head(bytes(self.buffer[:end]))
        if request is None:
            self._fail(Refused(400, "bad_request", "bad request line").reply())
            return False
        if b"transfer-encoding" in request.headers:
            self._fail(Refused(411, "length_required", "send Content-Length").reply())
            return False
        try:
            length = int(request.headers.get(b"content-length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 65536:
            self._fail(Refused(400, "bad_request", "bad Content-Length").reply())
            return False
        if len(self.buffer) < end + 4 + length:
            return False
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        authorization = request.headers.get(b"authorization", b"").decode("latin-1")
        answer = self.worker.handle(request.method, request.target, authorization, body)
        self.pending.append((answer, _keep_alive(request)))
        if isinstance(answer, asyncio.Future):
            answer.add_done_callback(self._flush)
        else:
            self._flush()
        return True

    def _flush(self, _=None) -> None:
        while self.pending and self.transport is not None:
            answer, keep_alive = self.pending[0]
            if isinstance(answer, asyncio.Future):
                if not answer.done():
                    return
                answer = answer.result()
            self.pending.popleft()
            payload = answer.encode()
            self.transport.write(_head(answer.status, len(payload), keep_alive) + payload)
            if not keep_alive:
                self.transport.close()
                self.transport = None

    def _fail(self, reply: Reply) -> None:
        self.pending.append((reply, False))
        self._flush()


class Worker:
    def __init__(self, dsn: str, writers: int, linger: float = 0.0) -> None:
        from django.conf import settings

        from fangkong.healthcode.keys import key_ring
        from fangkong.ingest.device import device_key

        self.registry = DeviceRegistry()
        self.registry.load()
        self._ring = key_ring()
        self.gate = Gate(lambda: self._ring, device_key(settings.SECRET_KEY), self.registry)
        self.committer = Committer(dsn, writers, linger=linger)

    def handle(self, method: str, target: str, authorization: str, body: bytes):
        if target == "/healthz":
            return Reply(
                200,
                {
                    "ok": True,
                    "pid": os.getpid(),
                    "batches": self.committer.batches,
                    "scans": self.committer.scans,
                },
            )
        try:
            scan = self.gate.admit(method, target, authorization, body, time.time())
        except Refused as refused:
            return refused.reply()
        return self.committer.submit(scan)

    async def _refresh(self) -> None:
        from django.db import connection

        from fangkong.healthcode.keys import key_ring

        loop = asyncio.get_running_loop()

        def reload():
            try:
                self._ring = key_ring()
                self.registry.load()
            finally:
                connection.close()

        while True:
            await asyncio.sleep(REFRESH)
            try:
                await loop.run_in_executor(None, reload)
            except Exception as error:
                print(f"ingest: reload failed: {error!r}", file=sys.stderr)

    async def serve(self, host: str, port: int) -> None:
        await self.committer.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(4096)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: HttpConnection(self), sock=sock)
        refresh = asyncio.create_task(self._refresh())
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
        await stop
        refresh.cancel()
        server.close()


def libpq_dsn() -> str:
    """The DATABASE_URL as psycopg takes it (postgres:// URLs are libpq URIs already)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("serve-ingest needs PostgreSQL: set DATABASE_URL=postgres://...")
    return url


def _worker_main(host: str, port: int, writers: int, linger: float) -> None:
    try:
        import uvloop  # optional, not a dependency

        uvloop.install()
    except ImportError:
        pass
    worker = Worker(libpq_dsn(), writers, linger)
    from django.db import connections

    connections.close_all()
    gc.freeze()  # Django's startup objects never become garbage: keep collections short
    asyncio.run(worker.serve(host, port))


def run(
    host: str, port: int, workers: int, writers: int, linger: float = 0.0, out=sys.stdout
) -> None:
    """Start `workers` processes and keep them running until SIGTERM/SIGINT."""
    from django.db import connections

    libpq_dsn()
    connections.close_all()  # never share a connection across fork
    children: dict[int, int] = {}

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _worker_main(host, port, writers, linger)
            except BaseException as error:  # noqa: BLE001 - report and leave the child
                print(f"ingest worker: {error!r}", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        children[pid] = slot

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(workers):
        spawn(slot)
    print(f"Ingesting scans on http://{host}:{port}/scan ({workers} workers)", file=out, flush=True)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if slot is not None and not stopping:
            print(f"ingest: worker {pid} exited ({status}), restarting", file=sys.stderr)
            time.sleep(0.5)
            spawn(slot)
