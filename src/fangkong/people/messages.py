"""Engine error codes (epicore.errors.ValidationError.code) as messages in the user's language."""

from __future__ import annotations

from django.utils.translation import gettext as _

from epicore.errors import ValidationError


def _messages() -> dict[str, str]:
    # Built per call so gettext picks the language active for this request.
    return {
        "id_empty": _("The identity number is empty."),
        "id_first_generation": _(
            "15-digit first-generation identity numbers are no longer valid; enter the 18-character number."
        ),
        "id_length": _("The identity number has %(length)s characters; it must have 18."),
        "id_characters": _("The identity number must be 17 digits followed by a digit or X."),
        "id_check_digit": _(
            "The check character is %(got)s but should be %(expected)s: a digit was mistyped."
        ),
        "id_birth_date": _("The birth date %(value)s in the identity number does not exist."),
        "id_birth_range": _("The birth date %(value)s in the identity number is impossible."),
        "doc_type": _("Unknown document type %(value)s."),
        "doc_empty": _("The document number is empty."),
        "doc_format": _("This is not a valid document number for that document type."),
        "phone_empty": _("The mobile number is empty."),
        "phone_format": _(
            "%(value)s is not a valid mobile number (11 digits starting with 1, or +country code)."
        ),
    }


def message_for(error: ValidationError) -> str:
    template = _messages().get(error.code)
    if template is None:
        return error.message
    try:
        return template % error.params
    except (KeyError, TypeError, ValueError):
        return template
