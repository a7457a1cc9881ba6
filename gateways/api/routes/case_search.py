"""The office's search over its cases (issue 12 item 5), beside the open-case list.

A search names people (a name, a NIK, a birth date, a village), so its terms
travel in a POST body, never in the URL, where proxies and server logs would
keep them. It states its purpose. Before anything is searched, the search is
recorded in the access log, who, when, why and, sealed, what was looked for
(services/case_search.py); each case found is recorded as read by the searcher.
Only the staff of the district's coordinating office search, and only their
district's cases; an agency is refused (403) as from the office's other views.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, StringConstraints

from domain.errors import InvalidValue
from domain.person_names import given_name_key, name_key, village_key
from domain.vocabulary import Agency, CaseType, RiskLevel, Stage
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep, CoordinatorViewsDep
from gateways.api.problems import Problem
from gateways.api.routes.coordinator import STEP_CODE
from gateways.readmodels.case_search import IndexKeys
from gateways.readmodels.coordinator import CaseFilters
from services.access_log import MAX_PURPOSE_LENGTH, CaseRead
from services.case_commands import REQUIRED_LINE, CommandModel, Day, ShortText, UserId
from services.case_search import SEARCH_RESULT_VIEW, SearchKeys, SearchTerms

router = APIRouter(tags=["coordinator"])

SEARCH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "Not the staff of the district's coordinating office"},
    422: {"model": Problem, "description": "A term is invalid or missing; the problem names it"},
    503: {"model": Problem, "description": "The index or the access log is unreachable"},
}
Purpose = Annotated[str, StringConstraints(max_length=MAX_PURPOSE_LENGTH), REQUIRED_LINE]


class CaseSearch(CommandModel):
    """What to look for: at least one key; the open-case list's filters narrow it."""

    purpose: Purpose = Field(
        description="Why the office searches (e.g. a new report naming the child, a letter's "
        "number); recorded with the search in the access log"
    )
    register_number: ShortText | None = Field(
        default=None, description="Exactly, e.g. 0001/LU/2026"
    )
    name: ShortText | None = Field(
        default=None,
        description="Of the victim, the reporter, the reported person or a beneficiary added "
        "later; old and new spellings "
        "(Soekarno, Sukarno), titles (Hj., Sdr., Ny.) and bin/binti are folded",
    )
    nik: Annotated[str, StringConstraints(pattern=r"^[0-9]{16}$")] | None = Field(
        default=None, description="National identity number (16 digits)"
    )
    birth_date: Day | None = None
    village: ShortText | None = Field(
        default=None, description="The person's village or the incident's (Desa/Kelurahan folded)"
    )
    reported_from: Day | None = Field(
        default=None, description="Reports that reached the office on or after this day"
    )
    reported_to: Day | None = Field(
        default=None, description="Reports that reached the office on or before this day"
    )
    status: Literal["open", "closed", "all"] = "all"
    stage: Stage | None = None
    risk_level: RiskLevel | None = None
    case_type: CaseType | None = None
    agency: Agency | None = Field(default=None, description="Has an open referral to it")
    case_worker: UserId | None = None
    overdue_step: Annotated[str, StringConstraints(pattern=f"^any$|{STEP_CODE}")] | None = None
    limit: int = Field(default=20, ge=1, le=100)

    def terms(self) -> SearchTerms:
        filters = {
            name: str(value)
            for name, value in (
                ("status", None if self.status == "all" else self.status),
                ("stage", self.stage),
                ("risk_level", self.risk_level),
                ("case_type", self.case_type),
                ("agency", self.agency),
                ("case_worker", self.case_worker),
                ("overdue_step", self.overdue_step),
            )
            if value is not None
        }
        return SearchTerms(
            register_number=self.register_number,
            name=self.name,
            nik=self.nik,
            birth_date=self.birth_date,
            village=self.village,
            reported_from=self.reported_from,
            reported_to=self.reported_to,
            filters=filters,
        )

    def filters(self) -> CaseFilters:
        return CaseFilters(
            status=None if self.status == "all" else self.status,
            stage=self.stage.value if self.stage else None,
            risk_level=self.risk_level.value if self.risk_level else None,
            case_type=self.case_type.value if self.case_type else None,
            agency=self.agency.value if self.agency else None,
            case_worker=self.case_worker,
            overdue_step=self.overdue_step,
        )


class FoundPerson(BaseModel):
    person: str = Field(
        pattern="^(victim|reporter|reported_person|beneficiary_[0-9]{1,4})$",
        description="Whom the row is about: the victim, the reporter, the reported person, or "
        "a beneficiary added later (beneficiary_2, beneficiary_3, ...).",
    )
    name: str | None
    birth_date: date | None
    village: str | None
    incident_village: str | None = Field(description="Where the violence happened (village)")


class FoundCase(BaseModel):
    case_id: UUID
    register_number: str
    stage: Stage
    status: Literal["open", "closed"]
    case_type: CaseType | None
    risk_level: RiskLevel | None
    arrived_at: datetime = Field(description="When the report reached the office (L1.1)")
    score: float = Field(description="How closely the name matched (1 where no name was given)")
    people: list[FoundPerson] = Field(
        description="The people who matched the name, NIK, birth date or village (none when "
        "the search named none of those); never a NIK"
    )


class SearchAnswer(BaseModel):
    district: str
    now: datetime
    position: int = Field(description="Events up to at least this position are included")
    matched_on: list[str] = Field(description="The keys the cases matched, as given")
    items: list[FoundCase]


def _keys(search: CaseSearch, keys: SearchKeys, tz: Any) -> IndexKeys:
    # Checked here, not by the model: no JSON Schema says "one of these, not null".
    if not search.terms().has_key():
        raise InvalidValue(
            "",
            "a search names at least one of register_number, name, nik, birth_date, "
            "village, reported_from or reported_to; the filters only narrow it",
            kind="no_search_key",
        )
    if search.name is not None and not given_name_key(search.name):
        raise InvalidValue("name", "has no letters of a name once titles are set aside")
    if search.village is not None and not village_key(search.village):
        raise InvalidValue("village", "has no letters of a village name")
    if search.reported_from and search.reported_to and search.reported_from > search.reported_to:
        raise InvalidValue("reported_to", "is before reported_from")
    return IndexKeys(
        register_number=search.register_number,
        name_key=name_key(search.name) if search.name else None,
        given_name_key=given_name_key(search.name) if search.name else None,
        nik_digest=keys.nik_digest(search.nik) if search.nik else None,
        birth_date=search.birth_date,
        village_key=village_key(search.village) if search.village else None,
        arrived_from=(
            datetime.combine(search.reported_from, time(), tz) if search.reported_from else None
        ),
        arrived_before=(
            datetime.combine(search.reported_to + timedelta(days=1), time(), tz)
            if search.reported_to
            else None
        ),
    )


@router.post(
    "/case-search",
    response_model=SearchAnswer,
    summary="Search the district's cases by register number, name, NIK, birth date, village "
    "or report date; recorded in the access log",
    responses=SEARCH_ERRORS,
)
def search_cases(
    search: CaseSearch,
    request: Request,
    actor: ActorDep,
    read: CaseReadDep,
    cases: CasesDep,
    store: CoordinatorViewsDep,
) -> SearchAnswer:
    """Best match first. The terms are in the body, never the URL; the purpose is required."""
    cases.require_may_search(actor)
    keys: SearchKeys | None = request.app.state.search_keys
    if keys is None:
        raise HTTPException(503, "the search needs the deployment's search key")
    terms = search.terms()
    profile = cases.profiles.profile(actor.district) if actor.district in cases.profiles else None
    index_keys = _keys(search, keys, profile.timezone if profile else UTC)
    searched = CaseRead(view=read.view, purpose=search.purpose, request_id=read.request_id)
    cases.record_search(actor, terms, searched, keys)
    now = cases.clock()
    position = store.position(cases.name)
    found = store.search(actor.district, index_keys, search.filters(), now=now, limit=search.limit)
    shown = CaseRead(view=SEARCH_RESULT_VIEW, purpose=search.purpose, request_id=read.request_id)
    if found:
        cases.record_inbox_read(actor, [row["case_id"] for row in found], shown)
    return SearchAnswer(
        district=actor.district,
        now=now,
        position=position,
        matched_on=sorted(name for name in terms.given() if name not in ("filters",)),
        items=[FoundCase.model_validate(row) for row in found],
    )
