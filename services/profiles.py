"""District profiles: the time standards, register code and retention of each district."""

import tomllib
from dataclasses import replace
from importlib import resources
from pathlib import Path

from domain.time_standards import (
    DEFAULT_AGENCY_RETENTION_DAYS,
    ProfileError,
    TimeStandardProfile,
    parse_profile,
    retention_days,
)
from domain.vocabulary import Agency


class UnknownDistrict(LookupError):
    def __init__(self, district: str) -> None:
        super().__init__(f"no profile is configured for district '{district}'")
        self.district = district


class ProfileBook:
    """All district profiles a deployment knows, by district code."""

    def __init__(
        self,
        profiles: list[TimeStandardProfile],
        *,
        default_retention_days: int = DEFAULT_AGENCY_RETENTION_DAYS,
    ) -> None:
        self._profiles = {profile.district: profile for profile in profiles}
        # For a district without a profile here (an agency's inbox may hold one).
        self.default_retention_days = default_retention_days

    def __contains__(self, district: str) -> bool:
        return district in self._profiles

    def districts(self) -> list[str]:
        return sorted(self._profiles)

    def profile(self, district: str) -> TimeStandardProfile:
        try:
            return self._profiles[district]
        except KeyError:
            raise UnknownDistrict(district) from None

    def coordinating_agency(self, district: str) -> Agency:
        """The agency of the office coordinating the district's cases (services.access).

        A district without a profile has no cases (a report needs the profile); its
        officers are treated as the UPTD PPA's, which coordinates where nothing says.
        """
        profile = self._profiles.get(district)
        return profile.coordinating_agency if profile is not None else Agency.UPTD_PPA


# The case service computes a referral's due time from this step.
REQUIRED_STEPS = ("L4.1",)


def _load_file(path: Path) -> TimeStandardProfile:
    try:
        with path.open("rb") as file:
            profile = parse_profile(tomllib.load(file))
    except (tomllib.TOMLDecodeError, ProfileError) as error:
        raise ProfileError(f"{path.name}: {error}") from None
    missing = [code for code in REQUIRED_STEPS if code not in {s.code for s in profile.steps}]
    if missing:
        raise ProfileError(f"{path.name}: steps {', '.join(missing)} are required")
    return profile


def load_profiles(
    extra_directory: Path | None = None, *, agency_retention_days: int | None = None
) -> ProfileBook:
    """The bundled profiles, overridden or extended by TOML files in ``extra_directory``;
    ``agency_retention_days`` (SIMPUL_AGENCY_RETENTION_DAYS) replaces every district's."""
    profiles = {}
    bundled = resources.files("domain.sop") / "profiles"
    for entry in bundled.iterdir():
        if entry.name.endswith(".toml"):
            with resources.as_file(entry) as path:
                profile = _load_file(path)
                profiles[profile.district] = profile
    if extra_directory is not None:
        for path in sorted(extra_directory.glob("*.toml")):
            profile = _load_file(path)
            profiles[profile.district] = profile
    if agency_retention_days is None:
        return ProfileBook(list(profiles.values()))
    days = retention_days(agency_retention_days, "SIMPUL_AGENCY_RETENTION_DAYS")
    return ProfileBook(
        [replace(p, agency_personal_data_retention_days=days) for p in profiles.values()],
        default_retention_days=days,
    )
