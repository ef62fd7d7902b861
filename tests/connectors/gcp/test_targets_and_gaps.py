"""Planning units from a GCP target, paging, and "could not look" as typed gaps (never an empty result)."""

from __future__ import annotations

import json
import shutil
import socket

import google.auth
import google.auth.exceptions
import pytest
from google.api_core import exceptions as gexc

from collector.sandbox.gcp import DATA_DIR, ORGANIZATION_ID, PROJECTS, fake_gcp
from connectors import collect_unit
from connectors.base import CollectionError, GapReason, get_kind, registered_kinds
from connectors.gcp import GcpTarget, open_target, translate_error, units

ORG_KINDS = {"gcp.resourcemanager.organization.iam_policy", "gcp.resourcemanager.folder.iam_policy"}


def collect(gcp, kind: str, argument: str):
    return collect_unit(get_kind(kind), gcp, argument)


# --------------------------------------------------------------------------- planning


def test_organization_target_plans_every_active_project_and_the_organization_once(gcp, fake):
    for spec in registered_kinds("gcp"):
        plans = units(gcp, spec)
        if spec.name in ORG_KINDS:
            assert [(p.scope, p.argument) for p in plans] == [(f"organizations/{ORGANIZATION_ID}", ORGANIZATION_ID)]
        else:  # acme-legacy is DELETE_REQUESTED: not a unit
            assert [(p.scope, p.argument) for p in plans] == [(f"projects/{p}", p) for p in PROJECTS]
    # Nested folders were walked: the project under Data/Analytics was found.
    assert {r["query"]["parent"] for r in fake.requests if r["path"] == "/v3/projects"} >= {"folders/660912345678"}


def test_project_target_skips_organization_kinds_with_a_reason(fake):
    gcp = open_target(GcpTarget(name="two", projects=("acme-web", "acme-prod"), endpoint=fake.endpoint))
    (org_plan,) = units(gcp, get_kind("gcp.resourcemanager.organization.iam_policy"))
    assert org_plan.skip and "organization_id" in org_plan.skip
    plans = units(gcp, get_kind("gcp.storage.bucket.settings"))
    assert [p.scope for p in plans] == ["projects/acme-web", "projects/acme-prod"]
    assert fake.requests == []  # configured projects need no discovery call
    gcp.close()


def test_project_discovery_denied_is_a_planning_gap_not_no_projects(gcp, fake):
    fake.fail("/v3/projects", 403, "IAM_PERMISSION_DENIED")
    (plan,) = units(gcp, get_kind("gcp.storage.bucket.settings"))
    assert plan.error is not None and plan.error.reason == GapReason.DENIED
    assert plan.scope == "projects/*" and plan.error.operation == "GET /v3/projects"
    # Organization-level kinds are still planned.
    assert units(gcp, get_kind("gcp.resourcemanager.organization.iam_policy"))[0].error is None


def test_folder_listing_api_disabled_is_a_planning_gap(gcp, fake):
    fake.fail("/v3/folders", 403, "SERVICE_DISABLED")
    (plan,) = units(gcp, get_kind("gcp.kms.crypto_key.rotation"))
    assert plan.error is not None and plan.error.reason == GapReason.DISABLED
    assert "cloudresourcemanager.googleapis.com" in plan.error.message


def test_target_needs_something_to_read():
    with pytest.raises(ValueError, match="organization_id, projects"):
        GcpTarget(name="empty")
    assert GcpTarget(name="o", organization_id="organizations/42").organization_id == "42"


# --------------------------------------------------------------------------- paging


# Every kind that lists something (the organization's IAM policy is one call, no list).
LISTING_KINDS = sorted(
    k.name for k in registered_kinds("gcp") if k.name != "gcp.resourcemanager.organization.iam_policy"
)


@pytest.mark.parametrize("kind", LISTING_KINDS)
def test_lists_are_read_in_chunks_and_every_item_once(gcp, fake, kind):
    gcp.page_size = 1
    baseline_gcp = open_target(GcpTarget(name="whole", organization_id=ORGANIZATION_ID, endpoint=fake.endpoint))
    whole = sorted(e.resource_id for p in units(baseline_gcp, get_kind(kind))
                   for e in collect(baseline_gcp, kind, p.argument))  # fmt: skip
    baseline_gcp.close()
    fake.requests.clear()
    chunked = sorted(e.resource_id for p in units(gcp, get_kind(kind)) for e in collect(gcp, kind, p.argument))
    assert chunked == whole and len(set(chunked)) == len(chunked)
    paged = [r for r in fake.requests if not r["path"].endswith("/clusters")]  # ListClusters has no paging
    assert all(r["items"] <= 1 for r in paged), [(r["path"], r["items"]) for r in paged]
    assert any("pageToken" in r["query"] for r in fake.requests), "no list needed a second page"


def test_many_buckets_are_read_across_pages(tmp_path):
    data = tmp_path / "gcp"
    shutil.copytree(DATA_DIR, data)
    storage = json.loads((data / "storage.json").read_text())
    template = storage["buckets"][0]
    for n in range(23):
        name = f"acme-prod-bulk-{n:02d}"
        storage["buckets"].append({**template, "name": name, "id": name})
        storage["iam_policies"][name] = {"version": 1, "bindings": []}
    (data / "storage.json").write_text(json.dumps(storage))
    with fake_gcp(data, max_page_size=10) as fake:
        gcp = open_target(GcpTarget(name="bulk", projects=("acme-prod",), endpoint=fake.endpoint))
        gcp.page_size = 7
        found = [e.resource_id for e in collect(gcp, "gcp.storage.bucket.settings", "acme-prod")]
        gcp.close()
    assert len(found) == len(set(found)) == 26
    pages = [r for r in fake.requests if r["path"] == "/storage/v1/b"]
    assert [r["items"] for r in pages] == [7, 7, 7, 5] and all(r["query"]["maxResults"] == "7" for r in pages)


# --------------------------------------------------------------------------- gaps


def test_storage_api_disabled_is_a_gap_for_exactly_that_kind(gcp, fake):
    fake.fail("/storage/v1/b", 403, "SERVICE_DISABLED")
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.storage.bucket.settings", "acme-prod")
    assert info.value.reason == GapReason.DISABLED and info.value.operation == "GET /storage/v1/b"
    assert collect(gcp, "gcp.kms.crypto_key.rotation", "acme-prod")  # other kinds of the project still read


def test_project_iam_denied_is_a_gap_for_that_project_only(gcp, fake):
    fake.fail("/v3/projects/acme-web:getIamPolicy", 403, "IAM_PERMISSION_DENIED")
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.resourcemanager.project.iam_policy", "acme-web")
    assert info.value.reason == GapReason.DENIED and "acme-web" in info.value.operation
    assert collect(gcp, "gcp.resourcemanager.project.iam_policy", "acme-prod")


def test_kms_denied_in_one_location_fails_the_kind_not_gke(gcp, fake):
    fake.fail("/v1/projects/acme-prod/locations/europe-west3/keyRings", 403, "IAM_PERMISSION_DENIED")
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.kms.crypto_key.rotation", "acme-prod")
    assert info.value.reason == GapReason.DENIED
    assert len(collect(gcp, "gcp.container.cluster.security", "acme-prod")) == 1


def test_bucket_iam_denied_for_one_bucket_fails_the_unit(gcp, fake):
    fake.fail("/storage/v1/b/acme-prod-backups/iam", 403, "IAM_PERMISSION_DENIED")
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.storage.bucket.iam_public", "acme-prod")
    assert info.value.reason == GapReason.DENIED
    assert len(collect(gcp, "gcp.storage.bucket.settings", "acme-prod")) == 3


def test_org_policy_api_disabled_is_disabled(gcp, fake):
    fake.fail("/v2/projects/acme-shared/", 403, "SERVICE_DISABLED")
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.orgpolicy.project.constraints", "acme-shared")
    assert info.value.reason == GapReason.DISABLED and "orgpolicy.googleapis.com" in info.value.message


def test_throttling_is_retried_then_succeeds(gcp, fake):
    fake.fail("/v3/organizations/", 429, "RATE_LIMIT_EXCEEDED", times=2)
    (evidence,) = collect(gcp, "gcp.resourcemanager.organization.iam_policy", ORGANIZATION_ID)
    assert evidence.observed["member_domains"] == ["example.com"]
    assert [r["status"] for r in fake.requests] == [429, 429, 200]


def test_throttling_beyond_the_retry_budget_is_throttled(gcp, fake):
    fake.fail("/v3/organizations/", 429, "RATE_LIMIT_EXCEEDED")
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.resourcemanager.organization.iam_policy", ORGANIZATION_ID)
    assert info.value.reason == GapReason.THROTTLED
    assert len(fake.requests) > 2


def test_unreachable_endpoint_is_a_timeout():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: nothing listens there
    gcp = open_target(GcpTarget(name="gone", projects=("acme-prod",), endpoint=f"http://127.0.0.1:{port}"))
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.resourcemanager.project.inventory", "acme-prod")
    assert info.value.reason == GapReason.TIMEOUT
    gcp.close()


def test_gke_partial_answer_is_a_gap(tmp_path):
    data = tmp_path / "gcp"
    shutil.copytree(DATA_DIR, data)
    container = json.loads((data / "container.json").read_text())
    container["missing_zones"] = {"acme-prod": ["europe-west3-b"]}
    (data / "container.json").write_text(json.dumps(container))
    with fake_gcp(data) as fake:
        gcp = open_target(GcpTarget(name="partial", projects=("acme-prod",), endpoint=fake.endpoint))
        with pytest.raises(CollectionError) as info:
            collect(gcp, "gcp.container.cluster.security", "acme-prod")
        gcp.close()
    assert info.value.reason == GapReason.TIMEOUT and "europe-west3-b" in info.value.message


def test_without_endpoint_application_default_credentials_are_used(monkeypatch):
    def no_credentials(scopes=None, **_):
        assert scopes == ["https://www.googleapis.com/auth/cloud-platform.read-only"]
        raise google.auth.exceptions.DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    gcp = open_target(GcpTarget(name="adc", projects=("acme-prod",)))
    with pytest.raises(CollectionError) as info:
        collect(gcp, "gcp.resourcemanager.project.inventory", "acme-prod")
    assert info.value.reason == GapReason.DENIED and "credentials" in info.value.message
    gcp.close()


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (gexc.Forbidden("denied"), GapReason.DENIED),
        (gexc.PermissionDenied("denied"), GapReason.DENIED),
        (
            gexc.Forbidden("off", errors=[{"reason": "accessNotConfigured", "domain": "usageLimits"}]),
            GapReason.DISABLED,
        ),
        (gexc.Unauthorized("who"), GapReason.DENIED),
        (gexc.TooManyRequests("slow"), GapReason.THROTTLED),
        (gexc.ResourceExhausted("quota"), GapReason.THROTTLED),
        (gexc.DeadlineExceeded("late"), GapReason.TIMEOUT),
        (gexc.ServiceUnavailable("down"), GapReason.TIMEOUT),
        (gexc.RetryError("gave up", gexc.TooManyRequests("slow")), GapReason.THROTTLED),
        (gexc.RetryError("gave up", gexc.ServiceUnavailable("down")), GapReason.TIMEOUT),
        (gexc.NotFound("gone"), GapReason.ERROR),
        (gexc.InternalServerError("oops"), GapReason.ERROR),
        (google.auth.exceptions.TransportError("dns"), GapReason.TIMEOUT),
        (google.auth.exceptions.RefreshError("expired"), GapReason.DENIED),
    ],
)
def test_translate_error(exc, reason):
    error = translate_error(exc)
    assert error is not None and error.reason == reason


def test_non_gcp_errors_are_not_translated():
    assert translate_error(KeyError("x")) is None
