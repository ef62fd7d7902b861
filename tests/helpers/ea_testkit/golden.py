"""Golden tests for `observe_*` functions: recorded API answers in tests/fixtures/<provider>/<kind>.json.

Fixture format: {"kind": K, "recorded_from": "...", "cases": [{"name": ..., <inputs>..., "expected":
{"resource_id", "resource_type", "region", "observed"}}]}. A service's test module maps each kind
to a function building the Evidence from a case, and parametrizes over `golden_params(...)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Evidence, canonical_json

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PROVENANCE: dict[str, Any] = {"provider": "recorded", "operations": [{"operation": "Recorded", "params": {}}]}


def fixture_path(kind: str) -> Path:
    return FIXTURES / kind.split(".", 1)[0] / f"{kind}.json"


def load_cases(kind: str) -> list[dict[str, Any]]:
    doc = json.loads(fixture_path(kind).read_text())
    assert doc["kind"] == kind
    return doc["cases"]


def golden_params(kinds: list[str]) -> list[Any]:
    """pytest params (kind, case) for every recorded case of these kinds, with readable ids."""
    return [pytest.param(kind, case, id=f"{kind}:{case['name']}") for kind in kinds for case in load_cases(kind)]


def check_golden(evidence: Evidence, kind: str, case: dict[str, Any]) -> None:
    expected = case["expected"]
    assert evidence.kind == kind
    assert evidence.resource_id == expected["resource_id"]
    assert evidence.resource_type == expected["resource_type"]
    assert evidence.region == expected["region"]
    assert evidence.observed == expected["observed"]
    assert list(evidence.observed) == list(expected["observed"]), "observed keys in their documented order"
    canonical_json(evidence.raw)  # raw must be plain JSON-safe data
    assert evidence.state_sha() == evidence.state_sha()


def check_raw_keeps(evidence: Evidence, case: dict[str, Any], inputs: tuple[str, ...]) -> None:
    """Each recorded API answer named in `inputs` survives, whole, inside the evidence's `raw`."""
    raw = json.dumps(evidence.raw, sort_keys=True)
    for name in inputs:
        if case[name]:
            assert json.dumps(case[name], sort_keys=True)[1:-1] in raw, f"raw lost the {name} answer"
