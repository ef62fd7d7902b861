"""Catalogue meta-test: every registered kind is well formed, declares its permissions, has golden
fixtures, and is documented in docs/evidence.md with exactly the `observed` keys it produces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from connectors.base import KIND_PATTERN, registered_kinds

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "evidence.md").read_text()
PERMISSION = {
    "aws": re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9*]+$"),  # IAM action
    "k8s": re.compile(r"^(get|list|watch) ([a-z0-9.-]+/[a-z]+|/[a-z]+)$"),  # RBAC verb on group/resource or URL
    "gcp": re.compile(r"^[a-z]+(\.[a-zA-Z]+){2,}$"),  # IAM permission
}
# AWS-managed resources (policies) carry "aws" where the account id goes.
RESOURCE_ID = {
    "aws": re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws)?:\S+$"),
    "k8s": re.compile(r"^k8s://[^/]+/[^/]*/[A-Za-z]+/[^/]+$"),
    "gcp": re.compile(r"^//[a-z]+\.googleapis\.com/\S+$"),
}
KINDS = registered_kinds()


def fixture(kind: str) -> dict:
    provider = kind.split(".", 1)[0]
    return json.loads((ROOT / "tests" / "fixtures" / provider / f"{kind}.json").read_text())


def documented_keys(kind: str) -> list[str]:
    match = re.search(rf"^### `{re.escape(kind)}`\n(.*?)(?=^#|\Z)", DOC, re.S | re.M)
    assert match, f"{kind} has no section in docs/evidence.md"
    return re.findall(r"^\| `([a-z0-9_]+)` \|", match.group(1), re.M)


def test_kinds_exist_and_are_unique():
    names = [k.name for k in KINDS]
    assert names and len(names) == len(set(names))


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_kind_is_well_formed_and_declares_permissions(spec):
    assert KIND_PATTERN.match(spec.name)
    assert spec.description, "the collecting function needs a docstring: it is shown by `evidence-agent kinds`"
    pattern = PERMISSION[spec.provider]
    assert spec.permissions and all(pattern.match(p) for p in spec.permissions), spec.permissions


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_kind_has_golden_fixture_matching_its_documentation(spec):
    doc = fixture(spec.name)
    assert doc["kind"] == spec.name and doc["cases"], "every kind needs recorded cases"
    keys = documented_keys(spec.name)
    for case in doc["cases"]:
        assert list(case["expected"]["observed"]) == keys, f"{case['name']}: observed keys differ from the docs"
        assert RESOURCE_ID[spec.provider].match(case["expected"]["resource_id"])


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_kind_has_a_golden_test(spec):
    """Some test module of the provider feeds the kind's fixture cases to `golden_params`."""
    tests = ROOT / "tests" / "connectors" / {"k8s": "kubernetes"}.get(spec.provider, spec.provider)
    users = [p for p in tests.rglob("test_*.py") if "golden_params" in (text := p.read_text()) and
             f'"{spec.name}"' in text]  # fmt: skip
    assert users, f"no golden test for {spec.name} under {tests}"


def test_every_documented_kind_is_registered():
    documented = set(re.findall(r"^### `([a-z0-9_.]+)`", DOC, re.M))
    assert documented == {k.name for k in KINDS}
