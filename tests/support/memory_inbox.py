"""An agency inbox in memory: the projection's fold checked without a database."""

from dataclasses import asdict, dataclass, field
from typing import Any

from projections.agency_referrals import (
    OPEN,
    CaseSnapshot,
    NewReferral,
    ReferralsView,
    SharedBeneficiary,
    SharedDocument,
)


@dataclass
class MemoryReferralsView(ReferralsView):
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    referrals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def put_case(self, case: CaseSnapshot) -> None:
        known = self.cases.setdefault(case.case_id, {"message_count": 0, "opened_at": case.at})
        if known.get("status") != OPEN:
            known["opened_at"] = case.at
        known.update(
            district=case.district,
            register_number=case.register_number,
            facts=case.facts,
            status=case.status,
            closing_reason=None,
            closed_at=None,
            updated_at=case.at,
            last_sequence=case.sequence,
        )

    def close_case(self, case_id: str, *, status: str, reason: str, at: str, sequence: int) -> None:
        self.cases[case_id].update(
            status=status,
            closing_reason=reason,
            closed_at=at,
            updated_at=at,
            last_sequence=sequence,
        )
        for referral in self.referrals.values():
            if referral["case_id"] == case_id and referral.get("part_closed_at") is None:
                referral["part_closed_at"] = at

    def put_referral(self, referral: NewReferral) -> None:
        self.referrals[referral.referral_id] = {
            **{name: value for name, value in asdict(referral).items() if name != "referral_id"},
            "status": "pending",
            "status_changed_at": referral.referred_at,
            "details": {},
            "part_closed_at": None,
        }

    def set_referral_status(
        self, referral_id: str, *, status: str, at: str, details: dict[str, Any]
    ) -> None:
        referral = self.referrals[referral_id]
        if referral["status"] != status:
            referral["status_changed_at"] = at
        referral["status"] = status
        referral["details"] = {**referral["details"], **details}

    def set_handover_answer(self, case_id: str, answer: dict[str, str] | None) -> None:
        self.cases[case_id]["handover_answer"] = answer

    def add_document(self, case_id: str, document: SharedDocument) -> None:
        documents = self.cases[case_id].setdefault("documents", [])
        if all(known["document_id"] != document.document_id for known in documents):
            documents.append(asdict(document))

    def put_beneficiary(self, case_id: str, beneficiary: SharedBeneficiary) -> None:
        held = self.cases[case_id].setdefault("beneficiaries", {})
        held[beneficiary.beneficiary_id] = {
            name: value for name, value in asdict(beneficiary).items() if name != "beneficiary_id"
        }

    def count_message(self, case_id: str) -> None:
        self.cases[case_id]["message_count"] += 1
