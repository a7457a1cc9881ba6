"""An agency's inbox as its projector builds it from the agency's topic (derived in process)."""

from gateways import runtime
from gateways.projectors.agencies import derived_agency_events
from services.cases import Cases
from services.sharing import SharingMatrix, SharingPolicy, load_matrix

TOPIC_PREFIX = "simpul"


def project_inbox(cases: Cases, agency: str, matrix: SharingMatrix | None = None) -> None:
    matrix = matrix or load_matrix()
    store = runtime.agency_store(cases, agency, matrix)
    store.rebuild(derived_agency_events(cases, SharingPolicy(matrix), TOPIC_PREFIX, agency))
