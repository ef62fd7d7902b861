"""AWS Organizations checks: service control policies that keep requests inside the allowed regions."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check


@check("aws.organizations.policy.regions_in_allowed_regions", reads="aws.organizations.policy.region_restriction")
def scp_regions_in_allowed_regions(subject: Subject, policy: Policy) -> Verdict:
    """A service control policy that restricts regions allows only regions the residency policy allows."""
    o = subject.observed
    if not policy.allowed_regions:
        return Verdict.not_applicable("no allowed regions configured for this target")
    if not o["organization"]:
        return Verdict.not_applicable("account is in no organization: no service control policy applies")
    if not o["restricts_regions"]:
        return Verdict.not_applicable(f"{o['policy_name']} does not restrict regions")
    if not o["targets"]:
        return Verdict.not_applicable(f"{o['policy_name']} restricts regions but is attached to nothing")
    allowed = ", ".join(policy.allowed_regions)
    # An SCP value may itself be a pattern (eu-*): it passes when a policy pattern covers it as written.
    outside = [r for r in o["allowed_regions"] if not policy.region_allowed(r)]
    if outside:
        regions = ", ".join(outside)
        return Verdict.failed(f"{o['policy_name']} allows {regions}, outside the allowed regions ({allowed})")
    scope = f"; denies only {', '.join(o['restricted_actions'])} elsewhere" if o["restricted_actions"] else ""
    return Verdict.passed(f"{o['policy_name']} allows only {', '.join(o['allowed_regions'])} ({allowed}){scope}")
