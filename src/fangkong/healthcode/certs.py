"""Checking inbound travellers' certificates at a checkpoint (外防输入): EU DCC and SMART Health
Cards, verified by epicore.certs against the trust list configured in FANGKONG_CERT_TRUST.

The platform adds what the engine leaves out: where the trust list comes from, the audit of
every check, messages in the user's language and a readable summary of the content (name, date
of birth, vaccinations, tests, recoveries). docs/certs.md describes the verification itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from epicore.certs import CertError, TrustList, VerificationResult, parse_trust_bytes, verify
from epicore.certs.verify import MAX_INPUT_CHARS
from fangkong.accounts import audit
from fangkong.accounts.roles import VERIFY_CODES
from fangkong.errors import FieldErrors

# Files read from a trust folder; a file named explicitly in the setting is read whatever its name.
TRUST_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".json", ".jwks"}

ERROR_MESSAGES = {
    "input_invalid": gettext_lazy("The text is empty or too long for a QR code."),
    "unknown_prefix": gettext_lazy("Not a certificate this page reads (it expects HC1: or shc:/)."),
    "base45_invalid": gettext_lazy("The HC1: text is damaged (base45)."),
    "zlib_invalid": gettext_lazy("The HC1: text is damaged (compression)."),
    "cbor_invalid": gettext_lazy("The HC1: text is damaged (CBOR)."),
    "cose_invalid": gettext_lazy("The HC1: text is damaged (COSE signature structure)."),
    "cwt_invalid": gettext_lazy("The certificate content is not a valid DCC."),
    "shc_numeric_invalid": gettext_lazy("The shc:/ text is damaged (digits)."),
    "shc_chunks_invalid": gettext_lazy("Parts of a multi-part shc:/ card are missing or repeated."),
    "jws_invalid": gettext_lazy("The shc:/ text is damaged (JWS)."),
    "deflate_invalid": gettext_lazy("The shc:/ text is damaged (compression)."),
    "shc_payload_invalid": gettext_lazy("The card content is not a valid SMART Health Card."),
    "alg_unsupported": gettext_lazy("Signed with an algorithm the specification does not allow."),
    "kid_missing": gettext_lazy("The certificate does not name its signing key."),
    "no_trust_list": gettext_lazy("No trust list is configured: the signature cannot be checked."),
    "unknown_kid": gettext_lazy("Signed by a key that is not in the trust list."),
    "signature_invalid": gettext_lazy("The signature does not match: altered or forged."),
    "expired": gettext_lazy("The certificate has expired."),
    "not_yet_valid": gettext_lazy("The certificate is not valid yet."),
}


@dataclass(frozen=True)
class Trust:
    keys: TrustList
    files: tuple[str, ...]
    problems: tuple[str, ...]  # files that could not be read, with the reason


def trust_files() -> list[Path]:
    """The trust files named by FANGKONG_CERT_TRUST: files as given, folders by suffix."""
    found: list[Path] = []
    for entry in map(Path, settings.FANGKONG_CERT_TRUST):
        if entry.is_dir():
            found += sorted(p for p in entry.iterdir() if p.suffix.lower() in TRUST_SUFFIXES)
        elif entry.exists():
            found.append(entry)
    return found


def current_trust() -> Trust:
    """The trust list now; re-read only when a file was added, removed or changed."""
    stamps = []
    for path in trust_files():
        stat = path.stat()
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return _load_trust(tuple(stamps))


@lru_cache(maxsize=4)
def _load_trust(stamps: tuple[tuple[str, int, int], ...]) -> Trust:
    keys, problems = TrustList(), []
    for name, _mtime, _size in stamps:
        path = Path(name)
        try:
            for key in parse_trust_bytes(path.read_bytes(), path.name):
                keys.add(key)
        except (OSError, CertError) as error:
            # One bad file must not stop checks against the others; the page names it.
            problems.append(f"{path.name}: {getattr(error, 'message', error)}")
    return Trust(keys, tuple(Path(s[0]).name for s in stamps), tuple(problems))


KIND_LABELS = {
    "vaccination": gettext_lazy("vaccination"),
    "test": gettext_lazy("test"),
    "recovery": gettext_lazy("recovery"),
}


@dataclass(frozen=True)
class Entry:
    kind: str  # vaccination, test, recovery
    date: str
    what: str
    detail: str
    where: str

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])


@dataclass(frozen=True)
class Content:
    name: str = ""
    birth_date: str = ""
    entries: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class CertCheck:
    result: VerificationResult
    content: Content
    trust: Trust
    message: str  # in the user's language; blank when verified


def check_certificate(user, text: str, at: datetime | None = None) -> CertCheck:
    """Verify a scanned or pasted certificate and audit the check (never its holder's name)."""
    if not user.can(VERIFY_CODES):
        raise PermissionError(_("Your role may not check certificates."))
    if not text.strip():
        raise FieldErrors({"text": _("Paste or scan the text of the certificate's QR code.")})
    if len(text) > MAX_INPUT_CHARS:
        raise FieldErrors({"text": _("This is longer than any QR code can hold.")})
    trust = current_trust()
    result = verify(text, trust.keys, at)
    with transaction.atomic():
        audit.record(
            user,
            "certs.check",
            object_type="certificate",
            # A digest identifies the certificate shown without keeping personal data in the log.
            object_id=hashlib.sha256(text.strip().encode()).hexdigest()[:32],
            # Where the check happened (the checkpoint's jurisdiction), for that place's auditors.
            jurisdiction_code=user.scope_code or "",
            details=_audit_details(result),
        )
    return CertCheck(result, content_of(result), trust, _message(result))


def _audit_details(result: VerificationResult) -> dict:
    return {
        "format": result.format,
        "verified": result.verified,
        "signature_valid": result.signature_valid,
        "expired": result.expired,
        "issuer": result.issuer,
        "kid": result.kid,
        "error": (result.error or {}).get("code"),
    }


def _message(result: VerificationResult) -> str:
    if result.error is None:
        return ""
    code = result.error.get("code", "")
    return str(ERROR_MESSAGES.get(code, result.error.get("message", code)))


def content_of(result: VerificationResult) -> Content:
    """A readable summary of the payload; empty when nothing could be decoded."""
    payload = result.payload if isinstance(result.payload, dict) else {}
    if result.format == "dcc":
        return dcc_content(payload)
    if result.format == "shc":
        return shc_content(payload)
    return Content()


# Value sets of the EU DCC (eHealth Network, "Value Sets for Digital COVID Certificates"): only
# the most common codes get a label; others are shown as the code itself.
DCC_PRODUCTS = {
    "EU/1/20/1528": "Comirnaty (BioNTech/Pfizer)",
    "EU/1/20/1507": "Spikevax (Moderna)",
    "EU/1/21/1529": "Vaxzevria (AstraZeneca)",
    "EU/1/20/1525": "Jcovden (Janssen)",
    "EU/1/21/1618": "Nuvaxovid (Novavax)",
    "BBIBP-CorV": "BBIBP-CorV (Sinopharm)",
    "CoronaVac": "CoronaVac (Sinovac)",
}
DCC_TEST_TYPES = {
    "LP6464-4": gettext_lazy("nucleic acid test"),
    "LP217198-3": gettext_lazy("rapid antigen test"),
}
DCC_TEST_RESULTS = {
    "260415000": gettext_lazy("not detected"),
    "260373001": gettext_lazy("detected"),
}
# CDC CVX codes of the COVID-19 vaccines most often seen on SMART Health Cards.
CVX_PRODUCTS = {
    "207": "Moderna COVID-19",
    "208": "Pfizer-BioNTech COVID-19",
    "210": "AstraZeneca COVID-19",
    "211": "Novavax COVID-19",
    "212": "Janssen COVID-19",
    "510": "BIBP Sinopharm",
    "511": "CoronaVac Sinovac",
}


def _text(value) -> str:
    """A payload value as text; anything else (lists, maps from a hostile payload) as blank."""
    return str(value) if isinstance(value, str | int | float) else ""


def _joined(*parts) -> str:
    return " · ".join(p for p in map(_text, parts) if p)


def dcc_content(payload: dict) -> Content:
    names = payload.get("nam") if isinstance(payload.get("nam"), dict) else {}
    name = ", ".join(p for p in (_text(names.get("fn")), _text(names.get("gn"))) if p)
    standard = " ".join(p for p in (_text(names.get("fnt")), _text(names.get("gnt"))) if p)
    entries = [_dcc_vaccination(v) for v in _dicts(payload.get("v"))]
    entries += [_dcc_test(t) for t in _dicts(payload.get("t"))]
    entries += [_dcc_recovery(r) for r in _dicts(payload.get("r"))]
    full_name = f"{name} ({standard})" if name and standard else name or standard
    return Content(full_name, _text(payload.get("dob")), entries)


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dcc_vaccination(v: dict) -> Entry:
    product = _text(v.get("mp"))
    dose = f"{_text(v.get('dn'))}/{_text(v.get('sd'))}"
    return Entry(
        "vaccination",
        _text(v.get("dt")),
        DCC_PRODUCTS.get(product, product),
        _("dose %(dose)s") % {"dose": dose},
        _joined(v.get("co"), v.get("is")),
    )


def _dcc_test(t: dict) -> Entry:
    kind, outcome = _text(t.get("tt")), _text(t.get("tr"))
    return Entry(
        "test",
        _text(t.get("sc")),
        _joined(str(DCC_TEST_TYPES.get(kind, kind)), t.get("nm"), t.get("ma")),
        str(DCC_TEST_RESULTS.get(outcome, outcome)),
        _joined(t.get("tc"), t.get("co"), t.get("is")),
    )


def _dcc_recovery(r: dict) -> Entry:
    valid = _("valid %(start)s to %(end)s") % {
        "start": _text(r.get("df")),
        "end": _text(r.get("du")),
    }
    return Entry(
        "recovery",
        _text(r.get("fr")),
        _("first positive test"),
        valid,
        _joined(r.get("co"), r.get("is")),
    )


def shc_content(payload: dict) -> Content:
    resources = _fhir_resources(payload)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    entries = [_shc_immunization(r) for r in resources if r.get("resourceType") == "Immunization"]
    entries += [_shc_observation(r) for r in resources if r.get("resourceType") == "Observation"]
    return Content(_fhir_name(patient), _text(patient.get("birthDate")), entries)


def _fhir_resources(payload: dict) -> list[dict]:
    vc = payload.get("vc") if isinstance(payload.get("vc"), dict) else {}
    subject = vc.get("credentialSubject") if isinstance(vc.get("credentialSubject"), dict) else {}
    bundle = subject.get("fhirBundle") if isinstance(subject.get("fhirBundle"), dict) else {}
    return [
        e["resource"] for e in _dicts(bundle.get("entry")) if isinstance(e.get("resource"), dict)
    ]


def _fhir_name(patient: dict) -> str:
    names = _dicts(patient.get("name"))
    if not names:
        return ""
    given_names = names[0].get("given")
    given = " ".join(map(_text, given_names)) if isinstance(given_names, list) else ""
    return " ".join(p for p in (given, _text(names[0].get("family"))) if p)


def _first_coding(concept) -> dict:
    codings = _dicts(concept.get("coding")) if isinstance(concept, dict) else []
    return codings[0] if codings else {}


def _shc_immunization(resource: dict) -> Entry:
    code = _text(_first_coding(resource.get("vaccineCode")).get("code"))
    performers = _dicts(resource.get("performer"))
    actor = performers[0].get("actor") if performers else None
    where = _text(actor.get("display")) if isinstance(actor, dict) else ""
    lot = _text(resource.get("lotNumber"))
    return Entry(
        "vaccination",
        _text(resource.get("occurrenceDateTime")),
        CVX_PRODUCTS.get(code, f"CVX {code}" if code else ""),
        _joined(resource.get("status"), _("lot %(lot)s") % {"lot": lot} if lot else ""),
        where,
    )


def _shc_observation(resource: dict) -> Entry:
    test = _first_coding(resource.get("code"))
    value = _first_coding(resource.get("valueCodeableConcept"))
    outcome = _text(value.get("code"))
    return Entry(
        "test",
        _text(resource.get("effectiveDateTime")),
        _text(test.get("display")) or _joined(test.get("system"), test.get("code")),
        str(DCC_TEST_RESULTS.get(outcome, _text(value.get("display")) or outcome)),
        "",
    )
