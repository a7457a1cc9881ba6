"""What a page says next to a refused field, in the user's language.

A field is refused by the domain (``InvalidValue.message``) or by a validator of the
request models (pydantic's message, "Value error, " first for a ``ValueError``): both are
the developers' English, written for the API, which keeps them. The pages say a plainer
msgid instead: one per fixed message, and for a message built from values (the allowed
codes, a length) a pattern that recognises it and a msgid with the same placeholders,
translated first and filled in after. The patterns accept only codes and numbers, so a
value someone typed can never be carried into a page even if a message came to hold one.
A unit test scans the domain and the services so that every message has an entry here;
one without falls back to the English as it came rather than failing the page.
"""

import re
from dataclasses import dataclass

from gateways.web.i18n import N_, TRANSLATIONS

VALUE_ERROR_PREFIX = "Value error, "

# The domain's and the validators' fixed messages, each with the msgid the pages say.
FIELD_MESSAGES: dict[str, str] = {
    # Text, numbers, days and lists (domain/checks.py, the request models' validators).
    "is required": N_("This field is required."),
    "is required and must not be blank": N_("This field is required."),
    "must not be blank": N_("This must not be blank."),
    "must not contain control characters": N_("This contains characters that cannot be stored."),
    "must not contain control characters or line breaks": N_(
        "This contains characters that cannot be stored."
    ),
    "must be text": N_("Give text."),
    "must be a whole number": N_("Give a whole number."),
    "must be a whole number, zero or more": N_("Give a whole number, zero or more."),
    "must be a date YYYY-MM-DD": N_("Give a date (YYYY-MM-DD)."),
    "must include a timezone": N_("Give the time zone too."),
    "must not be in the future": N_("This must not be in the future."),
    "must be a list": N_("Give a list."),
    "must not repeat a value": N_("Each entry may appear once."),
    "must be an object": N_("Fill in this group of fields."),
    # The report and its corrections (L1.1-L1.2).
    "must be an SOP step number, e.g. B4 or K-O2": N_("Give an SOP step number, e.g. B4 or K-O2."),
    "must name at least one fact to correct": N_("Name at least one fact to correct."),
    "must give at least one fact to correct: victim, reporter, reported_person, incident, "
    "chronology or needs": N_(
        "Give at least one fact to correct: of the victim, the reporter, the reported "
        "person, the incident, the chronology or the needs."
    ),
    "each correction is an object of group, key and value": N_(
        "Each correction names a group, a fact and its new value."
    ),
    "key must name a fact": N_("Name the fact to correct."),
    "the report's correctable facts: chronology, needs": N_(
        "Of the report itself, only the chronology and the needs can be corrected."
    ),
    "a correction gives a new value": N_("Give the new value."),
    "is corrected twice in one correction": N_("This fact is corrected twice in one correction."),
    # Consent, beneficiaries, the case worker (L1.7-L1.10).
    "a given consent needs the signed form's reference": N_(
        "A consent given needs the number of the signed consent form."
    ),
    "names no beneficiary of this case": N_("This is not a beneficiary of this case."),
    "is not an active case worker of the case's office": N_(
        "Choose an active case worker of the case's office."
    ),
    # Planning, services and shelter (L3, K-C, T).
    "must list only services that were offered (K-C3)": N_(
        "Choose only services that were offered (K-C3)."
    ),
    "must name who agreed to the plan (L3.5)": N_("Name who agreed to the plan (L3.5)."),
    "an agreement reached must say what was agreed": N_(
        "An agreement reached says what was agreed."
    ),
    "a shelter other than RSTS or P2TP2A needs a name": N_(
        "Name the shelter (any shelter but RSTS or P2TP2A)."
    ),
    "must not be before the day of admission": N_("This must not be before the day of admission."),
    # Termination (L6).
    "an agreed termination's reason must be 'recovered'": N_(
        "An agreed termination is only for a beneficiary whose rights are fulfilled and "
        "who has recovered."
    ),
    "an agreed termination needs the signed form (L6.2)": N_(
        "An agreed termination needs the number of the signed termination form (L6.2)."
    ),
    # Documents and letters.
    "is not a document kind the district's profile accepts": N_(
        "This district does not accept this kind of document."
    ),
    "is not a step of the district's profile": N_("This is not a step of this district's SOP."),
    "is not a letter issued on this case": N_("No such letter was issued on this case."),
    "is not a document attached to this case": N_("No such document is attached to this case."),
    "only a letter about a referral names one": N_(
        "Only a letter about a referral names a referral."
    ),
    # Accounts, the office's district and the agencies' systems.
    "must be an e-mail address": N_("Give an e-mail address."),
    "is not a valid invitation, or it expired": N_(
        "The invitation code is not valid, or it expired."
    ),
    "is too common or too easy to guess": N_(
        "This password is too common or too easy to guess: choose another."
    ),
    "must name at least one scope": N_("Choose at least one scope."),
    "has no inbox in Simpul: its system would read nothing": N_(
        "This agency has no inbox in Simpul: its system would read nothing."
    ),
    "the caller's district has no profile": N_("Your district has no profile in Simpul yet."),
    # Searching for a person (gateways/api/routes/case_search.py).
    "a search names at least one of register_number, name, nik, birth_date, village, "
    "reported_from or reported_to; the filters only narrow it": N_(
        "Search by at least one of: register number, name, NIK, birth date, village or the "
        "days reported; the filters only narrow a search."
    ),
    "has no letters of a name once titles are set aside": N_(
        "Give a name with letters besides its titles."
    ),
    "has no letters of a village name": N_("Give a village name with letters."),
    "is before reported_from": N_("This day is before the first day searched."),
}

# What a placeholder may carry: a list of vocabulary codes, or a whole number.
_CODES = r"[A-Za-z0-9_.-]+(?:, [A-Za-z0-9_.-]+)*"
_NUMBER = r"[0-9]+"


@dataclass(frozen=True)
class MessagePattern:
    """A message built from values: ``english`` recognises it, its named groups fill
    the placeholders of ``msgid`` once translated."""

    english: re.Pattern[str]
    msgid: str


def _pattern(english: str, msgid: str) -> MessagePattern:
    return MessagePattern(re.compile(english), msgid)


PATTERNS: tuple[MessagePattern, ...] = (
    _pattern(rf"must be one of: (?P<choices>{_CODES})", N_("Choose one of: {choices}.")),
    _pattern(
        rf"group must be one of: (?P<choices>{_CODES})",
        N_("The group of a correction is one of: {choices}."),
    ),
    _pattern(
        rf"a unilateral termination's reason must be one of: (?P<choices>{_CODES})",
        N_("A unilateral termination's reason is one of: {choices}."),
    ),
    _pattern(rf"must list at least (?P<count>{_NUMBER}) item\(s\)", N_("At least {count} needed.")),
    _pattern(rf"must be 1 to (?P<most>{_NUMBER}) characters", N_("Give 1 to {most} characters.")),
    _pattern(
        rf"must be at least (?P<count>{_NUMBER}) characters",
        N_("Give at least {count} characters."),
    ),
    _pattern(
        rf"must be at most (?P<count>{_NUMBER}) characters",
        N_("Give at most {count} characters."),
    ),
    _pattern(
        rf"must be a date YYYY-MM-DD in the years (?P<first>{_NUMBER})-(?P<last>{_NUMBER})",
        N_("Give a date (YYYY-MM-DD) in the years {first} to {last}."),
    ),
    _pattern(
        r"must be a date and time with its time zone \(RFC 3339\), e\.g\. [0-9T:+-]+, "
        rf"in the years (?P<first>{_NUMBER})-(?P<last>{_NUMBER})",
        N_("Give a date and time with its time zone, in the years {first} to {last}."),
    ),
)


def _without_prefix(message: str) -> str:
    return message.removeprefix(VALUE_ERROR_PREFIX)


def recognised(message: str) -> tuple[str, dict[str, str]] | None:
    """The msgid of a domain or validator message and the values of its placeholders,
    or None for a message this module does not know."""
    english = _without_prefix(message)
    fixed = FIELD_MESSAGES.get(english)
    if fixed is not None:
        return fixed, {}
    for pattern in PATTERNS:
        found = pattern.english.fullmatch(english)
        if found:
            return pattern.msgid, found.groupdict()
    return None


def field_message_text(language: str, message: str) -> str:
    """A refused field's message in ``language``. ``message`` is a msgid of the pages
    (``forms.MESSAGES``, a rule's message), or the domain's or a validator's English."""
    translations = TRANSLATIONS[language]
    known = recognised(message)
    if known is None:
        return translations.gettext(_without_prefix(message))
    msgid, values = known
    return translations.gettext(msgid).format(**values)
