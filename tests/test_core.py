"""The pure core: no I/O libraries, catalogue loaded once, a crashing rule reported, README in sync."""
import ast
import re
from pathlib import Path

import pytest

from scrubber.catalogue import ProfileError, catalogue, parse_profile
from scrubber.checker import Checker
from scrubber.engine import scrub
from scrubber.findings import Verdict
from scrubber.patient_month import PatientMonth
from scrubber.report import rule_table
from scrubber.rules import REGISTRY
from tests.builders import ClaimSpec, Line, x12_837
from x12.reader import read_x12

ROOT = Path(__file__).resolve().parents[1]
CORE = ["findings", "model", "documentation", "docjson", "records", "catalogue", "periods", "patient_month",
        "engine", "checker", "report", "rules/__init__", "rules/_common", "rules/combination",
        "rules/documentation", "rules/input"]
FORBIDDEN = {"flask", "sqlalchemy", "socket", "subprocess", "requests", "urllib", "http", "sqlite3",
             "os", "pathlib", "shutil", "hl7apy", "hl7", "x12", "click", "lxml"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _calls_open(path: Path) -> bool:
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == "open"
               for n in ast.walk(ast.parse(path.read_text())))


@pytest.mark.parametrize("module", CORE)
def test_core_modules_do_no_io(module):
    path = ROOT / "scrubber" / f"{module}.py"
    assert not (_imports(path) & FORBIDDEN)
    assert not _calls_open(path)


def test_every_rule_of_the_catalogue_has_a_function_and_back():
    rules = set(catalogue().rules)
    assert set(REGISTRY) == rules - {"rule-failed"}


def test_rules_md_ids_are_all_in_the_catalogue():
    rules_md = ROOT.parent / "shared" / "RULES.md"
    if not rules_md.exists():
        pytest.skip("shared/RULES.md is not beside this checkout")
    ids = set(re.findall(r"^\| `([a-z-]+)` \|", rules_md.read_text(), re.M))
    assert ids and ids <= set(catalogue().rules)


def test_readme_rule_table_matches_the_catalogue():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- rules:begin -->")[1].split("<!-- rules:end -->")[0]
    assert block.strip() == rule_table(catalogue()).strip(), "run `rpm-scrubber rules` and paste"


def test_catalogue_is_loaded_once_and_frozen():
    assert catalogue() is catalogue()
    with pytest.raises(TypeError):
        catalogue().codes["99457"] = None
    assert catalogue().codes["99470"].excludes == {"99457", "99458"}


def test_profile_files_are_validated():
    shipped = catalogue()
    with pytest.raises(ProfileError, match="unknown rule id"):
        parse_profile('name = "x"\n[severities]\nno-such-rule = "block"\n', shipped.rules, shipped.codes)
    with pytest.raises(ProfileError, match="severity must be"):
        parse_profile('name = "x"\n[severities]\nconsent-missing = "loud"\n', shipped.rules, shipped.codes)
    off = parse_profile('name = "x"\n[severities]\nconsent-missing = "off"\n', shipped.rules, shipped.codes)
    assert off.severity(shipped.rules["consent-missing"]) is None


def test_a_crashing_rule_is_reported_not_swallowed():
    def broken(month, claim, profile):
        raise ZeroDivisionError("boom")
        yield

    (claim,) = read_x12(x12_837([ClaimSpec("C1", [Line("99213", "20260301")])]), "t")
    shipped = catalogue()
    month = PatientMonth(None, (), shipped)
    outcome = scrub(claim, month, shipped.profile("medicare"), shipped,
                    rules={"addon-without-base": broken, **{k: v for k, v in REGISTRY.items()
                                                           if k != "addon-without-base"}})
    (finding,) = outcome.findings
    assert finding.rule == "rule-failed" and "addon-without-base" in finding.message
    assert outcome.verdict is Verdict.FLAG


def test_findings_are_ordered_deterministically():
    lines = [Line("99458", "20260331", "5"), Line("99454", "20260330", "2")]
    (claim,) = read_x12(x12_837([ClaimSpec("C1", lines, mrn=None, member_id=None)]), "t")
    shipped = catalogue()
    result = Checker(shipped, shipped.profile("medicare")).check(claim)
    keys = [(f.line or 0, f.severity.rank, f.rule) for f in result.findings]
    assert keys == sorted(keys) and result.findings[0].line is None


def test_no_rule_crashes_on_mixed_claims():
    """Every rule copes with non-RPM codes, RTM codes, credits and unidentified patients."""
    codes = ["99214", "99453", "99454", "99445", "99457", "99458", "99470", "99091", "98975", "98980",
             "98981", "98979", "98976", "98984", "J3301"]
    lines = [Line(code, "20260331" if i % 2 else "20260301-20260330") for i, code in enumerate(codes)]
    shipped = catalogue()
    for mrn in ("MRN-1", None):
        checker = Checker(shipped, shipped.profile("conservative"))
        for spec in (ClaimSpec("C1", lines, mrn=mrn), ClaimSpec("C2", lines[::-1], mrn=mrn)):
            (claim,) = read_x12(x12_837([spec]), "t")
            result = checker.check(claim)
            assert "rule-failed" not in {f.rule for f in result.findings}
