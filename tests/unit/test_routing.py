"""Routing rules a-f at classification (L1.5)."""

import pytest

from domain.routing import route
from domain.vocabulary import CaseType, HandoverTarget, Jurisdiction, RiskLevel


@pytest.mark.parametrize(
    ("case_type", "risk", "jurisdiction", "emergency", "rules", "handover"),
    [
        (CaseType.KTA, RiskLevel.HIGH, Jurisdiction.DISTRICT, False, ("a",), None),
        (CaseType.KTP, RiskLevel.MEDIUM, Jurisdiction.VILLAGE, False, ("a",), None),
        (CaseType.KTA, RiskLevel.LOW, Jurisdiction.VILLAGE, False, ("b",), HandoverTarget.PATBM),
        (CaseType.KTP, RiskLevel.LOW, Jurisdiction.DISTRICT, False, ("a",), None),
        (CaseType.ABH, RiskLevel.HIGH, Jurisdiction.DISTRICT, False, ("c",), HandoverTarget.SOCIAL),
        (
            CaseType.KTP,
            RiskLevel.HIGH,
            Jurisdiction.PROVINCE,
            False,
            ("d",),
            HandoverTarget.PROVINCE,
        ),
        (
            CaseType.KTA,
            RiskLevel.LOW,
            Jurisdiction.NATIONAL,
            False,
            ("d",),
            HandoverTarget.PROVINCE,
        ),
        (CaseType.KTA, RiskLevel.HIGH, Jurisdiction.DISTRICT, True, ("a", "e"), None),
        (
            CaseType.OTHER,
            RiskLevel.LOW,
            Jurisdiction.DISTRICT,
            False,
            ("f",),
            HandoverTarget.INFORMATION_ONLY,
        ),
        (CaseType.AMPK, RiskLevel.MEDIUM, Jurisdiction.DISTRICT, False, ("a",), None),
    ],
)
def test_routing_follows_rules_a_to_f(case_type, risk, jurisdiction, emergency, rules, handover):
    decision = route(case_type, risk, jurisdiction, emergency)

    assert decision.rules == rules
    assert decision.handover_to == handover
    assert decision.emergency_outreach is emergency
    assert decision.district_handles is (handover is None)
