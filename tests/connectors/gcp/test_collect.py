"""Every GCP kind through the real client libraries against the recorded-JSON fake: what is read, the
planted problems next to their clean counterparts, and the provenance kept with it."""

from __future__ import annotations

import json
import re

import pytest

from collector.sandbox.gcp import ORGANIZATION_ID, PROJECTS
from connectors import collect_unit
from connectors.base import REDACTED, Evidence, get_kind, registered_kinds
from connectors.gcp import GcpClients, units

RM = "//cloudresourcemanager.googleapis.com"
BUCKET = "//storage.googleapis.com/projects/_/buckets"
KEY = "//cloudkms.googleapis.com/projects"
CLUSTER = "//container.googleapis.com/projects"
BUCKETS = {
    "acme-analytics-us-exports": "us",
    "acme-analytics-us-staging": "us-central1",
    "acme-prod-access-logs": "eu",
    "acme-prod-backups": "europe-west1",
    "acme-prod-customer-data": "europe-west3",
    "acme-web-public-assets": "europe-west3",
    "acme-web-uploads": "eu",
}
EXPECTED = {
    "gcp.resourcemanager.project.inventory": {f"{RM}/projects/{p}" for p in PROJECTS},
    "gcp.resourcemanager.project.iam_policy": {f"{RM}/projects/{p}" for p in PROJECTS},
    "gcp.orgpolicy.project.constraints": {f"{RM}/projects/{p}" for p in PROJECTS},
    "gcp.resourcemanager.organization.iam_policy": {f"{RM}/organizations/{ORGANIZATION_ID}"},
    "gcp.resourcemanager.folder.iam_policy": {
        f"{RM}/folders/{n}" for n in ("284615927301", "519203847561", "660912345678")
    },
    "gcp.storage.bucket.settings": {f"{BUCKET}/{b}" for b in BUCKETS},
    "gcp.storage.bucket.iam_public": {f"{BUCKET}/{b}" for b in BUCKETS},
    "gcp.kms.crypto_key.rotation": {
        f"{KEY}/acme-prod/locations/europe-west3/keyRings/storage/cryptoKeys/customer-data",
        f"{KEY}/acme-prod/locations/europe-west3/keyRings/storage/cryptoKeys/legacy-exports",
        f"{KEY}/acme-prod/locations/europe-west3/keyRings/gke/cryptoKeys/etcd",
        f"{KEY}/acme-prod/locations/global/keyRings/signing/cryptoKeys/release-signing",
        f"{KEY}/acme-analytics-us/locations/us/keyRings/analytics/cryptoKeys/bq-exports",
    },
    "gcp.container.cluster.security": {
        f"{CLUSTER}/acme-prod/locations/europe-west3/clusters/prod-eu",
        f"{CLUSTER}/acme-web/locations/europe-west3-a/clusters/web-eu",
    },
}


def collect_kind(gcp: GcpClients, kind: str) -> list[Evidence]:
    """Every unit of the kind as the collector plans it, collected through `collect_unit`."""
    spec = get_kind(kind)
    found: list[Evidence] = []
    for plan in units(gcp, spec):
        assert plan.skip is None and plan.error is None, plan
        found.extend(collect_unit(spec, gcp, plan.argument))
    return found


def by_id(evidence: list[Evidence]) -> dict[str, Evidence]:
    found = {e.resource_id: e for e in evidence}
    assert len(found) == len(evidence), "a resource was read twice"
    return found


def test_every_gcp_kind_is_covered_here():
    assert set(EXPECTED) == {k.name for k in registered_kinds("gcp")}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_kind_reads_every_resource_through_the_client_library(gcp, fake, kind):
    found = by_id(collect_kind(gcp, kind))
    assert set(found) == EXPECTED[kind]
    for evidence in found.values():
        assert evidence.source["provider"] == "gcp" and evidence.source["endpoint"] == fake.endpoint
        assert evidence.source["operations"] and evidence.source["agent_version"]
        assert evidence.source["scope"].startswith(("projects/", "organizations/"))
    assert fake.requests and all(r["status"] == 200 for r in fake.requests)


def test_project_iam_policy_planted_public_binding_next_to_clean_project(gcp, fake):
    found = by_id(collect_kind(gcp, "gcp.resourcemanager.project.iam_policy"))
    web, prod = found[f"{RM}/projects/acme-web"].observed, found[f"{RM}/projects/acme-prod"].observed
    assert web["public_grants"] == [{"member": "allUsers", "role": "roles/storage.objectViewer"}]
    assert {"member": "user:contractor@gmail.com", "role": "roles/editor"} in web["primitive_role_grants"]
    assert web["member_domains"] == ["example.com", "gmail.com"] and web["audit_log_configs"] == {}
    assert prod["public_grants"] == [] and prod["member_domains"] == ["example.com"]
    assert prod["audit_log_configs"] == {"allServices": ["ADMIN_READ", "DATA_READ", "DATA_WRITE"]}
    # Policy version 3 is asked for, so conditional bindings come back (the fake refuses them otherwise).
    asked = [r["body"] for r in fake.requests if r["path"].endswith(":getIamPolicy")]
    assert asked and all(b == {"options": {"requestedPolicyVersion": 3}} for b in asked)
    assert "partner.example.net" in found[f"{RM}/projects/acme-analytics-us"].observed["member_domains"]


def test_bucket_planted_public_and_us_buckets_next_to_eu_ones(gcp):
    settings = by_id(collect_kind(gcp, "gcp.storage.bucket.settings"))
    assert {rid.rsplit("/", 1)[1]: e.region for rid, e in settings.items()} == BUCKETS
    assert settings[f"{BUCKET}/acme-analytics-us-exports"].observed["location_type"] == "multi-region"
    customer = settings[f"{BUCKET}/acme-prod-customer-data"].observed
    assert customer["default_kms_key_name"].endswith("/cryptoKeys/customer-data") and customer["versioning_enabled"]
    assert customer["logging_bucket"] == "acme-prod-access-logs" and customer["retention_period_seconds"] == 2592000
    iam = by_id(collect_kind(gcp, "gcp.storage.bucket.iam_public"))
    public = {
        rid.rsplit("/", 1)[1]: e.observed["public_grants"] for rid, e in iam.items() if e.observed["public_grants"]
    }
    assert public == {
        "acme-web-public-assets": [{"member": "allUsers", "role": "roles/storage.objectViewer"}],
        "acme-analytics-us-exports": [{"member": "allAuthenticatedUsers", "role": "roles/storage.objectViewer"}],
    }


def test_kms_key_without_rotation_next_to_one_rotating_every_90_days(gcp):
    found = by_id(collect_kind(gcp, "gcp.kms.crypto_key.rotation"))
    ring = f"{KEY}/acme-prod/locations/europe-west3/keyRings/storage/cryptoKeys"
    assert found[f"{ring}/customer-data"].observed["rotation_period_seconds"] == 90 * 86400
    assert found[f"{ring}/legacy-exports"].observed["rotation_period_seconds"] is None
    assert found[f"{ring}/legacy-exports"].region == "europe-west3"
    assert "next_rotation_time" in found[f"{ring}/customer-data"].raw["crypto_key"]


def test_org_policy_planted_us_locations_next_to_eu_ones(gcp):
    found = by_id(collect_kind(gcp, "gcp.orgpolicy.project.constraints"))
    allowed = {rid.rsplit("/", 1)[1]: e.observed["resource_locations"]["allowed_values"] for rid, e in found.items()}
    assert allowed == {
        "acme-analytics-us": ["in:us-locations"],
        "acme-prod": ["in:eu-locations"],
        "acme-shared": ["in:eu-locations"],
        "acme-web": ["in:europe-west3-locations"],
    }
    # Inherited from the Production folder / overridden by the project.
    assert found[f"{RM}/projects/acme-prod"].observed["require_os_login"] is True
    assert found[f"{RM}/projects/acme-web"].observed["public_access_prevention"] is False


def test_gke_cluster_without_database_encryption_next_to_an_encrypted_one(gcp):
    found = by_id(collect_kind(gcp, "gcp.container.cluster.security"))
    prod = found[f"{CLUSTER}/acme-prod/locations/europe-west3/clusters/prod-eu"]
    web = found[f"{CLUSTER}/acme-web/locations/europe-west3-a/clusters/web-eu"]
    assert prod.observed["database_encryption_state"] == "ENCRYPTED" and prod.observed["private_endpoint"]
    assert web.observed["database_encryption_state"] == "DECRYPTED" and web.observed["database_encryption_key"] is None
    assert web.region == "europe-west3-a"


def test_project_inventory_and_organization_facts(gcp):
    found = by_id(collect_kind(gcp, "gcp.resourcemanager.project.inventory"))
    shared = found[f"{RM}/projects/acme-shared"].observed
    assert shared["parent"] == f"organizations/{ORGANIZATION_ID}" and shared["state"] == "ACTIVE"
    (org,) = collect_kind(gcp, "gcp.resourcemanager.organization.iam_policy")
    assert org.observed["service_account_user_grants"] == [
        {"member": "user:ci-admin@example.com", "role": "roles/iam.serviceAccountTokenCreator"}
    ]


def test_shared_listings_are_read_once_per_run(gcp, fake):
    collect_kind(gcp, "gcp.storage.bucket.settings")
    collect_kind(gcp, "gcp.storage.bucket.iam_public")
    collect_kind(gcp, "gcp.resourcemanager.folder.iam_policy")
    lists = [(r["path"], r["query"].get("project") or r["query"].get("parent")) for r in fake.requests
             if r["path"] in ("/storage/v1/b", "/v3/folders")]  # fmt: skip
    assert len(lists) == len(set(lists)) == len(PROJECTS) + 4  # buckets per project; folders per parent


SECRET_PATHS = re.compile(
    r"/o(/|$)|cryptoKeyVersions|:(decrypt|encrypt|asymmetricDecrypt|asymmetricSign|macSign|rawDecrypt)"
    r"|publicKey|/keys(/|$)|secrets|serviceAccounts|hmacKeys|:setIamPolicy|:testIamPermissions"
)


def test_no_request_reads_secret_data_and_key_material_is_not_kept(gcp, fake):
    evidence = [e for kind in EXPECTED for e in collect_kind(gcp, kind)]
    assert fake.requests
    for request in fake.requests:
        assert request["method"] == "GET" or (request["method"] == "POST" and request["path"].endswith(":getIamPolicy"))
        assert not SECRET_PATHS.search(request["path"]), request["path"]
        assert "authorization" not in request["headers"]  # anonymous against the fake: no token leaves the agent
    client_key = next(
        c["masterAuth"]["clientKey"] for c in fake.container["clusters"] if "clientKey" in c["masterAuth"]
    )
    dumped = json.dumps([(e.observed, e.raw, e.source) for e in evidence])
    assert client_key not in dumped and REDACTED in dumped
