"""Command line: python -m epicore.certs verify [--trust FILE ...] [--at ISO-TIME] < qr.txt

Prints one JSON object (docs/certs.md) and exits 0 when the certificate is verified, 1 when it
is not or cannot be read, 2 for a command line argparse cannot parse.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TextIO

from epicore.certs import errors
from epicore.certs.errors import CertError
from epicore.certs.model import VerificationResult, iso_time
from epicore.certs.trust import load_trust_files
from epicore.certs.verify import verify

EXIT_VERIFIED = 0
EXIT_NOT_VERIFIED = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m epicore.certs",
        description="Verify EU Digital COVID Certificates (HC1:) and SMART Health Cards (shc:/).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "verify", help="verify the QR text read from standard input; print one JSON object"
    )
    check.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="FILE",
        help="trusted keys: X.509 certificate (PEM or DER) or JWKS; repeat for several files",
    )
    check.add_argument(
        "--at",
        metavar="ISO-TIME",
        help="check validity at this time instead of now, e.g. 2021-05-06T18:00:00Z "
        "(a time without zone is UTC; a bare date is its midnight UTC)",
    )
    return parser.parse_args(argv)


def parse_time(text: str) -> datetime:
    """ISO 8601 as Python 3.11 reads it ("Z", offsets, bare dates); no zone means UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise CertError(
            errors.TIME_INVALID, f"--at {text!r} is not an ISO 8601 date or time", value=text
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_verify(args: argparse.Namespace, stdin: TextIO) -> VerificationResult:
    at = parse_time(args.at) if args.at else datetime.now(UTC)
    trust = load_trust_files(args.trust)
    try:
        text = stdin.read()
    except UnicodeDecodeError as exc:
        raise CertError(errors.INPUT_INVALID, f"input is not text: {exc}") from exc
    return verify(text, trust, at)


def print_json(document: dict) -> None:
    """Readable UTF-8 where the terminal takes it; JSON ASCII escapes where it cannot."""
    try:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    except UnicodeEncodeError:
        print(json.dumps(document, ensure_ascii=True, indent=2))


def main(argv: list[str] | None = None, stdin: TextIO | None = None) -> int:
    """Entry point for `python -m epicore.certs` and `fangkong cert verify`."""
    args = parse_args(argv)
    try:
        result = run_verify(args, stdin or sys.stdin)
    except CertError as exc:  # a bad --at or trust file: still one JSON object on stdout
        result = VerificationResult(checked_at=iso_time(datetime.now(UTC))).fail(exc)
    except Exception as exc:  # a bug here must not turn into a traceback instead of JSON
        result = VerificationResult().fail(
            CertError(errors.INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")
        )
    print_json(result.to_dict())
    return EXIT_VERIFIED if result.verified else EXIT_NOT_VERIFIED
