"""Issue 11, five districts and five SOPs: each district's office records and handles its
cases under its own profile (domain/sop/profiles/<district>.toml)."""

import pytest
from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

# The office that coordinates each district's cases, as a token names it.
REGISTER_CODES = {
    "kota-batu": "BATU",
    "kutai-timur": "KUTIM",
    "luwu-utara": "LUTRA",
    "purwakarta": "PWK",
    "tanjungpinang": "TPI",
}


@pytest.mark.parametrize("district", ["purwakarta", "tanjungpinang", "kutai-timur"])
def test_a_district_with_its_own_profile_records_a_report_in_its_register(
    client: TestClient, auth: Headers, district: str
):
    """P1 / T1 / K-C1: the report is received and recorded under the district's register."""
    response = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer", district=district)
    )

    assert response.status_code == 201, response.text
    assert response.json()["register_number"].startswith(f"{REGISTER_CODES[district]}/")
