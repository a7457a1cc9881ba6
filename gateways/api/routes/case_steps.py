"""One command endpoint per SOP step: POST /cases/{case_id}/<step>.

The endpoints differ only in path, body model, service method and SOP step, so
they are declared as a table and registered by one function: a new step is
one row, and every step gets the same headers, errors and OpenAPI treatment.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from domain.actors import Actor
from gateways.api.deps import ActorDep, CasesDep, ExpectedVersion, IdempotencyKey
from gateways.api.problems import Problem
from gateways.api.schemas import (
    AccompanimentIn,
    AssessmentIn,
    CaseConferenceIn,
    CaseReportIn,
    CaseWorkerIn,
    ClassificationIn,
    CommandAccepted,
    ConsentIn,
    ContactIn,
    EmergencyResponseIn,
    FamilyMeetingIn,
    HandoverIn,
    InterventionPlanIn,
    MonitoringVisitIn,
    PsychologicalFirstAidIn,
    ReassessmentIn,
    ReferralAnswerIn,
    ReferralCancellationIn,
    ReferralDeclineIn,
    ReferralIn,
    RequestModel,
    ServiceDeliveryIn,
    TerminationIn,
)
from services.cases import CommandResult, referral_id_for

COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The caller may see the case but not do this"},
    404: {"model": Problem, "description": "No such case visible to the caller"},
    409: {"model": Problem, "description": "A rule of the SOP refuses it now, or If-Match is stale"},
    422: {"model": Problem, "description": "A field is invalid; the problem names it"},
    503: {"model": Problem, "description": "The case store is unreachable; nothing was recorded"},
}


@dataclass(frozen=True)
class Step:
    path: str
    body: type[RequestModel]
    service_method: str
    sop_step: str
    summary: str
    on_referral: bool = False
    adapt: Callable[[dict[str, Any], Actor], dict[str, Any]] | None = None


def _default_assessing_agency(arguments: dict[str, Any], actor: Actor) -> dict[str, Any]:
    if arguments.get("assessing_agency") is None:
        arguments["assessing_agency"] = actor.agency.value
    return arguments


def _feedback_as_dict(arguments: dict[str, Any], _: Actor) -> dict[str, Any]:
    arguments["beneficiary_feedback"] = arguments.get("beneficiary_feedback") or {}
    return arguments


STEPS = [
    Step("psychological-first-aid", PsychologicalFirstAidIn, "give_psychological_first_aid",
         "L1.3", "Record initial psychological support"),
    Step("classification", ClassificationIn, "classify", "L1.5",
         "Classify case type, risk and jurisdiction; routes the case (rules a-f)"),
    Step("handover", HandoverIn, "hand_over", "L1.5",
         "Hand the case over as routed (PATBM, social office, province) or give information only"),
    Step("emergency-responses", EmergencyResponseIn, "record_emergency_response", "L1.6",
         "Record outreach and emergency services"),
    Step("case-worker", CaseWorkerIn, "assign_case_worker", "L1.7", "Assign the case worker"),
    Step("contacts", ContactIn, "record_contact", "L1.8",
         "Record a visit or contact with the beneficiary and family"),
    Step("consent", ConsentIn, "record_consent", "L1.9-10",
         "Record written informed consent; a refusal closes the case"),
    Step("assessments", AssessmentIn, "record_assessment", "L2.1-2.3",
         "Record an assessment (physical, psychological, social-spiritual, legal)",
         adapt=_default_assessing_agency),
    Step("case-report", CaseReportIn, "conclude_case_report", "L2.7",
         "Conclude the assessment into the case report"),
    Step("case-conferences", CaseConferenceIn, "hold_case_conference", "L3.3 / L5.3",
         "Record a multi-agency case conference"),
    Step("family-meetings", FamilyMeetingIn, "hold_family_meeting", "L3.4 / L5.4",
         "Record a family meeting"),
    Step("intervention-plan", InterventionPlanIn, "agree_intervention_plan", "L3.1-3.5",
         "Record the intervention plan agreed with the beneficiary and family"),
    Step("referrals", ReferralIn, "refer", "L4.1",
         "Refer the beneficiary to an agency for a service"),
    Step("acceptance", ReferralAnswerIn, "accept_referral", "L4.1",
         "The receiving agency accepts the referral", on_referral=True),
    Step("decline", ReferralDeclineIn, "decline_referral", "L4.1",
         "The receiving agency declines the referral, saying why", on_referral=True),
    Step("deliveries", ServiceDeliveryIn, "record_service_delivery", "L4.2-4.3",
         "The receiving agency reports the service it delivered", on_referral=True),
    Step("cancellation", ReferralCancellationIn, "cancel_referral", "L4.1",
         "The coordinating office withdraws a referral", on_referral=True),
    Step("accompaniment", AccompanimentIn, "record_accompaniment", "L4.4-4.6",
         "Record accompaniment of the beneficiary"),
    Step("monitoring-visits", MonitoringVisitIn, "record_monitoring_visit", "L5.2",
         "Record a monitoring visit"),
    Step("reassessment", ReassessmentIn, "start_reassessment", "L5.5",
         "Loop back to assessment: the beneficiary still needs services"),
    Step("termination", TerminationIn, "terminate", "L6.1-6.5",
         "Terminate the case (agreed after recovery, or unilateral); the case closes",
         adapt=_feedback_as_dict),
]


def accepted(response: Response, result: CommandResult) -> CommandAccepted:
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return CommandAccepted(
        case_id=result.case_id,
        register_number=result.register_number,
        version=result.version,
        recorded=list(result.recorded),
        replayed=result.replayed,
        referral_id=(
            UUID(referral_id_for(result.case_id, result.version))
            if "Referred" in result.recorded
            else None
        ),
    )


def _endpoint(step: Step) -> Callable[..., CommandAccepted]:
    body_model = step.body

    def run(
        cases: Any,
        actor: Actor,
        case_id: UUID,
        body: RequestModel,
        version: int | None,
        key: str | None,
        referral_id: str | None,
    ) -> CommandResult:
        arguments = body.command_arguments()
        if step.adapt is not None:
            arguments = step.adapt(arguments, actor)
        if referral_id is not None:
            arguments["referral_id"] = referral_id
        command = getattr(cases, step.service_method)
        return command(
            actor, case_id, expected_version=version, idempotency_key=key, **arguments
        )

    if step.on_referral:

        def on_referral(
            case_id: UUID,
            referral_id: UUID,
            body: body_model,  # type: ignore[valid-type]
            response: Response,
            cases: CasesDep,
            actor: ActorDep,
            version: ExpectedVersion,
            idempotency_key: IdempotencyKey = None,
        ) -> CommandAccepted:
            result = run(cases, actor, case_id, body, version, idempotency_key, str(referral_id))
            return accepted(response, result)

        return on_referral

    def on_case(
        case_id: UUID,
        body: body_model,  # type: ignore[valid-type]
        response: Response,
        cases: CasesDep,
        actor: ActorDep,
        version: ExpectedVersion,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandAccepted:
        result = run(cases, actor, case_id, body, version, idempotency_key, None)
        return accepted(response, result)

    return on_case


def build_router() -> APIRouter:
    router = APIRouter(prefix="/cases/{case_id}", tags=["case steps"])
    for step in STEPS:
        path = f"/referrals/{{referral_id}}/{step.path}" if step.on_referral else f"/{step.path}"
        router.add_api_route(
            path,
            _endpoint(step),
            methods=["POST"],
            response_model=CommandAccepted,
            summary=f"{step.sop_step}: {step.summary}",
            description=f"SOP step {step.sop_step} (shared/domain.md). {step.summary}.",
            operation_id=step.service_method,
            responses=COMMAND_ERRORS,
        )
    return router
