"""Triage routing at classification, L1.5 rules a-f (shared/domain.md).

a. KTP/KTA, risk medium or high, district authority -> district handling (UPTD PPA)
b. KTP/KTA, risk low, manageable in the village     -> hand to PATBM
c. child in conflict with the law (ABH)            -> hand to Dinas Sosial
d. KTP/KTA within provincial / national authority  -> hand to UPTD PPA Provinsi / KemenPPPA
e. emergency                                        -> outreach and emergency services now (L1.6)
f. neither KTP/KTA nor ABH                          -> information about services only
   (unless the district serves the complaint's kind: Kota Batu serves problems with
   education, health, civil registration, welfare and other child-rights services,
   its complaint kinds 10-14, which stay with the district as "served")

Children needing special protection (AMPK) are routed as KTA: the Luwu Utara
regulation covers both under one SOP. A low-risk case whose jurisdiction is
the district (not the village) stays with the district, since rule b needs a
village that can manage it. Rule e combines with any other rule.
"""

from dataclasses import dataclass

from domain.vocabulary import CaseType, HandoverTarget, Jurisdiction, RiskLevel

VIOLENCE_CASE_TYPES = frozenset({CaseType.KTP, CaseType.KTA, CaseType.AMPK})


@dataclass(frozen=True)
class RoutingDecision:
    rules: tuple[str, ...]
    handover_to: HandoverTarget | None
    emergency_outreach: bool

    @property
    def district_handles(self) -> bool:
        return self.handover_to is None


# The routing "rule" recorded for a complaint that is no violence case but that the
# district serves (its profile's served complaint kinds): it stays with the district.
SERVED_COMPLAINT = "served"


def route(
    case_type: CaseType,
    risk_level: RiskLevel,
    jurisdiction: Jurisdiction,
    emergency: bool,
    *,
    served_complaint: bool = False,
) -> RoutingDecision:
    """``served_complaint``: the district serves this complaint's kind (Kota Batu 10-14)."""
    rules: list[str]
    handover: HandoverTarget | None
    if case_type == CaseType.ABH:
        rules, handover = ["c"], HandoverTarget.SOCIAL
    elif case_type not in VIOLENCE_CASE_TYPES and served_complaint:
        rules, handover = [SERVED_COMPLAINT], None
    elif case_type not in VIOLENCE_CASE_TYPES:
        rules, handover = ["f"], HandoverTarget.INFORMATION_ONLY
    elif jurisdiction in (Jurisdiction.PROVINCE, Jurisdiction.NATIONAL):
        rules, handover = ["d"], HandoverTarget.PROVINCE
    elif risk_level == RiskLevel.LOW and jurisdiction == Jurisdiction.VILLAGE:
        rules, handover = ["b"], HandoverTarget.PATBM
    else:
        rules, handover = ["a"], None
    if emergency:
        rules.append("e")
    return RoutingDecision(rules=tuple(rules), handover_to=handover, emergency_outreach=emergency)
