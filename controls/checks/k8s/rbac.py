"""Kubernetes RBAC checks: who holds cluster-admin, anonymous and all-authenticated grants, default service
accounts in bindings, and what custom cluster roles allow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controls.base import Policy, Subject, Verdict, check

BINDINGS = ("k8s.rbac.cluster_role_binding.subjects", "k8s.rbac.role_binding.subjects")
# The default binding that lets anyone read /version, /healthz, /livez and /readyz: no data, by design.
PUBLIC_INFO_VIEWER = "system:public-info-viewer"
EVERYONE_GROUPS = frozenset({"system:authenticated", "system:unauthenticated"})


def _names(subjects: list[Mapping[str, Any]], kinds: tuple[str, ...] | None = None) -> str:
    return ", ".join(
        f"{s['kind']} {s['namespace'] + '/' if s['namespace'] else ''}{s['name']}"
        for s in subjects
        if kinds is None or s["kind"] in kinds
    )


@check("k8s.rbac.binding.cluster_admin_restricted", reads=BINDINGS)
def cluster_admin_restricted(subject: Subject, policy: Policy) -> Verdict:
    """cluster-admin is never granted directly to a user, a service account or everyone; only to named groups."""
    o = subject.observed
    if not o["grants_cluster_admin"]:
        return Verdict.not_applicable(f"binds {o['role_kind']} {o['role_name']}, not cluster-admin")
    if o["rbac_default"]:
        return Verdict.passed(f"built-in cluster-admin binding to {_names(o['subjects'])}")
    direct = [s for s in o["subjects"] if s["kind"] in ("User", "ServiceAccount") or s["name"] in EVERYONE_GROUPS]
    if direct:
        return Verdict.failed(f"cluster-admin granted directly to {_names(direct)}")
    if not o["subjects"]:
        return Verdict.passed("cluster-admin binding without subjects grants nothing")
    return Verdict.passed(f"cluster-admin granted to group(s) only: {_names(o['subjects'])}")


@check("k8s.rbac.binding.anonymous_not_bound", reads=BINDINGS)
def anonymous_not_bound(subject: Subject, policy: Policy) -> Verdict:
    """No role is granted to system:anonymous or system:unauthenticated (beyond the built-in public-info viewer)."""
    o = subject.observed
    if not o["binds_anonymous"]:
        return Verdict.passed("no anonymous subject")
    if o["rbac_default"] and o["role_name"] == PUBLIC_INFO_VIEWER:
        return Verdict.passed("built-in public-info viewer only (/version, /healthz, /livez, /readyz)")
    anonymous = [s for s in o["subjects"] if s["name"] in ("system:anonymous", "system:unauthenticated")]
    return Verdict.failed(f"{o['role_kind']} {o['role_name']} granted to unauthenticated {_names(anonymous)}")


@check("k8s.rbac.binding.all_authenticated_not_bound", reads=BINDINGS)
def all_authenticated_not_bound(subject: Subject, policy: Policy) -> Verdict:
    """No custom role is granted to system:authenticated, i.e. every identity the cluster accepts."""
    o = subject.observed
    if not o["binds_all_authenticated"]:
        return Verdict.passed("not granted to every authenticated identity")
    if o["rbac_default"]:
        return Verdict.passed(f"built-in binding of {o['role_name']} to system:authenticated")
    return Verdict.failed(f"{o['role_kind']} {o['role_name']} granted to every authenticated identity")


@check("k8s.rbac.binding.default_service_account_not_bound", reads=BINDINGS)
def default_service_account_not_bound(subject: Subject, policy: Policy) -> Verdict:
    """No role is granted to a namespace's default service account, which every pod without its own account runs as."""
    o = subject.observed
    if not o["binds_default_service_account"]:
        return Verdict.passed("no default service account bound")
    defaults = [s for s in o["subjects"] if s["kind"] == "ServiceAccount" and s["name"] == "default"]
    return Verdict.failed(f"{o['role_kind']} {o['role_name']} granted to {_names(defaults)}")


# --------------------------------------------------------------------------- cluster roles


@check("k8s.rbac.cluster_role.wildcards_restricted", reads="k8s.rbac.cluster_role.rules")
def cluster_role_wildcards_restricted(subject: Subject, policy: Policy) -> Verdict:
    """A custom ClusterRole names its verbs and resources instead of granting `*`."""
    o = subject.observed
    if o["rbac_default"]:
        return Verdict.not_applicable("built-in role maintained by the API server (its use is judged on bindings)")
    found = [name for name, key in (("every API group, resource and verb", "full_access"), ("verb *", "wildcard_verbs"),
                                    ("resource *", "wildcard_resources")) if o[key]]  # fmt: skip
    if found:
        return Verdict.failed(f"rules grant {', '.join(found)}")
    return Verdict.passed("no wildcard verbs or resources")


@check("k8s.rbac.cluster_role.privilege_escalation_restricted", reads="k8s.rbac.cluster_role.rules")
def cluster_role_privilege_escalation_restricted(subject: Subject, policy: Policy) -> Verdict:
    """A custom ClusterRole does not allow escalate, bind or impersonate, which lift a holder beyond its own rights."""
    o = subject.observed
    if o["rbac_default"]:
        return Verdict.not_applicable("built-in role maintained by the API server (its use is judged on bindings)")
    verbs = [verb for verb in ("escalate", "bind", "impersonate") if o[f"can_{verb}"]]
    if verbs:
        return Verdict.failed(f"allows {', '.join(verbs)}")
    return Verdict.passed("no escalate, bind or impersonate")


@check("k8s.rbac.cluster_role.secrets_read_restricted", reads="k8s.rbac.cluster_role.rules")
def cluster_role_secrets_read_restricted(subject: Subject, policy: Policy) -> Verdict:
    """A custom ClusterRole does not allow get, list or watch on Secrets."""
    o = subject.observed
    if o["rbac_default"]:
        return Verdict.not_applicable("built-in role maintained by the API server (its use is judged on bindings)")
    if o["reads_secrets"]:
        return Verdict.failed("allows reading Secrets (get, list or watch)")
    return Verdict.passed("cannot read Secrets")
