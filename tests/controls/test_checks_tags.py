"""Table tests of the data-store label checks: owner and classification tags, with their policy parameters."""

from __future__ import annotations

import json

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks
from controls.catalog import Strength, load_catalog
from controls.checks.aws.residency import DATA_RESOURCE_KINDS
from controls.checks.aws.tags import DATA_STORE_TAG_KINDS
from ea_testkit.golden import FIXTURES

PASS, FAIL = VerdictStatus.PASS, VerdictStatus.FAIL
CHECKS = {c.id: c for c in registered_checks()}
OWNER, CLASSIFIED = "aws.tags.data_store.owner_tagged", "aws.tags.data_store.classified"
LABELLED = {"tags": {"data-classification": "confidential", "owner": "chat-platform-team", "team": "chat"}}
CUSTOM = Policy(owner_tag_keys=("Team", "Owner"), classification_tag_keys=("sensitivity",),
                classification_levels=("Public", "Private"))  # fmt: skip


def verdict(check_id: str, tags: dict[str, str], policy: Policy | None = None, kind: str | None = None) -> Verdict:
    spec = CHECKS[check_id]
    subject = Subject(kind or spec.reads[0], "arn:aws:s3:::chat-media-eu", "eu-west-1", {"tags": tags})
    return judge(spec, subject, policy or Policy())


ROWS = [
    (OWNER, LABELLED["tags"], None, PASS, "owner chat-platform-team (tag owner)"),
    (OWNER, {"Owner": " payments "}, None, PASS, "owner payments (tag Owner)"),
    (OWNER, {}, None, FAIL, "no owner: no tag owner with a value"),
    (OWNER, {"owner": "  "}, None, FAIL, "no owner"),
    (OWNER, {"owners": "x", "team": "chat"}, None, FAIL, "no owner"),
    (OWNER, {"team": "chat"}, CUSTOM, PASS, "owner chat (tag team)"),
    (OWNER, {"owner": "chat"}, CUSTOM, PASS, "owner chat (tag owner)"),
    (OWNER, {"cost-center": "42"}, CUSTOM, FAIL, "no tag Team or Owner with a value"),
    (CLASSIFIED, LABELLED["tags"], None, PASS, "classified confidential (tag data-classification)"),
    (CLASSIFIED, {"Classification": "Restricted"}, None, PASS, "classified restricted (tag Classification)"),
    (CLASSIFIED, {"classification": "internal", "data-classification": "INTERNAL"}, None, PASS, "classified internal"),
    (CLASSIFIED, {}, None, FAIL, "not classified: no tag data-classification or classification with a value"),
    (CLASSIFIED, {"data-classification": ""}, None, FAIL, "not classified"),
    (CLASSIFIED, {"data-classification": "secret-ish"}, None, FAIL,
     "classification 'secret-ish' (tag data-classification) is not a level of the scheme "
     "(public, internal, confidential, restricted)"),
    (CLASSIFIED, {"classification": "public", "data-classification": "confidential"}, None, FAIL,
     "conflicting classification tags: classification=public, data-classification=confidential"),
    (CLASSIFIED, {"sensitivity": "private"}, CUSTOM, PASS, "classified Private (tag sensitivity)"),
    (CLASSIFIED, LABELLED["tags"], CUSTOM, FAIL, "not classified: no tag sensitivity with a value"),
    (CLASSIFIED, {"sensitivity": "confidential"}, CUSTOM, FAIL, "is not a level of the scheme (Public, Private)"),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "tags", "policy", "status", "reason"), ROWS)
def test_check_table(check_id, tags, policy, status, reason):
    result = verdict(check_id, tags, policy)
    assert result.status == status and reason in result.reason, result


@pytest.mark.parametrize("kind", DATA_STORE_TAG_KINDS)
def test_both_checks_judge_every_data_store_kind_the_same_way(kind):
    for check_id in (OWNER, CLASSIFIED):
        assert kind in CHECKS[check_id].reads
        assert verdict(check_id, LABELLED["tags"], kind=kind).status == PASS
        assert verdict(check_id, {}, kind=kind).status == FAIL


def test_every_store_judged_for_residency_and_holding_data_at_rest_has_a_tags_kind():
    """The stores of information at rest among the residency kinds: each one's labels are judged."""
    at_rest = {k.rsplit(".", 1)[0] for k in DATA_RESOURCE_KINDS if k.split(".")[1] in ("s3", "ec2", "rds", "dynamodb")}
    assert at_rest == {k.rsplit(".", 1)[0] for k in DATA_STORE_TAG_KINDS}


@pytest.mark.parametrize("kind", DATA_STORE_TAG_KINDS)
def test_checks_judge_every_golden_observation(kind):
    """Every recorded answer (tagged, untagged, a redacted secret-looking tag) gets a one-line verdict."""
    cases = json.loads((FIXTURES / "aws" / f"{kind}.json").read_text(encoding="utf-8"))["cases"]
    statuses = set()
    for case in cases:
        observed = case["expected"]["observed"]
        assert list(observed) == ["tags"], kind
        for check_id in (OWNER, CLASSIFIED):
            result = judge(CHECKS[check_id], Subject(kind, "arn:aws:x", "eu-west-1", observed), Policy())
            assert result.reason and "\n" not in result.reason
            statuses.add(result.status)
    assert statuses == {PASS, FAIL}, kind


def test_links_are_primary_only_where_the_label_is_the_control():
    catalog = load_catalog()
    primary = {(fw, lk.check_id, lk.control_id) for fw, f in catalog.frameworks.items() for lk in f.links
               if lk.check_id in (OWNER, CLASSIFIED) and lk.strength == Strength.PRIMARY}  # fmt: skip
    assert primary == {
        ("iso27001-2022", OWNER, "5.9"),
        ("iso27001-2022", CLASSIFIED, "5.12"),
        ("iso27001-2022", CLASSIFIED, "5.13"),
        ("soc2-2017", CLASSIFIED, "C1.1"),
    }
