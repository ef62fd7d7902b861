"""Catalogue meta-test: checks, kinds, mappings and catalogs hold together."""

from __future__ import annotations

import pytest

from connectors.base import registered_kinds
from controls.base import CHECK_PATTERN, registered_checks
from controls.catalog import Strength, load_catalog

CATALOG = load_catalog()
CHECKS = registered_checks()
KINDS = {k.name for k in registered_kinds()}


def test_check_ids_are_unique_and_well_formed():
    ids = [c.id for c in CHECKS]
    assert ids and len(ids) == len(set(ids))
    assert all(CHECK_PATTERN.match(i) for i in ids)


@pytest.mark.parametrize("spec", CHECKS, ids=lambda c: c.id)
def test_every_check_reads_registered_kinds_and_is_described(spec):
    assert spec.reads and set(spec.reads) <= KINDS, set(spec.reads) - KINDS
    assert spec.description


@pytest.mark.parametrize("spec", CHECKS, ids=lambda c: c.id)
def test_every_check_is_mapped_or_deliberately_unmapped(spec):
    mapped = any(spec.id in fw.links_by_check() for fw in CATALOG.frameworks.values())
    assert mapped or CATALOG.unmapped.get(spec.id), f"{spec.id}: map it, or list it in unmapped.yaml with a reason"


@pytest.mark.parametrize("framework", sorted(CATALOG.frameworks))
def test_every_link_names_an_existing_control_and_a_registered_check(framework):
    fw = CATALOG.frameworks[framework]
    controls = {c.id for c in fw.controls}
    checks = {c.id for c in CHECKS}
    for link in fw.links:
        assert link.control_id in controls, f"{framework}: {link.check_id} -> unknown control {link.control_id}"
        assert link.check_id in checks, f"{framework}: link for unregistered check {link.check_id}"
        assert link.strength in (Strength.PRIMARY, Strength.SUPPORTING) and len(link.rationale) > 20


def test_no_people_or_physical_control_has_a_primary_automated_link():
    iso = CATALOG.frameworks["iso27001-2022"]
    themes = {c.id: c.group for c in iso.controls}
    over = [(lk.check_id, lk.control_id) for lk in iso.links
            if lk.strength == Strength.PRIMARY and themes[lk.control_id] in ("people", "physical")]  # fmt: skip
    assert over == []
    soc2 = CATALOG.frameworks["soc2-2017"]
    governance = [(lk.check_id, lk.control_id) for lk in soc2.links if lk.strength == Strength.PRIMARY
                  and lk.control_id.split(".")[0] in ("CC1", "CC2", "CC3", "CC4", "CC5")]  # fmt: skip
    assert governance == []


def test_catalog_digest_changes_with_an_extra_mapping_file(tmp_path):
    extra = tmp_path / "ours.yaml"
    extra.write_text(
        "framework: iso27001-2022\nlinks:\n  aws.s3.bucket.encryption_enabled:\n"
        "    - {control: '5.34', strength: supporting, rationale: 'Our privacy officer counts encryption here.'}\n"
    )
    overridden = load_catalog([extra])
    assert overridden.digest != CATALOG.digest
    links = overridden.frameworks["iso27001-2022"].links_by_check()["aws.s3.bucket.encryption_enabled"]
    assert [(lk.control_id, lk.strength) for lk in links] == [("5.34", Strength.SUPPORTING)]
