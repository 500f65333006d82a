"""A case as a FHIR R4 Bundle: the person, the condition, the positive test, the exposures.

Plain dictionaries (no FHIR library at run time); tests validate them with the models of the
`fhir.resources` package (R4B). Codes:
- SNOMED CT 840539006 "Disease caused by severe acute respiratory syndrome coronavirus 2";
- SNOMED CT 840546002 "Exposure to severe acute respiratory syndrome coronavirus 2";
- LOINC 94500-6 "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with
  probe detection"; SNOMED CT 260373001 "Detected".
"""

from __future__ import annotations

from django.utils import timezone

from epicore import idcard
from fangkong.cases.models import Case, Classification, Contact, Exposure

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
IDENTIFIER_SYSTEM = "urn:fangkong:identifier:"  # + document type, e.g. resident_id
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
GENDER = {"M": "male", "F": "female", "U": "unknown"}
VERIFIED = {
    Classification.CONFIRMED: "confirmed",
    Classification.ASYMPTOMATIC: "confirmed",
    Classification.SUSPECTED: "provisional",
    Classification.EXCLUDED: "refuted",
}


def _patient(person, full: bool) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": f"person-{person.pk}",
        "identifier": [
            {
                "system": IDENTIFIER_SYSTEM + person.doc_type,
                "value": person.doc_number if full else idcard.mask_document(person.doc_number),
            }
        ],
        "name": [{"text": person.name if full else idcard.mask_name(person.name)}],
        "gender": GENDER.get(person.sex, "unknown"),
        "address": [{"district": person.jurisdiction_id, "country": "CN"}],
    }
    if person.birth_date:
        resource["birthDate"] = person.birth_date.isoformat()
    if person.phone:
        phone = person.phone if full else idcard.mask_phone(person.phone)
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    return resource


def _condition(case: Case) -> dict:
    resource = {
        "resourceType": "Condition",
        "id": f"case-{case.pk}",
        "identifier": [{"system": IDENTIFIER_SYSTEM + "case_number", "value": case.number}],
        "clinicalStatus": _concept(CLINICAL, "active"),
        "verificationStatus": _concept(VERIFICATION, VERIFIED[case.classification]),
        "code": {
            "coding": [{"system": SNOMED, "code": "840539006", "display": "COVID-19"}],
            "text": case.get_classification_display(),
        },
        "subject": {"reference": f"Patient/person-{case.person_id}"},
        "recordedDate": case.reported_at.isoformat(),
    }
    if case.onset_date:
        resource["onsetDateTime"] = case.onset_date.isoformat()
    return resource


def _concept(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def _positive_sample(case: Case) -> dict:
    return {
        "resourceType": "Observation",
        "id": f"case-{case.pk}-sample",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "94500-6"}]},
        "subject": {"reference": f"Patient/person-{case.person_id}"},
        "effectiveDateTime": case.sampled_date.isoformat(),
        "valueCodeableConcept": {
            "coding": [{"system": SNOMED, "code": "260373001", "display": "Detected"}]
        },
    }


def _exposure(exposure: Exposure, contact_person_id: int) -> dict:
    return {
        "resourceType": "Observation",
        "id": f"exposure-{exposure.pk}",
        "status": "final",
        "code": {
            "coding": [
                {"system": SNOMED, "code": "840546002", "display": "Exposure to SARS-CoV-2"}
            ],
            "text": exposure.get_degree_display(),
        },
        "subject": {"reference": f"Patient/person-{contact_person_id}"},
        "focus": [{"reference": f"Patient/person-{exposure.via_person_id}"}],
        "effectivePeriod": {"start": exposure.start.isoformat(), "end": exposure.end.isoformat()},
        "valueString": exposure.place
        or (f"venue {exposure.venue_id}" if exposure.venue_id else ""),
    }


def case_bundle(case: Case, contacts: list[Contact], full: bool) -> dict:
    """The case, its person and the contacts given (those the reader may see)."""
    resources = [_patient(case.person, full), _condition(case)]
    if case.sampled_date:
        resources.append(_positive_sample(case))
    exposures = Exposure.objects.filter(contact__in=contacts, case=case).select_related("contact")
    people_of = {c.pk: c.person for c in contacts}
    added: set[int] = set()
    for exposure in exposures.order_by("id"):
        person = people_of[exposure.contact_id]
        if person.pk not in added:
            resources.append(_patient(person, full))
            added.add(person.pk)
        resources.append(_exposure(exposure, person.pk))
    for resource in resources:
        if resource["resourceType"] == "Observation" and not resource.get("valueString", True):
            del resource["valueString"]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": [
            {"fullUrl": f"urn:fangkong:{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }
