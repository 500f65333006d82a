"""Benchmark: scans per second through `serve-ingest` on PostgreSQL, with a Django baseline.

Sets up people (synthetic city), code states, venues and one scanner device per venue in the
DATABASE_URL database; starts `fangkong serve-ingest` as a subprocess; sends an open-loop load
of POST /scan at --rate for --seconds from forked load processes; with --kill-at S kills the whole
server (SIGKILL to its process group) S seconds in, restarts it and carries on. Then checks that
every acknowledged check-in id is stored and that the stored new rows match the acknowledged
new check-ins. The baseline is POST /api/scan/person of `fangkong serve` (waitress, Django) at
the same offered rate for --baseline-seconds. docs/ingest.md has the figures.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

from fangkong.ingest import loadgen

ROOTS = ("3502",)
COLOURS = (("green", 96), ("yellow", 3), ("red", 1))


def _ticks(pids) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of these processes."""
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return seconds


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings (processes started in between count in full)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def _pids(match) -> list[int]:
    """Processes whose (comm, process group) satisfy `match`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    head, rest = f.read().rsplit(")", 1)
                if match(head.split("(", 1)[1], int(rest.split()[2])):
                    found.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class Command(BaseCommand):
    help = "Scans/s, latency and durability of serve-ingest on PostgreSQL (docs/ingest.md)."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--rate", type=float, default=2000)
        parser.add_argument("--people", type=int, default=20_000)
        parser.add_argument("--venues", type=int, default=500)
        parser.add_argument("--kill-at", type=float, default=None)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--writers", type=int, default=1)
        parser.add_argument("--linger-ms", type=float, default=3.0)
        parser.add_argument("--port", type=int, default=8171)
        parser.add_argument("--clients", type=int, default=2, help="load processes")
        parser.add_argument("--connections", type=int, default=64, help="per load process")
        parser.add_argument("--repeat-share", type=float, default=0.03)
        parser.add_argument("--baseline-seconds", type=float, default=15)
        parser.add_argument("--baseline-connections", type=int, default=8, help="per process")
        parser.add_argument("--no-baseline", action="store_true")
        parser.add_argument(
            "--seed", type=int, default=None, help="of the scan mix (default: a new one each run)"
        )

    def handle(self, *args, **o):
        if connection.vendor != "postgresql":
            raise CommandError("bench-scans needs PostgreSQL: set DATABASE_URL=postgres://...")
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        people, venues = self._data(o)
        devices = self._devices(venues)
        self.venue_count = len(venues)
        self.workers = o["workers"]
        self.stdout.write(
            f"data: {len(people)} people, {len(venues)} venues with a scanner each "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        settings_row = self._pg_settings()
        rows = []
        seed = o["seed"] if o["seed"] is not None else random.randrange(1_000_000)
        self.stdout.write(f"scan mix seed {seed}")
        rng = random.Random(seed)
        count = int(o["rate"] * o["seconds"])
        pairs = self._pairs(rng, people, venues, count, o["repeat_share"])
        rows.append(self._ingest_phase(o, people, pairs, devices))
        if not o["no_baseline"]:
            # new pairs: a repeat of the first phase's scans would all merge
            more = self._pairs(rng, people, venues, 20_000, o["repeat_share"])
            rows.append(self._baseline_phase(o, people, more))
        self._report(o, rows, settings_row)

    # -- data -----------------------------------------------------------------------------

    def _data(self, o):
        from fangkong.healthcode.keys import ensure_signing_keys, subject_for
        from fangkong.healthcode.models import CodeState
        from fangkong.people.management.commands.synth import populate
        from fangkong.people.models import Person
        from fangkong.venues.bulk import copy_rows
        from fangkong.venues.models import Venue

        have = Person.objects.count()
        if have == 0:
            self.stdout.write(f"loading a synthetic city of {o['people']} people ...")
            populate(o["people"], 7, ROOTS, days=0)
        elif have < o["people"]:
            raise CommandError(f"database holds {have} people, fewer than {o['people']}")
        ensure_signing_keys(datetime.now(UTC))
        ids = list(Person.objects.order_by("id").values_list("id", flat=True)[: o["people"]])
        missing = set(ids) - set(
            CodeState.objects.filter(person_id__in=ids).values_list("person_id", flat=True)
        )
        if missing:
            rng = random.Random(7)
            now = datetime.now(UTC)
            colours = [c for c, _ in COLOURS]
            weights = [w for _, w in COLOURS]
            rows = (
                (pid, rng.choices(colours, weights)[0], "bench", "[]", subject_for(pid).hex(), now)
                for pid in sorted(missing)
            )
            columns = ("person_id", "colour", "rule_set", "reasons", "subject", "updated_at")
            copy_rows(CodeState, columns, rows)
        states = dict(
            CodeState.objects.filter(person_id__in=ids).values_list("person_id", "subject")
        )
        venue_ids = list(Venue.objects.order_by("id").values_list("id", flat=True)[: o["venues"]])
        if not venue_ids:
            raise CommandError("no venues in the database")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return [(pid, states[pid]) for pid in ids], venue_ids

    def _devices(self, venue_ids) -> dict[int, str]:
        from datetime import timedelta

        from fangkong.ingest.device import device_key, sign_device_token
        from fangkong.ingest.models import ScannerDevice

        now = datetime.now(UTC)
        have = dict(
            ScannerDevice.objects.filter(
                venue_id__in=venue_ids, label="bench", revoked_at__isnull=True
            ).values_list("venue_id", "id")
        )
        new = [
            ScannerDevice(
                venue_id=v, label="bench", issued_at=now, expires_at=now + timedelta(days=30)
            )
            for v in venue_ids
            if v not in have
        ]
        for device in ScannerDevice.objects.bulk_create(new):
            have[device.venue_id] = device.pk
        key = device_key(settings.SECRET_KEY)
        until = now + timedelta(days=1)
        return {v: sign_device_token(key, have[v], v, until) for v in venue_ids}

    def _pairs(self, rng, people, venues, count, repeat_share):
        """(person index, venue id) per scan; a share repeats a scan of the last second or so."""
        pairs = []
        for n in range(count):
            if pairs and rng.random() < repeat_share:
                pairs.append(pairs[max(0, n - rng.randint(1, 2000))])
            else:
                pairs.append((rng.randrange(len(people)), rng.choice(venues)))
        return pairs

    def _tokens(self, people) -> list[bytes]:
        from epicore.healthcode.rules import Colour
        from epicore.healthcode.tokens import issue_health_token
        from fangkong.healthcode.keys import key_ring
        from fangkong.healthcode.models import CodeState

        ring, now = key_ring(), datetime.now(UTC)
        colours = dict(CodeState.objects.values_list("person_id", "colour"))
        return [
            issue_health_token(ring, bytes.fromhex(s), Colour.from_code(colours[p]), now).encode()
            for p, s in people
        ]

    def _pg_settings(self) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('synchronous_commit', 'fsync', 'wal_sync_method', 'server_version')"
            )
            return dict(cursor.fetchall())

    # -- phases ---------------------------------------------------------------------------

    def _max_checkin(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(id), 0) FROM venues_checkin")
            return cursor.fetchone()[0]

    def _ingest_phase(self, o, people, pairs, devices):
        tokens = self._tokens(people)
        requests = []
        for person, venue in pairs:
            body = b'{"token":"' + tokens[person] + b'"}'
            requests.append(
                b"POST /scan HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                + devices[venue].encode()
                + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
        command = ["serve-ingest", "--port", str(o["port"]), "--workers", str(o["workers"])]
        command += ["--writers", str(o["writers"]), "--linger-ms", str(o["linger_ms"])]
        label = f"serve-ingest ({o['workers']} workers × {o['writers']} writers"
        label += f", linger {o['linger_ms']:g} ms)" if o["linger_ms"] else ")"
        return self._phase(label, command, requests, o, o["port"], "/healthz", o["kill_at"])

    def _baseline_phase(self, o, people, pairs):
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore

        from fangkong.accounts.models import User
        from fangkong.accounts.roles import Role

        user, _ = User.objects.get_or_create(username="bench_venue_operator")
        user.role, user.jurisdiction_id = Role.VENUE_OPERATOR, ROOTS[0]
        user.set_unusable_password()
        user.save()
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        csrf = "b" * 32
        tokens = self._tokens(people)
        requests = []
        for person, venue in pairs:
            body = b'{"venue_id":%d,"token":"%s"}' % (venue, tokens[person])
            requests.append(
                b"POST /api/scan/person HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + f"Cookie: sessionid={session.session_key}; csrftoken={csrf}\r\n".encode()
                + f"X-CSRFToken: {csrf}\r\n".encode()
                + b"Content-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
        port = o["port"] + 1
        label = "baseline: fangkong serve, /api/scan/person (Django, waitress 8 threads)"
        command = ["serve", "--port", str(port)]
        closed = o["baseline_seconds"]
        return self._phase(label, command, requests, o, port, "/", None, closed)

    def _start(self, command, port, probe, log):
        process = subprocess.Popen(
            [sys.executable, "-m", "fangkong", *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if process.poll() is not None:
                raise CommandError(f"{command[0]} exited with {process.returncode}: see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1):
                    return process
            except OSError:
                time.sleep(0.05)
        raise CommandError(f"{command[0]} did not answer on port {port}")

    def _stop(self, process, sig=signal.SIGTERM):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait()

    def _phase(self, label, command, requests, o, port, probe, kill_at, closed=None):
        rate = o["rate"]
        connections_each = o["connections"] if closed is None else o["baseline_connections"]
        log = open(settings.DATA_DIR / f"bench-scans-{command[0]}.log", "ab")
        server = {"process": self._start(command, port, probe, log)}
        time.sleep(1.0)  # let every worker bind before the clock starts
        before = self._max_checkin()
        connections.close_all()  # the load processes are forked: never share a connection
        load_before = os.getloadavg()[0]
        start_at = time.time() + 0.5
        restart = {}
        if kill_at is not None:

            def killer():
                time.sleep(max(0.0, start_at + kill_at - time.time()))
                killed = time.time()
                self._stop(server["process"], signal.SIGKILL)
                server["process"] = self._start(command, port, probe, log)
                restart["down_s"] = time.time() - killed

            thread = threading.Thread(target=killer)
            thread.start()
        self.stdout.write(
            f"{label}: {len(requests)} requests at {rate:.0f}/s ..."
            if closed is None
            else f"{label}: {o['clients'] * connections_each} connections back to back "
            f"for {closed:.0f} s ..."
        )
        group = server["process"].pid

        def readings():
            return (
                _ticks(_pids(lambda comm, g: g == group)),
                _ticks(_pids(lambda comm, g: comm.startswith("postgres"))),
            )

        cpu_before = readings()
        children_before = os.times()
        result = loadgen.run(
            "127.0.0.1", port, requests, rate, o["clients"], connections_each, start_at, closed
        )
        children_after = os.times()
        cpu_after = readings()
        cpu = {
            # after a kill the server is a new process group: its CPU is not comparable
            "server": None if restart else _used(cpu_before[0], cpu_after[0]),
            "postgres": _used(cpu_before[1], cpu_after[1]),
            "load": (children_after.children_user + children_after.children_system)
            - (children_before.children_user + children_before.children_system),
        }
        if kill_at is not None:
            thread.join()
        load_after = os.getloadavg()[0]
        batches = self._batch_stats(port) if probe == "/healthz" else None
        self._stop(server["process"])
        log.close()
        row = self._check(label, o, requests, result, before, restart, (load_before, load_after))
        row["cpu"] = cpu
        row["batches"] = batches
        return row

    def _batch_stats(self, port):
        """(transactions, scans) summed over the workers, asked until each answered once."""
        import json

        seen = {}
        for _ in range(50):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                stats = json.load(reply)
            seen[stats["pid"]] = (stats["batches"], stats["scans"])
            if len(seen) >= self.workers:
                break
        return tuple(map(sum, zip(*seen.values(), strict=True)))

    def _check(self, label, o, requests, result, before, restart, load):
        acked_ids = sorted({cid for cid, _ in result.acked})
        acked_new = {cid for cid, merged in result.acked if not merged}
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM venues_checkin WHERE id > %s", [before])
            stored_new = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM venues_checkin WHERE id = ANY(%s)", [acked_ids])
            present = cursor.fetchone()[0]
            # the merge rule under concurrency: no two check-ins of one person at one venue
            # less than 10 minutes apart among (or against) the new rows
            cursor.execute(
                "SELECT count(*) FROM venues_checkin b JOIN venues_checkin a"
                " ON a.person_id = b.person_id AND a.venue_id = b.venue_id AND a.id <> b.id"
                " AND a.t_in > b.t_in - interval '10 minutes'"
                " AND a.t_in < b.t_in + interval '10 minutes' WHERE b.id > %s",
                [before],
            )
            duplicates = cursor.fetchone()[0]
        elapsed = result.last_done - result.first_due
        offered = o["rate"] if not result.closed else None
        ok = result.statuses.get(200, 0)
        per_second: dict[int, list[float]] = {}
        for due, latency in zip(result.dues, result.latencies, strict=True):
            per_second.setdefault(int(due - result.first_due), []).append(latency)
        p99s = sorted(_percentile(v, 0.99) * 1000 for v in per_second.values())
        return {
            "seconds_over": sum(1 for p in p99s if p > 50),
            "seconds": len(p99s),
            "median_second_p99": statistics.median(p99s) if p99s else float("nan"),
            "label": label,
            "offered": offered,
            "sent": len(requests),
            "achieved": ok / elapsed if elapsed > 0 else 0.0,
            "p50": _percentile(result.latencies, 0.50) * 1000,
            "p95": _percentile(result.latencies, 0.95) * 1000,
            "p99": _percentile(result.latencies, 0.99) * 1000,
            "max": max(result.latencies, default=float("nan")) * 1000,
            "statuses": dict(sorted(result.statuses.items())),
            "errors": result.errors,
            "acked": ok,
            "acked_new": len(acked_new),
            "acked_merged": ok - len(acked_new),
            "stored_new": stored_new,
            "missing": len(acked_ids) - present,
            "duplicates": duplicates,
            "restart": restart,
            "load": load,
            "mean": statistics.fmean(result.latencies) * 1000 if result.latencies else 0.0,
        }

    # -- report ---------------------------------------------------------------------------

    def _report(self, o, rows, pg):
        w = self.stdout.write
        r0 = {"venues": self.venue_count}
        w("")
        w(
            f"{os.cpu_count()} CPUs, PostgreSQL {pg.get('server_version')} synchronous_commit="
            f"{pg.get('synchronous_commit')} fsync={pg.get('fsync')} "
            f"wal_sync_method={pg.get('wal_sync_method')}; {o['people']} people, "
            f"{r0['venues']} venues, load {o['clients']} processes × {o['connections']} connections"
        )
        w("")
        w(
            "| server | offered/s | achieved 200/s | p50 ms | p95 ms | p99 ms | max ms | "
            "responses | errors | 200 = new + merged | stored new rows | acked ids missing |"
        )
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |")

        def offered_text(r):
            return f"{r['offered']:.0f}" if r["offered"] else "closed loop (its max)"

        for r in rows:
            statuses = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
            errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "0"
            w(
                f"| {r['label']} | {offered_text(r)} | {r['achieved']:.0f} | {r['p50']:.1f} | "
                f"{r['p95']:.1f} | {r['p99']:.1f} | {r['max']:.0f} | {statuses} | {errors} | "
                f"{r['acked']} = {r['acked_new']} + {r['acked_merged']} | {r['stored_new']} | "
                f"{r['missing']} |"
            )
        w("")
        for r in rows:
            note = (
                f"- {r['label']}: load average {r['load'][0]:.2f} before, {r['load'][1]:.2f} after"
            )
            if r["restart"]:
                note += (
                    f"; killed with SIGKILL at {o['kill_at']:.0f} s and answering again "
                    f"{r['restart']['down_s']:.2f} s later"
                )
            if r.get("batches") and r["batches"][0]:
                note += f"; {r['batches'][1] / r['batches'][0]:.1f} scans per transaction" + (
                    " (since the restart)" if r["restart"] else ""
                )
            note += (
                f"; p99 of each second: median {r['median_second_p99']:.1f} ms, "
                f"{r['seconds_over']} of {r['seconds']} seconds over 50 ms"
            )
            note += (
                f"; check-ins less than 10 minutes apart (same person and venue): {r['duplicates']}"
            )
            extra = r["stored_new"] - r["acked_new"]
            note += (
                f"; stored rows not acknowledged: {extra} (committed while the server was killed)"
                if r["restart"]
                else f"; stored rows not acknowledged: {extra}"
            )
            cpu, ok = r["cpu"], max(1, r["acked"])
            note += (
                "; CPU µs per acknowledged scan: server "
                + (
                    "n/a (restarted)"
                    if cpu["server"] is None
                    else f"{cpu['server'] / ok * 1e6:.0f}"
                )
                + ", "
                f"PostgreSQL (all processes) {cpu['postgres'] / ok * 1e6:.0f}, "
                f"load generator {cpu['load'] / ok * 1e6:.0f}"
            )
            w(note)
        failed = [r for r in rows if r["missing"] or r["stored_new"] < r["acked_new"]]
        if failed:
            raise CommandError("acknowledged check-ins are missing from the database")
        if any(r["duplicates"] for r in rows):
            raise CommandError("repeated scans were not merged")
