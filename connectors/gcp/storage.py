"""Cloud Storage buckets: location, encryption, access control mode, versioning, retention, logging, public IAM."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.base import Evidence, evidence_kind, redact
from connectors.gcp.clients import GcpClients, operation, source
from connectors.gcp.resourcemanager import POLICY_OPTIONS, PUBLIC_MEMBERS

SERVICE = "storage.googleapis.com"
BUCKET_TYPE = "storage.googleapis.com/Bucket"


@dataclass(frozen=True)
class Bucket:
    resource: dict[str, Any]  # the bucket resource as the JSON API gives it (projection noAcl)
    list_operation: dict[str, Any]

    @property
    def name(self) -> str:
        return self.resource["name"]

    @property
    def resource_id(self) -> str:
        return f"//{SERVICE}/projects/_/buckets/{self.name}"

    @property
    def location(self) -> str:
        """`EUROPE-WEST3` -> `europe-west3`, the `EU` multi-region -> `eu`: as GCP names locations."""
        return self.resource["location"].lower()


def list_buckets(gcp: GcpClients, project_id: str) -> list[Bucket]:
    """Every bucket of the project, all pages; listed once per run and shared by the storage kinds."""

    def compute() -> list[Bucket]:
        client = gcp.storage(project_id)
        listing = client.list_buckets(project=project_id, page_size=gcp.page_size, **gcp.call_options())
        resources: list[dict[str, Any]] = []
        pages = 0
        for page in listing.pages:
            pages += 1
            resources.extend(dict(bucket._properties) for bucket in page)  # the JSON resource, as received
        op = operation("storage.buckets.list", {"project": project_id, "projection": "noAcl"}, pages)
        return [Bucket(resource=r, list_operation=op) for r in sorted(resources, key=lambda r: r["name"])]

    return gcp.memo(f"storage:buckets:{project_id}", compute)


@evidence_kind("gcp.storage.bucket.settings", regional=False, permissions=("storage.buckets.list",))
def collect_bucket_settings(gcp: GcpClients, project_id: str) -> Iterator[Evidence]:
    """Location, default CMEK key, uniform access, public access prevention, versioning, retention, logging."""
    for bucket in list_buckets(gcp, project_id):
        yield observe_bucket_settings(bucket.resource, source(gcp, SERVICE, f"projects/{project_id}",
                                                              [bucket.list_operation]))  # fmt: skip


def _iam_configuration(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("iamConfiguration") or {}


def public_access_prevention(resource: dict[str, Any]) -> str:
    """`enforced`, or `inherited` (the project's org policy decides); older buckets say `unspecified`."""
    return _iam_configuration(resource).get("publicAccessPrevention") or "inherited"


def observe_bucket_settings(resource: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    bucket = Bucket(resource, {})
    retention = resource.get("retentionPolicy") or {}
    period = retention.get("retentionPeriod")
    return Evidence(
        kind="gcp.storage.bucket.settings",
        resource_id=bucket.resource_id,
        resource_type=BUCKET_TYPE,
        region=bucket.location,
        observed={
            "location": bucket.location,
            "location_type": resource.get("locationType"),
            "default_kms_key_name": (resource.get("encryption") or {}).get("defaultKmsKeyName"),
            "uniform_bucket_level_access": bool(
                (_iam_configuration(resource).get("uniformBucketLevelAccess") or {}).get("enabled", False)
            ),
            "public_access_prevention": public_access_prevention(resource),
            "versioning_enabled": bool((resource.get("versioning") or {}).get("enabled", False)),
            "retention_period_seconds": int(period) if period is not None else None,
            "retention_locked": bool(retention.get("isLocked", False)),
            "logging_bucket": (resource.get("logging") or {}).get("logBucket"),
        },
        source=provenance,
        raw=redact({"bucket": resource}),
    )


@evidence_kind(
    "gcp.storage.bucket.iam_public",
    regional=False,
    permissions=("storage.buckets.list", "storage.buckets.getIamPolicy"),
)
def collect_bucket_iam_public(gcp: GcpClients, project_id: str) -> Iterator[Evidence]:
    """Roles the bucket's IAM policy grants to allUsers or allAuthenticatedUsers."""
    client = gcp.storage(project_id)

    def read(bucket: Bucket) -> Evidence:
        policy = client.bucket(bucket.name).get_iam_policy(
            requested_policy_version=POLICY_OPTIONS["requested_policy_version"], **gcp.call_options()
        )
        get_op = operation("storage.buckets.getIamPolicy", {"bucket": bucket.name,
                                                           "optionsRequestedPolicyVersion": 3})  # fmt: skip
        provenance = source(gcp, SERVICE, f"projects/{project_id}", [bucket.list_operation, get_op])
        return observe_bucket_iam_public(bucket.resource, policy.to_api_repr(), provenance)

    yield from gcp.fan_out(read, list_buckets(gcp, project_id))


def observe_bucket_iam_public(resource: dict[str, Any], policy: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    bucket = Bucket(resource, {})
    public = {(b["role"], m) for b in policy.get("bindings", []) for m in b.get("members", []) if m in PUBLIC_MEMBERS}
    return Evidence(
        kind="gcp.storage.bucket.iam_public",
        resource_id=bucket.resource_id,
        resource_type=BUCKET_TYPE,
        region=bucket.location,
        observed={
            "public_grants": [{"member": m, "role": r} for r, m in sorted(public, key=lambda rm: (rm[1], rm[0]))],
            "public_access_prevention": public_access_prevention(resource),
        },
        source=provenance,
        raw=redact(
            {"bucket": {"name": bucket.name, "iamConfiguration": _iam_configuration(resource)}, "policy": policy}
        ),
    )
