"""IAM policies of the organization, its folders and projects: public grants, basic roles, domains, impersonation."""

from __future__ import annotations

import re

from controls.base import Policy, Subject, Verdict, check

ORGANIZATION = "gcp.resourcemanager.organization.iam_policy"
IAM_POLICIES = (ORGANIZATION, "gcp.resourcemanager.folder.iam_policy", "gcp.resourcemanager.project.iam_policy")
# Service agents Google creates and manages (service-N@..., N@cloudservices..., ...@gcp-sa-*...).
_SERVICE_AGENT = re.compile(r"^serviceAccount:(service-(org-|folder-)?\d+@|\d+@cloudservices\.|[^@]+@gcp-sa-)")
AUDIT_LOG_TYPES = ("ADMIN_READ", "DATA_READ", "DATA_WRITE")


def _listed(grants: list[dict[str, str]], limit: int = 3) -> str:
    shown = ", ".join(f"{g['role']} to {g['member']}" for g in grants[:limit])
    return shown + (f" and {len(grants) - limit} more" if len(grants) > limit else "")


def google_managed(member: str) -> bool:
    return bool(_SERVICE_AGENT.match(member))


@check("gcp.resourcemanager.iam_policy.not_public", reads=IAM_POLICIES)
def iam_policy_not_public(subject: Subject, policy: Policy) -> Verdict:
    """No role is granted to allUsers or allAuthenticatedUsers on the organization, a folder or a project."""
    grants = subject.observed["public_grants"]
    if grants:
        return Verdict.failed(f"public grant: {_listed(grants)}")
    return Verdict.passed("no role granted to allUsers or allAuthenticatedUsers")


@check("gcp.resourcemanager.iam_policy.basic_roles_restricted", reads=IAM_POLICIES)
def basic_roles_restricted(subject: Subject, policy: Policy) -> Verdict:
    """Owner and Editor are held only by groups and Google-managed service agents, never by a user or workload."""
    grants = subject.observed["primitive_role_grants"]
    offending = [g for g in grants if not g["member"].startswith("group:") and not google_managed(g["member"])]
    if offending:
        return Verdict.failed(f"basic role held directly: {_listed(offending)}")
    if grants:
        return Verdict.passed(f"basic roles held only by groups or service agents ({len(grants)} grant(s))")
    return Verdict.passed("no roles/owner or roles/editor grant")


@check("gcp.resourcemanager.iam_policy.member_domains_allowed", reads=IAM_POLICIES)
def member_domains_allowed(subject: Subject, policy: Policy) -> Verdict:
    """Every user, group and domain member belongs to a domain the policy's allowed_member_domains lists."""
    if not policy.allowed_member_domains:
        return Verdict.not_applicable("no allowed member domains configured for this target")
    allowed = {d.lower() for d in policy.allowed_member_domains}
    domains = subject.observed["member_domains"]
    outside = [d for d in domains if d not in allowed]
    if outside:
        return Verdict.failed(f"members from {', '.join(outside)} (allowed: {', '.join(sorted(allowed))})")
    return Verdict.passed(f"members only from {', '.join(domains)}" if domains else "no user, group or domain member")


@check("gcp.resourcemanager.iam_policy.service_account_impersonation_restricted", reads=IAM_POLICIES)
def service_account_impersonation_restricted(subject: Subject, policy: Policy) -> Verdict:
    """Service Account User / Token Creator are not granted at organization, folder or project level."""
    grants = subject.observed["service_account_user_grants"]
    if grants:
        return Verdict.failed(f"can impersonate every service account below: {_listed(grants)}")
    return Verdict.passed("no Service Account User or Token Creator grant at this level")


@check("gcp.resourcemanager.organization.audit_logging_enabled", reads=ORGANIZATION)
def organization_audit_logging_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The organization enables Admin Read, Data Read and Data Write audit logs for all services."""
    enabled = subject.observed["audit_log_configs"].get("allServices", [])
    missing = [t for t in AUDIT_LOG_TYPES if t not in enabled]
    if missing:
        return Verdict.failed(f"allServices audit logs missing {', '.join(missing)}")
    return Verdict.passed("allServices: ADMIN_READ, DATA_READ, DATA_WRITE")
