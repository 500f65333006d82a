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
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport = None
        self.alive = True

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.alive = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

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
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    def request(self, data: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter


async def _drive(host, port, items, connections, closed=None) -> Result:
    """Open loop: items are (due time, request). Closed loop (closed = seconds): each connection
    sends the next request as soon as it has the previous answer, until the time is up."""
    loop = asyncio.get_running_loop()
    result = Result(first_due=items[0][0] if items else 0.0, closed=closed is not None)
    queue: asyncio.Queue = asyncio.Queue()

    async def connect(deadline):
        while True:
            try:
                _, client = await loop.create_connection(_Client, host, port)
                return client
            except OSError:
                if time.time() > deadline:
                    raise
                await asyncio.sleep(0.02)

    async def slot():
        client = None
        while True:
            due, data = await queue.get()
            if closed is not None:
                if time.time() > result.first_due + closed:
                    queue.task_done()
                    continue
                due = time.time()
            try:
                if client is None or not client.alive:
                    client = await connect(due + TIMEOUT)
                status, body = await asyncio.wait_for(client.request(data), TIMEOUT)
                done = time.time()
                result.latencies.append(done - due)
                result.dues.append(due)
                result.last_done = max(result.last_done, done)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200:
                    answer = json.loads(body)
                    result.acked.append((answer["checkin_id"], answer["merged"]))
            except (OSError, ConnectionError, TimeoutError) as error:
                name = type(error).__name__
                result.errors[name] = result.errors.get(name, 0) + 1
                if client is not None and client.transport is not None:
                    client.transport.close()
                client = None
            finally:
                queue.task_done()

    slots = [asyncio.create_task(slot()) for _ in range(connections)]
    for due, data in items:
        delay = due - time.time()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        queue.put_nowait((due, data))
    await queue.join()
    for task in slots:
        task.cancel()
    return result


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
