"""Organization policy constraints in effect on each project."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

KIND = "gcp.orgpolicy.project.constraints"


def location_of(value: str) -> str:
    """`in:eu-locations` -> `eu`, `in:europe-west3-locations` -> `europe-west3`, `europe-west3` as is."""
    return value.removeprefix("in:").removesuffix("-locations").lower()


@check("gcp.orgpolicy.project.resource_locations_in_allowed_regions", reads=KIND)
def resource_locations_in_allowed_regions(subject: Subject, policy: Policy) -> Verdict:
    """gcp.resourceLocations lets new resources be created only in locations the residency policy allows."""
    if not policy.allowed_regions:
        return Verdict.not_applicable("no allowed regions configured for this target")
    rule = subject.observed["resource_locations"]
    allowed = ", ".join(policy.allowed_regions)
    if rule["deny_all"]:
        return Verdict.passed("gcp.resourceLocations denies every location")
    if not rule["configured"] or rule["allow_all"] or not rule["allowed_values"]:
        return Verdict.failed("gcp.resourceLocations not restricted: resources may be created in any location")
    outside = [v for v in rule["allowed_values"] if not policy.region_allowed(location_of(v))]
    if outside:
        return Verdict.failed(f"gcp.resourceLocations allows {', '.join(outside)} (allowed regions: {allowed})")
    return Verdict.passed(f"gcp.resourceLocations allows only {', '.join(rule['allowed_values'])}")


@check("gcp.orgpolicy.project.member_domains_restricted", reads=KIND)
def member_domains_restricted(subject: Subject, policy: Policy) -> Verdict:
    """iam.allowedPolicyMemberDomains limits IAM members to the organization's own identity directories."""
    rule = subject.observed["allowed_policy_member_domains"]
    if rule["allow_all"] or not rule["configured"]:
        return Verdict.failed("iam.allowedPolicyMemberDomains not restricted: any domain may be granted access")
    if rule["deny_all"]:
        return Verdict.passed("iam.allowedPolicyMemberDomains denies every domain")
    return Verdict.passed(f"members limited to customer ids {', '.join(rule['allowed_values'])}")


def _enforced(subject: Subject, key: str, constraint: str, meaning: str) -> Verdict:
    if subject.observed[key]:
        return Verdict.passed(f"{constraint} enforced")
    return Verdict.failed(f"{constraint} not enforced: {meaning}")


@check("gcp.orgpolicy.project.service_account_key_creation_disabled", reads=KIND)
def service_account_key_creation_disabled(subject: Subject, policy: Policy) -> Verdict:
    """iam.disableServiceAccountKeyCreation is enforced: no long-lived service account keys can be made."""
    return _enforced(subject, "disable_service_account_key_creation", "iam.disableServiceAccountKeyCreation",
                     "long-lived service account keys can be created")  # fmt: skip


@check("gcp.orgpolicy.project.uniform_bucket_level_access_enforced", reads=KIND)
def uniform_bucket_level_access_enforced(subject: Subject, policy: Policy) -> Verdict:
    """storage.uniformBucketLevelAccess is enforced: new buckets cannot use object ACLs."""
    return _enforced(subject, "uniform_bucket_level_access", "storage.uniformBucketLevelAccess",
                     "buckets may use fine-grained object ACLs")  # fmt: skip


@check("gcp.orgpolicy.project.public_access_prevention_enforced", reads=KIND)
def public_access_prevention_enforced(subject: Subject, policy: Policy) -> Verdict:
    """storage.publicAccessPrevention is enforced: no bucket of the project can be made public."""
    return _enforced(subject, "public_access_prevention", "storage.publicAccessPrevention",
                     "buckets can be made public")  # fmt: skip


@check("gcp.orgpolicy.project.os_login_required", reads=KIND)
def os_login_required(subject: Subject, policy: Policy) -> Verdict:
    """compute.requireOsLogin is enforced: SSH to VMs goes through IAM-managed OS Login identities."""
    return _enforced(subject, "require_os_login", "compute.requireOsLogin",
                     "VMs may accept metadata-managed SSH keys")  # fmt: skip


@check("gcp.orgpolicy.project.sql_public_ip_restricted", reads=KIND)
def sql_public_ip_restricted(subject: Subject, policy: Policy) -> Verdict:
    """sql.restrictPublicIp is enforced: Cloud SQL instances cannot get a public IP address."""
    return _enforced(subject, "sql_restrict_public_ip", "sql.restrictPublicIp",
                     "Cloud SQL instances may have public IP addresses")  # fmt: skip
