"""Framework catalogs under controls/frameworks/: identifiers, counts, categories and titles."""

from pathlib import Path

import pytest
import yaml

FRAMEWORKS = Path(__file__).parents[2] / "controls" / "frameworks"
STEMS = ["iso27001-2022", "soc2-2017", "gdpr", "ccpa"]

ISO_RANGES = [
    ("5", 37, "organizational"),
    ("6", 8, "people"),
    ("7", 14, "physical"),
    ("8", 34, "technological"),
]

SOC2_IDS = [
    *(f"CC1.{n}" for n in range(1, 6)),
    "CC2.1", "CC2.2", "CC2.3",
    "CC3.1", "CC3.2", "CC3.3", "CC3.4",
    "CC4.1", "CC4.2",
    "CC5.1", "CC5.2", "CC5.3",
    "CC6.1", "CC6.2", "CC6.3", "CC6.4", "CC6.5", "CC6.6", "CC6.7", "CC6.8",
    "CC7.1", "CC7.2", "CC7.3", "CC7.4", "CC7.5",
    "CC8.1",
    "CC9.1", "CC9.2",
    "A1.1", "A1.2", "A1.3",
    "C1.1", "C1.2",
    "PI1.1", "PI1.2", "PI1.3", "PI1.4", "PI1.5",
    "P1.1",
    "P2.1",
    "P3.1", "P3.2",
    "P4.1", "P4.2", "P4.3",
    "P5.1", "P5.2",
    "P6.1", "P6.2", "P6.3", "P6.4", "P6.5", "P6.6", "P6.7",
    "P7.1",
    "P8.1",
]  # fmt: skip

SOC2_CATEGORY = {
    "CC": "security",
    "A": "availability",
    "C": "confidentiality",
    "PI": "processing_integrity",
    "P": "privacy",
}

GDPR_REQUIRED = {
    "Art.5(1)(f)",
    "Art.25",
    "Art.28(3)(c)",
    "Art.30",
    "Art.32",
    "Art.32(1)(a)",
    "Art.32(1)(b)",
    "Art.32(1)(c)",
    "Art.32(1)(d)",
    "Art.33",
    "Art.34",
    "Art.44",
    "Art.45",
    "Art.46",
}

CCPA_REQUIRED = {"1798.100(e)", "1798.150"}


def load(stem: str) -> dict:
    return yaml.safe_load((FRAMEWORKS / f"{stem}.yaml").read_text(encoding="utf-8"))


def ids(stem: str) -> list[str]:
    return [c["id"] for c in load(stem)["controls"]]


@pytest.mark.parametrize("stem", STEMS)
def test_file_id_is_stem_and_header_present(stem: str) -> None:
    catalog = load(stem)
    assert catalog["id"] == stem
    for key in ("title", "version", "source"):
        assert isinstance(catalog[key], str)
        assert catalog[key].strip()
    assert isinstance(catalog["controls"], list)
    assert catalog["controls"]


@pytest.mark.parametrize("stem", STEMS)
def test_ids_are_unique_strings(stem: str) -> None:
    control_ids = ids(stem)
    assert all(isinstance(i, str) for i in control_ids)
    assert len(control_ids) == len(set(control_ids))


@pytest.mark.parametrize("stem", STEMS)
def test_titles_are_short_and_non_empty(stem: str) -> None:
    for control in load(stem)["controls"]:
        title = control["title"]
        assert isinstance(title, str), control
        assert title.strip(), control
        assert len(title) <= 80, control


def test_iso_has_exactly_the_93_annex_a_controls_with_themes() -> None:
    expected = {f"{clause}.{n}": theme for clause, count, theme in ISO_RANGES for n in range(1, count + 1)}
    assert len(expected) == 93
    controls = load("iso27001-2022")["controls"]
    assert [c["id"] for c in controls] == list(expected)
    for control in controls:
        assert control["theme"] == expected[control["id"]], control


def test_soc2_has_exactly_the_61_criteria_with_categories() -> None:
    assert len(SOC2_IDS) == 61
    assert len(set(SOC2_IDS)) == 61
    controls = load("soc2-2017")["controls"]
    assert [c["id"] for c in controls] == SOC2_IDS
    for control in controls:
        prefix = control["id"].split(".")[0].rstrip("0123456789")
        assert control["category"] == SOC2_CATEGORY[prefix], control
        assert isinstance(control["group"], str)
        assert control["group"].strip()


def test_soc2_groups_are_consistent_per_series() -> None:
    groups: dict[str, set[str]] = {}
    for control in load("soc2-2017")["controls"]:
        groups.setdefault(control["id"].split(".")[0], set()).add(control["group"])
    assert all(len(names) == 1 for names in groups.values()), groups
    assert groups["CC6"] == {"Logical and physical access controls"}
    assert groups["P6"] == {"Disclosure and notification"}


def test_gdpr_contains_required_articles() -> None:
    control_ids = set(ids("gdpr"))
    assert control_ids >= GDPR_REQUIRED, GDPR_REQUIRED - control_ids
    assert all(i.startswith("Art.") and " " not in i for i in control_ids)
    for control in load("gdpr")["controls"]:
        assert control["group"].startswith("Chapter "), control


def test_ccpa_contains_required_sections() -> None:
    control_ids = set(ids("ccpa"))
    assert control_ids >= CCPA_REQUIRED, CCPA_REQUIRED - control_ids
    assert all(i.startswith("1798.") and " " not in i for i in control_ids)
    for control in load("ccpa")["controls"]:
        assert isinstance(control["group"], str)
        assert control["group"].strip()
