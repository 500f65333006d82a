"""An open-loop HTTP/1.1 load generator (keep-alive, no dependencies) for bench-scans.

Request n is due at start + n / rate whatever happened before (open loop); its latency is
measured from that due time, so time spent waiting for a free connection or for a restarted
server counts (no coordinated omission). Each of P processes takes every P-th request and owns
C keep-alive connections; a connection that fails is reopened (every 20 ms while the server is
down) and the request it carried is counted as an error (never acknowledged).
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import time
from collections import deque
from dataclasses import dataclass, field

TIMEOUT = 30.0


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, completed requests
    dues: list[float] = field(default_factory=list)  # due time of each of those
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # connection errors, timeouts
    acked: list[tuple[int, bool]] = field(default_factory=list)  # (checkin id, merged) of 200s
    first_due: float = 0.0
    last_done: float = 0.0
    closed: bool = False  # closed loop: latency from the send, no schedule

    def merge(self, other: Result) -> None:
        self.latencies += other.latencies
        self.dues += other.dues
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.acked += other.acked
        self.first_due = min(self.first_due or other.first_due, other.first_due)
        self.last_done = max(self.last_done, other.last_done)
        self.closed = other.closed


class _Client(asyncio.Protocol):
    """One keep-alive connection carrying at most one request at a time. Everything happens in
    callbacks: no task, future or timer per request (they were most of the generator's CPU)."""

    def __init__(self, driver: _Driver) -> None:
        self.driver = driver
        self.buffer = bytearray()
        self.transport = None
        self.due = self.sent = 0.0  # of the request in flight; sent == 0: none

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        if self.transport is not None:
            self.transport = None
            self.driver.failed(self, "ConnectionError")

    def send(self, due: float, data: bytes) -> None:
        self.sent = time.time()
        # latency counts from the due time (a late send is queueing), or from the send if that
        # was a little early (the schedule sleeps only for > 0.5 ms): never shortened
        self.due = min(due, self.sent)
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at) if b"\r\n" in head[at:] else None])
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        if self.sent:
            self.sent = 0.0
            self.driver.answered(self, status, body)

    def drop(self) -> None:
        """Close without reporting (the caller counted the error)."""
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()


class _Driver:
    """Open loop: items are (due time, request), handed to an idle connection when due or, if
    none is idle, queued in `backlog` (the wait counts in the latency). Closed loop (closed =
    seconds): each connection sends the next request as soon as it has the previous answer."""

    def __init__(self, host, port, items, connections, closed=None) -> None:
        self.host, self.port, self.connections, self.closed = host, port, connections, closed
        self.items = items
        self.result = Result(first_due=items[0][0] if items else 0.0, closed=closed is not None)
        self.idle: list[_Client] = []
        self.busy: set[_Client] = set()
        self.backlog: deque = deque()
        self.left = len(items)  # neither answered nor failed yet
        self.done: asyncio.Future | None = None

    async def run(self) -> Result:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        if not self.items:
            return self.result
        for _ in range(self.connections):
            loop.create_task(self._connect())
        watchdog = loop.create_task(self._watchdog())
        for due, data in self.items:
            delay = due - time.time()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            self.backlog.append((due, data))
            self._dispatch()
        await self.done
        watchdog.cancel()
        for client in self.idle + list(self.busy):
            client.drop()
        return self.result

    def _dispatch(self) -> None:
        while self.backlog and self.idle:
            due, data = self.backlog.popleft()
            if self.closed is not None:
                if time.time() > self.result.first_due + self.closed:
                    self._finish_one()  # time is up: not sent, not counted
                    continue
                due = time.time()
            client = self.idle.pop()
            if client.transport is None:  # lost while idle; failed() is reconnecting it
                self.backlog.appendleft((due, data))
                continue
            self.busy.add(client)
            client.send(due, data)

    def answered(self, client: _Client, status: int, body: bytes) -> None:
        done, result = time.time(), self.result
        result.latencies.append(done - client.due)
        result.dues.append(client.due)
        result.last_done = max(result.last_done, done)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status == 200:
            answer = json.loads(body)
            result.acked.append((answer["checkin_id"], answer["merged"]))
        self.busy.discard(client)
        self.idle.append(client)
        self._finish_one()
        self._dispatch()

    def failed(self, client: _Client, name: str) -> None:
        """The connection broke or timed out: its request (never acknowledged) is an error."""
        in_flight = client in self.busy
        self.busy.discard(client)
        if client in self.idle:
            self.idle.remove(client)
        client.drop()
        if in_flight:
            self._error(name)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        """Open one connection, retrying every 20 ms while the server is down."""
        loop = asyncio.get_running_loop()
        while not self.done.done():
            try:
                _, client = await loop.create_connection(
                    lambda: _Client(self), self.host, self.port
                )
            except OSError:
                await asyncio.sleep(0.02)
                continue
            if client.transport is None:  # closed before this task resumed (counted there)
                return
            self.idle.append(client)
            self._dispatch()
            return

    async def _watchdog(self) -> None:
        """Requests without an answer, or without a connection, for TIMEOUT s are errors."""
        while True:
            await asyncio.sleep(0.5)
            now = time.time()
            for client in [c for c in self.busy if c.sent and now - c.sent > TIMEOUT]:
                self.failed(client, "TimeoutError")
            while self.backlog and now - self.backlog[0][0] > TIMEOUT:
                self.backlog.popleft()
                self._error("ConnectionRefusedError")

    def _error(self, name: str) -> None:
        self.result.errors[name] = self.result.errors.get(name, 0) + 1
        self._finish_one()

    def _finish_one(self) -> None:
        self.left -= 1
        if self.left == 0 and not self.done.done():
            self.done.set_result(None)


async def _drive(host, port, items, connections, closed=None) -> Result:
    return await _Driver(host, port, items, connections, closed).run()


def _child(host, port, items, connections, closed, pipe) -> None:
    try:
        import uvloop  # optional: the generator then costs less CPU beside the server

        uvloop.install()
    except ImportError:
        pass
    gc.disable()  # a full collection over the growing result lists would stall the schedule
    pipe.send(asyncio.run(_drive(host, port, items, connections, closed)))
    pipe.close()


def run(
    host,
    port,
    requests: list[bytes],
    rate: float,
    processes: int,
    connections: int,
    start_at: float,
    closed: float | None = None,
) -> Result:
    """Send `requests` at `rate` per second from `processes` forked processes; merged result.
    With `closed` (seconds): back to back on every connection for that long from start_at."""
    context = multiprocessing.get_context("fork")
    children = []
    for j in range(processes):
        items = [
            (start_at if closed is not None else start_at + n / rate, requests[n])
            for n in range(j, len(requests), processes)
        ]
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child, args=(host, port, items, connections, closed, send)
        )
        process.start()
        send.close()
        children.append((process, receive))
    total = Result()
    for process, receive in children:
        total.merge(receive.recv())
        process.join()
    return total
