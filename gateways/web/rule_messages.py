"""What the pages say when a rule of the domain refuses a command, in the user's language.

The domain's ``RuleViolated.message`` is the developers' English, written for logs and
API clients; office staff read one plain message per stable rule code instead, then
the code and the SOP step, so that a refusal can still be looked up and reported.
Every code the domain and the services raise has an entry here (a unit test scans
them); a code without one falls back to the domain's own wording rather than failing.
"""

from domain.errors import RuleViolated
from gateways.web.i18n import N_, TRANSLATIONS

RULE_MESSAGES: dict[str, str] = {
    # Accounts: staff members and the agencies' service accounts.
    "account_inactive": N_("The account is deactivated."),
    "already_active": N_("The person's account is active already."),
    "role_unchanged": N_("The person has this role and agency already."),
    "key_not_live": N_("The key is revoked already."),
    # Intake, classification and routing (L1).
    "case_closed": N_("The case is closed: no further steps can be recorded."),
    "case_not_closed": N_(
        "The case is still open: record the new report on it, or go back to assessment."
    ),
    "complaint_kind_not_in_profile": N_(
        "This district's SOP does not list this kind of complaint."
    ),
    "assessment_before_classification": N_(
        "This district assesses a case before it classifies it: record the assessment first."
    ),
    "classification_required": N_("Classify the case first (case type, risk, jurisdiction)."),
    "correction_changes_nothing": N_(
        "The correction changes nothing: the recorded value is the same."
    ),
    "handover_not_routed": N_(
        "The case's classification does not route it this way: classify it again first."
    ),
    "handover_already_acknowledged": N_(
        "The receiving agency has acknowledged this hand-over already."
    ),
    "not_handed_over": N_("Only a case handed over to an agency is acknowledged or handed back."),
    "not_an_emergency": N_("This is only for a case classified as an emergency."),
    "case_worker_required": N_("Assign a case worker first."),
    "case_worker_already_assigned": N_("This case worker is assigned to the case already."),
    "link_to_itself": N_("A case cannot be linked to itself."),
    "outreach_origin_at_opening": N_(
        "The outreach a case came from is recorded when the case is opened."
    ),
    # Informed consent (L1.9).
    "consent_required": N_("Record the victim's consent first."),
    "consent_already_recorded": N_("Consent was recorded already."),
    "child_consent_by_parent_or_guardian": N_(
        "A child's consent is given by a parent or guardian."
    ),
    "first_victim_consent_is_case_consent": N_(
        "The first victim's consent is the case's consent: record it with the consent step."
    ),
    # Assessment, planning, monitoring and termination (L2-L6).
    "assessment_required": N_("Record an assessment first."),
    "wrong_stage": N_("This step belongs to another stage of the case."),
    "plan_required": N_("Agree the intervention plan first."),
    "recovery_not_found": N_(
        "Record a monitoring visit that found the beneficiary recovered first."
    ),
    "referrals_unsettled": N_(
        "Settle every referral first (completed, declined, not delivered or withdrawn)."
    ),
    "process_not_run": N_("This district does not run this process."),
    "document_required": N_("Attach the document the district requires for this step first."),
    "document_already_attached": N_("This document is attached to the case already."),
    # Referrals and the supervisor's approval (L3-L4, K-C, K-R).
    "agency_not_connected": N_(
        "Simpul cannot deliver to this agency (it has no inbox): choose another agency."
    ),
    "agency_cannot_provide_service": N_(
        "This agency does not provide this service: choose an agency that does."
    ),
    "referral_needs_approval": N_(
        "This district refers only on a supervisor's approval: propose the referral first."
    ),
    "referral_already_open": N_(
        "This agency has an open referral for this service for the same beneficiary already."
    ),
    "referral_id_taken": N_("A referral with this number exists already."),
    "referral_not_pending": N_("Only a pending referral can be accepted."),
    "referral_not_open": N_("Only a pending or accepted referral can be declined."),
    "referral_not_accepted": N_("A service is reported only on an accepted referral."),
    "referral_not_in_progress": N_(
        "Progress is noted only on a referral the agency has accepted and not yet settled."
    ),
    "referral_settled": N_("The referral is settled already and cannot be withdrawn."),
    "recommendation_exists": N_("A recommendation with this number exists already."),
    "recommendation_not_found": N_("The case has no recommendation with this number."),
    "recommendation_settled": N_("The recommendation was approved or returned already."),
    "approval_by_proposer": N_(
        "A supervisor other than the person who proposed the recommendation approves it."
    ),
    # Mediation and temporary shelter (P, B, T).
    "mediation_not_allowed": N_(
        "A sexual-violence case is not settled by mediation unless the perpetrator is a "
        "child (UU 12/2022)."
    ),
    "already_in_shelter": N_(
        "The beneficiary is in a shelter already: record the discharge first."
    ),
    "not_in_shelter": N_("The beneficiary is not in a shelter."),
    "still_in_shelter": N_("The beneficiary is still in a shelter: record the discharge first."),
    "referral_not_for_shelter": N_("The referral is not for temporary shelter."),
    "referral_ended": N_("The referral was declined, withdrawn or not delivered."),
    # Social reintegration (K-I).
    "reintegration_not_prepared": N_("Record the preparation and the counselling first."),
    "already_reunified": N_("The child has been reunified already."),
    "not_reunified": N_("Record the child's reunification first."),
    "monitoring_required": N_("Record a monitoring visit first."),
    "reintegration_not_evaluated": N_("Evaluate the reintegration first."),
    "reintegration_already_evaluated": N_("The reintegration has been evaluated already."),
    # Outreach from the vulnerability map (K-O).
    "verification_required": N_("Verify the initial data first."),
    "already_verified": N_("The initial data was verified already."),
    "vulnerability_not_confirmed": N_(
        "The verification did not confirm the vulnerability: close the outreach instead."
    ),
    "observation_visit_required": N_("Record the home-visit observation first."),
    "risk_grade_required": N_("Grade the risk first."),
    "outreach_became_case": N_("The outreach became a case: record further steps on the case."),
    "outreach_closed": N_("The outreach was closed without a case."),
    # Letters.
    "letter_not_in_profile": N_("This district does not issue this kind of letter."),
    "letter_content_missing": N_("The letter needs facts not recorded yet: record them first."),
    "letter_differs_from_issued": N_("The letter no longer matches the one that was issued."),
}

# Whole sentences, so that a language may order the parts its own way.
REFUSED_AT_STEP = N_("The SOP does not allow this step now: {message} (rule {rule}, SOP {step})")
REFUSED = N_("The SOP does not allow this step now: {message} (rule {rule})")
CHANGE_REFUSED = N_("This change cannot be made: {message} (rule {rule})")


def rule_message(rule: RuleViolated) -> str:
    """The rule's message for office staff, as a msgid (the domain's wording if none)."""
    return RULE_MESSAGES.get(rule.rule, rule.message)


def refusal_text(language: str, rule: RuleViolated) -> str:
    """A refused SOP step: the rule's message in ``language``, its code and SOP step.

    The step is the district's own number (L..., B..., P..., T..., K-...), never translated.
    """
    translations = TRANSLATIONS[language]
    message = translations.gettext(rule_message(rule))
    if rule.step:
        said = translations.gettext(REFUSED_AT_STEP)
        return said.format(message=message, rule=rule.rule, step=rule.step)
    return translations.gettext(REFUSED).format(message=message, rule=rule.rule)


def change_refusal_text(language: str, rule: RuleViolated) -> str:
    """A refused change of an account: not an SOP step, so no SOP is named."""
    translations = TRANSLATIONS[language]
    message = translations.gettext(rule_message(rule))
    return translations.gettext(CHANGE_REFUSED).format(message=message, rule=rule.rule)
