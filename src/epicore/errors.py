"""Structured validation errors.

The engine does not translate: it raises errors with a stable `code` and named `params`, and the
platform turns them into messages in the user's language. The English `message` is for logs and
command-line tools.
"""

from __future__ import annotations

from typing import Any


class ValidationError(ValueError):
    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params

    def __repr__(self) -> str:
        return f"ValidationError({self.code!r}, {self.message!r})"
