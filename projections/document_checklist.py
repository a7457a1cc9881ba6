"""Which documents a case still lacks, by step, as its district's profile lists them.

Kota Batu's B1 needs the client's documents at identification, Purwakarta's P7 a photo
of each visit: the profile's ``[documents] needed`` says which kinds each step needs,
and this projection folds the case's DocumentAttached events against it. A document
attached to no step counts for every step. A pure function of the events and the
profile; the case file and the due steps show it.
"""

from collections.abc import Sequence

from domain.case import Case
from domain.documents import kinds_by_step
from domain.time_standards import TimeStandardProfile


def missing_documents(
    history: Sequence[Case.Event], profile: TimeStandardProfile
) -> dict[str, list[str]]:
    """By the profile's step code, the document kinds the step needs and the case lacks."""
    attached = kinds_by_step(
        (event.step, event.kind) for event in history if isinstance(event, Case.DocumentAttached)
    )
    return {step: list(kinds) for step, kinds in profile.documents.missing(attached).items()}
