"""The messages the pages build from the step table rather than spell out: each field's
label, each step's summary, the choices without vocabulary words and the refusals. The
catalog test asks for a translation of every one, so a new step cannot ship untranslated."""

from collections.abc import Iterable

from gateways.api.routes.accounts import Deactivation, NewStaffMember
from gateways.api.routes.service_accounts import NewServiceAccount
from gateways.web.forms import MESSAGES, FieldGroup, FormItem, items_of, label_of
from gateways.web.search_page import SEARCH_ITEMS
from services.case_commands import CASE_STEPS, ReportCase
from services.notifications import NoticeKind

# A due step's states, as the case file shows them (projections/due_steps.py).
STATES = ("upcoming", "due", "overdue", "met", "late", "closed")
# The groups of facts the case file shows from the report.
FACT_GROUPS = ("Victim", "Reporter", "Reported person", "Incident")


def _items_messages(items: Iterable[FormItem]) -> set[str]:
    found: set[str] = set()
    for item in items:
        found.add(item.label)
        if isinstance(item, FieldGroup):
            found |= _items_messages(item.fields)
        else:
            found |= {label_of(c.value) for c in item.choices if c.words is None}
    return found


def dynamic_messages() -> set[str]:
    """Every msgid the pages make from the commands' models and the step table."""
    found = _items_messages(items_of(ReportCase))
    found |= _items_messages(items_of(NewStaffMember)) | _items_messages(items_of(Deactivation))
    found |= _items_messages(SEARCH_ITEMS) | _items_messages(items_of(NewServiceAccount))
    for command in CASE_STEPS:
        found |= _items_messages(items_of(command))
        found.add(command.step.summary)
    notices = {kind.value for kind in NoticeKind}
    return found | set(MESSAGES.values()) | set(STATES) | set(FACT_GROUPS) | notices | {"yes", "no"}
