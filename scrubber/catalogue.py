"""The code catalogue, the rule catalogue and payer profiles, loaded once from `scrubber/data/`."""
from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Final

from scrubber.findings import Severity

__all__ = [
    "CodeInfo", "RuleInfo", "Profile", "Catalogue", "ProfileError",
    "catalogue", "parse_profile", "RPM_CODES", "MANAGEMENT_CODES", "DEVICE_CODES",
]

RPM_CODES: Final = frozenset({"99453", "99454", "99445", "99457", "99458", "99470", "99091"})
MANAGEMENT_CODES: Final = frozenset({"99457", "99458", "99470"})
DEVICE_CODES: Final = frozenset({"99454", "99445"})


class ProfileError(Exception):
    """A payer profile that cannot be used."""


@dataclass(frozen=True)
class CodeInfo:
    code: str
    description: str
    program: str
    group: str
    period: str
    effective: date
    max_units: int | None = None
    min_data_days: int | None = None
    max_data_days: int | None = None
    min_minutes: int | None = None
    addon_to: str | None = None
    needs_interaction: bool = False
    wrvu: float | None = None
    payment: float | None = None
    excludes: frozenset[str] = frozenset()

    @property
    def is_rpm(self) -> bool:
        return self.program == "RPM"

    @property
    def is_rtm(self) -> bool:
        return self.program == "RTM"


@dataclass(frozen=True)
class RuleInfo:
    id: str
    family: str
    severity: Severity
    fires_when: str
    ack277_category: str
    ack277_status: str
    hl7_err3: str
    minor_severity: Severity | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    qualifying_modes: frozenset[str]
    consent: str
    addon_units_high_above: int
    unit_limits: MappingProxyType
    not_adopted: frozenset[str] = frozenset()
    severities: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    minor_severities: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    # the three tables again as plain dicts, for `severity` (every finding) and `unit_limit` (every
    # line): the compiled build looks up a dict directly, a mapping proxy's `get` is a method call
    _unit_limits: dict[str, int | None] = field(init=False, repr=False, compare=False)
    _severities: dict[str, Severity | None] = field(init=False, repr=False, compare=False)
    _minor_severities: dict[str, Severity | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_unit_limits", dict(self.unit_limits))
        object.__setattr__(self, "_severities", dict(self.severities))
        object.__setattr__(self, "_minor_severities", dict(self.minor_severities))

    def severity(self, rule: RuleInfo, minor: bool = False) -> Severity | None:
        """The severity of `rule` under this profile; None when the profile turns it off."""
        table = self._minor_severities if minor and rule.minor_severity else self._severities
        default = rule.minor_severity if minor and rule.minor_severity else rule.severity
        return table.get(rule.id, default)

    def unit_limit(self, code: CodeInfo) -> int | None:
        return self._unit_limits.get(code.code, code.max_units)


@dataclass(frozen=True)
class Catalogue:
    version: str
    codes: MappingProxyType
    rules: MappingProxyType
    profiles: MappingProxyType
    conversion_factor: float
    # the codes again as a plain dict, for `code`: a hot call (every rule asks, about 24 times a
    # claim), which the compiled build makes a direct lookup in a dict and a slot call on the view
    _by_code: dict[str, CodeInfo] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", dict(self.codes))

    def code(self, code: str | None) -> CodeInfo | None:
        return self._by_code.get(code) if code else None

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ProfileError(f"unknown profile {name!r} (known: {known})") from None


def _read(name: str) -> dict:
    return tomllib.loads(resources.files("scrubber.data").joinpath(name).read_text("utf-8"))


def _code(code: str, raw: dict) -> CodeInfo:
    raw = dict(raw)
    raw["excludes"] = frozenset(raw.get("excludes", ()))
    return CodeInfo(code=code, **raw)


def _symmetric(codes: dict[str, CodeInfo]) -> dict[str, CodeInfo]:
    result = {}
    for code, info in codes.items():
        partners = {other for other, o in codes.items() if code in o.excludes}
        result[code] = replace(info, excludes=info.excludes | partners)
    return result


def _rule(rule_id: str, raw: dict) -> RuleInfo:
    minor = raw.get("minor_severity")
    return RuleInfo(
        id=rule_id, family=raw["family"], severity=Severity(raw["severity"]),
        fires_when=raw["fires_when"], ack277_category=raw["ack277"]["category"],
        ack277_status=raw["ack277"]["status"], hl7_err3=raw["hl7_err3"],
        minor_severity=Severity(minor) if minor else None,
    )


_PROFILE_KEYS = {"name", "description", "qualifying_modes", "consent", "addon_units_high_above",
                 "unit_limits", "not_adopted", "severities", "minor_severities"}


def _severity_table(raw: dict, rules: Mapping[str, RuleInfo], where: str) -> MappingProxyType:
    table: dict[str, Severity | None] = {}
    for rule_id, value in raw.items():
        if rule_id not in rules:
            raise ProfileError(f"{where}: unknown rule id {rule_id!r}")
        if value == "off":
            table[rule_id] = None
            continue
        try:
            table[rule_id] = Severity(value)
        except ValueError:
            raise ProfileError(f"{where}.{rule_id}: severity must be block, flag, info or off") from None
    return MappingProxyType(table)


def parse_profile(text: str, rules: Mapping[str, RuleInfo], codes: Mapping[str, CodeInfo]) -> Profile:
    """Build a profile from TOML text; unknown keys, rules, codes and severities are errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"profile is not valid TOML: {error}") from None
    unknown = sorted(set(raw) - _PROFILE_KEYS)
    if unknown:
        raise ProfileError(f"profile: unknown setting {unknown[0]!r}")
    for code in list(raw.get("unit_limits", {})) + list(raw.get("not_adopted", [])):
        if code not in codes:
            raise ProfileError(f"profile: unknown code {code!r}")
    if raw.get("consent", "service_date") not in ("service_date", "episode_start"):
        raise ProfileError("profile.consent must be service_date or episode_start")
    try:
        return Profile(
            name=str(raw["name"]),
            description=str(raw.get("description", "")),
            qualifying_modes=frozenset(raw.get("qualifying_modes", ("phone", "video", "in_person"))),
            consent=raw.get("consent", "service_date"),
            addon_units_high_above=int(raw.get("addon_units_high_above", 2)),
            unit_limits=MappingProxyType({k: int(v) for k, v in raw.get("unit_limits", {}).items()}),
            not_adopted=frozenset(raw.get("not_adopted", ())),
            severities=_severity_table(raw.get("severities", {}), rules, "severities"),
            minor_severities=_severity_table(raw.get("minor_severities", {}), rules, "minor_severities"),
        )
    except KeyError as error:
        raise ProfileError(f"profile: missing setting {error.args[0]!r}") from None


@functools.cache
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded once."""
    raw_codes = _read("codes.toml")
    raw_rules = _read("rules.toml")
    codes = _symmetric({code: _code(code, raw) for code, raw in raw_codes["codes"].items()})
    rules = {rule_id: _rule(rule_id, raw) for rule_id, raw in raw_rules["rules"].items()}
    profiles = {}
    for entry in sorted(resources.files("scrubber.data").joinpath("profiles").iterdir(),
                        key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            profile = parse_profile(entry.read_text("utf-8"), rules, codes)
            profiles[profile.name] = profile
    return Catalogue(
        version=raw_rules["version"], codes=MappingProxyType(codes),
        rules=MappingProxyType(rules), profiles=MappingProxyType(profiles),
        conversion_factor=raw_codes["conversion_factor"],
    )
