"""Documents, photos and recordings on a case: what they are, and what each district needs.

The seeds name the papers the SOPs run on: Kota Batu's five client documents at
identification (B1: KTP and family card of the parents, birth certificate, SKTM /
KIS / Jamkesda / KIP / KKS cards, the referring institution's letter, a photo),
Purwakarta's documentation photo at every activity (P7, "harus ada berkas dan
dokumen/foto"), Luwu Utara's camera at L4.3 and documents at L4.6, the visum et
repertum the police need, the consent form (L1.9-10), the termination form (L6.2),
Kutai Timur's audio recorder for observation and counselling. ``DocumentKind`` is
the one catalogue of those kinds; a district's profile says which it uses and which
documents each of its steps needs (``DocumentRules``); the data-sharing matrix says
which kinds each agency may fetch.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.errors import RuleViolated


class DocumentKind(StrEnum):
    # Kota Batu B1's client documents (the intake's document types use the same names).
    IDENTITY_CARD = "identity_card"  # KTP of the client or the parents
    FAMILY_CARD = "family_card"  # Kartu Keluarga
    BIRTH_CERTIFICATE = "birth_certificate"  # akta kelahiran
    SOCIAL_ASSISTANCE_CARD = "social_assistance_card"  # SKTM, KIP, KKS
    HEALTH_INSURANCE_CARD = "health_insurance_card"  # KIS, Jamkesda
    REFERRAL_LETTER = "referral_letter"  # the referring institution's letter
    PHOTO = "photo"  # the client's photo (pas foto)
    # Records the case team makes along the steps.
    DOCUMENTATION_PHOTO = "documentation_photo"  # P7 dokumentasi/foto, L4.3 camera
    AUDIO_RECORDING = "audio_recording"  # Kutai Timur's observation and counselling
    CONSENT_FORM = "consent_form"  # L1.9-10, signed
    ASSESSMENT = "assessment"  # L2.1-L2.3, Kota Batu B2's Form Laporan PPT
    CASE_REPORT = "case_report"  # laporan kasus, L2.7
    INTERVENTION_PLAN = "intervention_plan"  # L3.3
    ASSIGNMENT_LETTER = "assignment_letter"  # surat tugas, L1.6-L1.7
    RECOMMENDATION_LETTER = "recommendation_letter"  # surat rekomendasi, T4, K-C8
    REFERRAL_RECORD = "referral_record"  # Berita Acara Rujukan, K-C8
    SOCIAL_REPORT = "social_report"  # laporan sosial, Tanjungpinang
    TERMINATION_FORM = "termination_form"  # L6.2, signed by both sides
    # Medical and legal papers from the agencies.
    VISUM_ET_REPERTUM = "visum_et_repertum"
    MEDICAL_RECORD = "medical_record"
    POLICE_REPORT = "police_report"  # laporan polisi
    OTHER = "other"


@dataclass(frozen=True)
class DocumentRules:
    """A district's documents: the kinds it accepts, and those each step needs.

    ``needed`` lists, by the profile's step code, the kinds the step needs (the case file
    and the due steps show what is missing); ``required`` those of them without which
    the step's command is refused (rule ``document_required``).
    """

    kinds: frozenset[str] = frozenset(DocumentKind)
    needed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def accepts(self, kind: str) -> bool:
        return kind in self.kinds

    def missing(self, attached: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
        """By step, the kinds the step needs that no document attached to it is.

        ``attached`` maps a step code to the kinds attached at that step; a document
        attached to no step (key "") counts for every step.
        """
        anywhere = set(attached.get("", ()))
        missing: dict[str, tuple[str, ...]] = {}
        for step, kinds in self.needed.items():
            present = anywhere | set(attached.get(step, ()))
            absent = tuple(kind for kind in kinds if kind not in present)
            if absent:
                missing[step] = absent
        return missing

    def require_before(self, step: str, attached: Mapping[str, Sequence[str]]) -> None:
        """Refuse completing ``step`` while a kind the profile requires there is missing."""
        required = set(self.required.get(step, ()))
        for kind in self.missing(attached).get(step, ()):
            if kind in required:
                raise DocumentRequired(kind, step)


class DocumentRequired(RuleViolated):
    """The district requires a document of ``kind`` before the step completes."""

    def __init__(self, kind: str, step: str) -> None:
        super().__init__(
            "document_required",
            f"the district's profile requires a document of kind {kind} attached at step "
            f"{step} (or to the case) before the step completes",
            step=step,
        )
        self.kind = kind


def kinds_by_step(attached: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(step, kind) pairs of the attached documents as the kinds attached at each step."""
    by_step: dict[str, list[str]] = {}
    for step, kind in attached:
        by_step.setdefault(step, []).append(kind)
    return by_step


class DocumentRulesError(ValueError):
    """A profile's [documents] table is not one Simpul can use."""


def _kind_list(value: Any, where: str, accepted: frozenset[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DocumentRulesError(f"{where}: must be a list of document kinds")
    unknown = sorted(set(value) - accepted)
    if unknown:
        raise DocumentRulesError(f"{where}: names kinds the district does not accept: {unknown}")
    if len(set(value)) != len(value):
        raise DocumentRulesError(f"{where}: repeats a kind")
    return tuple(value)


def _by_step(
    raw: Any, where: str, accepted: frozenset[str], step_codes: frozenset[str]
) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise DocumentRulesError(f"{where}: must be a table of step codes")
    unknown_steps = sorted(set(raw) - step_codes)
    if unknown_steps:
        raise DocumentRulesError(f"{where}: names steps the profile has not: {unknown_steps}")
    return {step: _kind_list(kinds, f"{where}.{step}", accepted) for step, kinds in raw.items()}


def parse_document_rules(raw: Any, step_codes: frozenset[str]) -> DocumentRules:
    """The profile's ``[documents]`` table: ``kinds``, ``needed`` and ``required``."""
    if raw is None:
        return DocumentRules()
    if not isinstance(raw, Mapping):
        raise DocumentRulesError("documents: must be a table")
    unknown_settings = sorted(set(raw) - {"kinds", "needed", "required"})
    if unknown_settings:
        raise DocumentRulesError(
            f"documents: unknown settings {unknown_settings}; known: kinds, needed, required"
        )
    catalogue = frozenset(DocumentKind)
    kinds = frozenset(_kind_list(raw.get("kinds", sorted(catalogue)), "documents.kinds", catalogue))
    needed = _by_step(raw.get("needed", {}), "documents.needed", kinds, step_codes)
    required = _by_step(raw.get("required", {}), "documents.required", kinds, step_codes)
    for step, required_kinds in required.items():
        if not set(required_kinds) <= set(needed.get(step, ())):
            raise DocumentRulesError(
                f"documents.required.{step}: a required kind must be needed at the step too"
            )
    return DocumentRules(kinds=kinds, needed=needed, required=required)
