"""Errors the domain raises when a command breaks a rule.

Messages name the field or rule and never echo the offending value: values
may be personal data, and error messages travel to logs and HTTP clients.
"""


class DomainError(Exception):
    """A command was refused; nothing was recorded."""


class InvalidValue(DomainError):
    """A field's value is not one the SOP vocabulary allows.

    ``field`` "" names the request as a whole (nothing in it to act on); ``kind`` is the
    machine-readable type of the error, ``value_error`` unless a rule names it."""

    def __init__(self, field: str, message: str, *, kind: str = "value_error") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.kind = kind


class RuleViolated(DomainError):
    """A command is not allowed in the case's current state.

    ``rule`` is a stable, machine-readable code (e.g. ``consent_required``);
    ``step`` points at the SOP step the rule comes from, where there is one.
    """

    def __init__(self, rule: str, message: str, *, step: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.step = step


class AgencyNotConnected(RuleViolated):
    """A referral or hand-over names an agency Simpul cannot deliver to (no inbox).

    No state of the case would allow it, so it is an invalid target rather than a
    conflict; ``field`` names the request field that chose the agency.
    """

    def __init__(self, field: str, message: str, *, step: str) -> None:
        super().__init__("agency_not_connected", message, step=step)
        self.field = field


class ProcessNotRun(RuleViolated):
    """A command of an optional process (mediation, shelter, ...) the case's district does
    not run: its profile does not list the process, so no state of the case allows it."""

    def __init__(self, process: str, district: str, *, step: str | None) -> None:
        super().__init__(
            "process_not_run",
            f"the district {district} does not run the {process} process "
            "(its profile's 'processes' does not list it)",
            step=step,
        )
        self.process = process
        self.district = district


class CaseClosed(RuleViolated):
    def __init__(self) -> None:
        super().__init__(
            "case_closed",
            "the case is closed and accepts no further commands",
            step="L6.5",
        )


class ReferralNotFound(DomainError):
    def __init__(self, referral_id: str) -> None:
        super().__init__(f"referral {referral_id} does not exist on this case")
        self.referral_id = referral_id


class LinkRefused(RuleViolated):
    """A link between cases names no other case (itself): no state of the case allows it,
    so it is an invalid target rather than a conflict; ``field`` names the request field."""

    def __init__(self, rule: str, field: str, message: str) -> None:
        super().__init__(rule, message)
        self.field = field


class NothingCorrected(RuleViolated):
    """A correction gives a fact the value it already has: it would record no change.

    No later state of the case makes it a change, so it is an invalid request rather
    than a conflict; ``field`` names the fact (``victim.name``, ``chronology``).
    """

    def __init__(self, field: str) -> None:
        super().__init__(
            "correction_changes_nothing",
            f"{field} already has this value; a correction must change what was recorded",
            step="L1.2",
        )
        self.field = field
