"""Cutting long lists into pieces: `IN` lists a database takes in one query, jobs of a size a
worker finishes quickly, pieces written on several connections at once; the `__any` lookup
that sends such a list as one parameter; and the references of high-volume rows that
PostgreSQL does not check one by one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from django.db import connection, models

T = TypeVar("T")
R = TypeVar("R")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive pieces of at most `size` (the last may be shorter)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def in_threads(work: Callable[[T], R], items: Sequence[T], after=None) -> list[R]:
    """work(item) for each item on a thread of its own, the results in the items' order; then
    `after()` on that thread (e.g. closing its database connection). The first error is raised
    here once every thread has stopped, so nothing is left running behind a failure."""
    results: list = [None] * len(items)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results[n] = work(items[n])
        except BaseException as error:  # raised again below, in the caller's thread
            errors.append(error)
        finally:
            if after is not None:
                after()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def commits_beside() -> bool:
    """Whether other threads' connections may write and commit on their own while this one
    works: PostgreSQL outside a caller's transaction (SQLite has one writer; inside a
    transaction, as in tests, nothing may commit early)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def in_own_connections(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """in_threads, each thread closing the database connection it opened when it is done."""
    # Django's connections are per thread, so `connection` is looked up in the thread
    # (connection.close, bound here, would close the caller's).
    return in_threads(work, items, lambda: connection.close())


class Ids:
    """Integer ids for `field__any`, passed whole. Django resolves and type-checks the items of
    a list or tuple one by one before a lookup sees them (~8 % of a recolouring job of 5,000
    people, which asks eight such queries); this holder is neither, so it goes through as one
    value."""

    __slots__ = ("values",)

    def __init__(self, values: Iterable[int]) -> None:
        self.values = [int(value) for value in values]

    def __len__(self) -> int:
        return len(self.values)


class AnyOf(models.Lookup):
    """`field__any=ids`: the rows whose field is one of `ids` (integers, or an Ids of them).

    On PostgreSQL one array parameter (`= ANY(%s)`); elsewhere an IN list. Django's `__in`
    handles every id as its own parameter, in Python, twice (Django, then psycopg splitting the
    query): 9 ms for a query over 2,000 people that finds nothing, 2.4 ms with the array
    (measured on the tracing benchmark city; recolouring asks six such queries per batch)."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[int]:
        if isinstance(self.rhs, Ids):
            return self.rhs.values
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            # The array as one text literal: Django's psycopg cursor binds on the client, and
            # psycopg quoted a list element by element in Python (4 s of a benchmark tracing
            # run's recolouring: nine such queries per job of 5,000 people).
            literal = "{" + ",".join(map(str, self.rhs)) + "}"
            return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, literal]
        if not self.rhs:
            return "1 = 0", list(lhs_params)
        marks = ", ".join(["%s"] * len(self.rhs))
        return f"{lhs} IN ({marks})", [*lhs_params, *self.rhs]


def unchecked_reference(to, on_delete=models.PROTECT, related_name="+", **options):
    """A reference of a high-volume row without a database constraint (and, unless asked for,
    without an index of its own).

    PostgreSQL checks a foreign key with one trigger query per row and reference: a million lab
    members with two references took 43 s to insert, 10.6 s without (labs/models.py); a tracing
    run recording a million contacts spent 36 s of its commit in ~9 M such checks
    (docs/benchmarks.md). Rows referenced this way are written only with ids read or written in
    the same transaction (set-wise: joined in the same statement), nothing deletes the rows they
    name outside Django, and Django's CASCADE and PROTECT still act on deletes through the ORM."""
    options.setdefault("db_index", False)
    field = models.OneToOneField if options.pop("one_to_one", False) else models.ForeignKey
    return field(to, on_delete=on_delete, related_name=related_name, db_constraint=False, **options)


def register_lookups() -> None:
    """Make `__any` available on integer columns and foreign keys (called once, app ready)."""
    models.IntegerField.register_lookup(AnyOf)
    models.ForeignKey.register_lookup(AnyOf)
