"""Cutting long lists into pieces: `IN` lists a database takes in one query, jobs of a size a
worker finishes quickly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive pieces of at most `size` (the last may be shorter)."""
    return [items[start : start + size] for start in range(0, len(items), size)]
