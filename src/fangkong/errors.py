"""The two shapes of "no" the platform's actions answer with; pages and the API render them.

`FieldErrors`: a form or a row with one message per field (in the user's language).
`Refused`: one refusal with a machine code and a message (a scan, a tube, a room).
"""

from __future__ import annotations


class FieldErrors(Exception):
    """Field name -> message, in the user's language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message
