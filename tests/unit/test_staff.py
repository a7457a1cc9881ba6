"""A staff member's history: who granted which role when, and what deactivation ends."""

from datetime import UTC, datetime

import pytest

from domain.actors import Actor, acting_as
from domain.errors import InvalidValue, RuleViolated
from domain.staff import StaffMember, normal_email
from domain.vocabulary import Agency, Role

ADMIN = Actor("admin.luwu", Role.OFFICE_ADMINISTRATOR, Agency.UPTD_PPA, "luwu-utara")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def invited(role: Role = Role.CASE_WORKER) -> StaffMember:
    with acting_as(ADMIN, NOW):
        return StaffMember.invite(
            email=" Rina@UPTD.example ",
            display_name="Rina  Wulandari",
            role=role,
            agency=Agency.UPTD_PPA,
            district="luwu-utara",
        )


def test_an_invitation_records_who_invited_whom_into_which_role():
    member = invited()

    (event,) = member.collect_events()
    assert event.actor["user_id"] == "admin.luwu"
    assert (event.email, event.display_name, event.role) == (
        "rina@uptd.example",
        "Rina Wulandari",
        "case_worker",
    )
    assert member.active and not member.has_password and member.user_id != member.email


def test_coordinators_supervisors_auditors_and_administrators_need_a_second_factor():
    assert not invited(Role.CASE_WORKER).needs_second_factor
    for role in (Role.COORDINATOR, Role.SUPERVISOR, Role.AUDITOR, Role.OFFICE_ADMINISTRATOR):
        assert invited(role).needs_second_factor


def test_a_deactivated_account_takes_no_change_until_reactivated():
    member = invited()
    with acting_as(ADMIN, NOW):
        member.set_password()
        member.deactivate(reason="moved to another office")
        with pytest.raises(RuleViolated) as refused:
            member.change_role(role=Role.COORDINATOR, agency=Agency.UPTD_PPA)
        member.reactivate()

    assert refused.value.rule == "account_inactive"
    assert member.active and not member.has_password


def test_a_role_change_to_the_same_role_is_refused():
    member = invited()
    with acting_as(ADMIN, NOW), pytest.raises(RuleViolated):
        member.change_role(role=Role.CASE_WORKER, agency=Agency.UPTD_PPA)


@pytest.mark.parametrize(
    "email", ["", "rina", "@uptd.example", "rina@", "rina@localhost", "a b@c.d"]
)
def test_an_address_that_is_no_e_mail_address_is_refused(email: str):
    with pytest.raises(InvalidValue):
        normal_email(email)
