"""Kubernetes workload checks: pod security settings and image references of each controller and bare pod."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

KIND = "k8s.apps.workload.security"
# What the Pod Security Standard "restricted" lets a container add back after dropping ALL.
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
CONFINED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})


@check("k8s.apps.workload.privileged_disabled", reads=KIND)
def privileged_disabled(subject: Subject, policy: Policy) -> Verdict:
    """No container of the workload runs privileged (with every capability and the node's devices)."""
    if subject.observed["privileged"]:
        return Verdict.failed("a container runs privileged")
    return Verdict.passed("no privileged container")


@check("k8s.apps.workload.host_namespaces_restricted", reads=KIND)
def host_namespaces_restricted(subject: Subject, policy: Policy) -> Verdict:
    """The workload's pods do not share the node's network, process or IPC namespace."""
    o = subject.observed
    shared = [name for name in ("network", "pid", "ipc") if o[f"host_{name}"]]
    if shared:
        return Verdict.failed(f"shares the node's {', '.join(shared)} namespace{'s' if len(shared) > 1 else ''}")
    return Verdict.passed("no host namespace shared")


@check("k8s.apps.workload.host_path_restricted", reads=KIND)
def host_path_restricted(subject: Subject, policy: Policy) -> Verdict:
    """The workload mounts no directory of the node (hostPath volumes)."""
    paths = subject.observed["host_path_volumes"]
    if paths:
        return Verdict.failed(f"mounts node paths {', '.join(paths)}")
    return Verdict.passed("no hostPath volume")


@check("k8s.apps.workload.privilege_escalation_disabled", reads=KIND)
def privilege_escalation_disabled(subject: Subject, policy: Policy) -> Verdict:
    """Every container sets allowPrivilegeEscalation: false (setuid binaries cannot gain privileges)."""
    if subject.observed["allow_privilege_escalation"]:
        return Verdict.failed("a container allows privilege escalation (allowPrivilegeEscalation not false)")
    return Verdict.passed("privilege escalation off in every container")


@check("k8s.apps.workload.non_root_enforced", reads=KIND)
def non_root_enforced(subject: Subject, policy: Policy) -> Verdict:
    """Every container must run as a non-root user (runAsNonRoot: true)."""
    if subject.observed["run_as_non_root"]:
        return Verdict.passed("runAsNonRoot in every container")
    return Verdict.failed("a container may run as root (runAsNonRoot not true)")


@check("k8s.apps.workload.root_filesystem_read_only", reads=KIND)
def root_filesystem_read_only(subject: Subject, policy: Policy) -> Verdict:
    """Every container's root filesystem is read-only."""
    if subject.observed["read_only_root_filesystem"]:
        return Verdict.passed("read-only root filesystem in every container")
    return Verdict.failed("a container has a writable root filesystem")


@check("k8s.apps.workload.capabilities_restricted", reads=KIND)
def capabilities_restricted(subject: Subject, policy: Policy) -> Verdict:
    """Every container drops ALL Linux capabilities and adds back at most NET_BIND_SERVICE."""
    o = subject.observed
    extra = [c for c in o["added_capabilities"] if c not in ALLOWED_ADDED_CAPABILITIES]
    problems = []
    if extra:
        problems.append(f"adds {', '.join(extra)}")
    if not o["drops_all_capabilities"]:
        problems.append("a container does not drop ALL")
    if problems:
        return Verdict.failed("; ".join(problems))
    added = o["added_capabilities"]
    return Verdict.passed(f"drops ALL, adds {', '.join(added)}" if added else "drops ALL")


@check("k8s.apps.workload.seccomp_enabled", reads=KIND)
def seccomp_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every container runs under a seccomp profile (RuntimeDefault or Localhost)."""
    profiles = subject.observed["seccomp_profiles"]
    weak = [p for p in profiles if p not in CONFINED_SECCOMP]
    if weak or not profiles:
        return Verdict.failed(f"seccomp {', '.join(weak) or 'Unset'} for some container")
    return Verdict.passed(f"seccomp {', '.join(profiles)}")


@check("k8s.apps.workload.image_tags_pinned", reads=KIND)
def image_tags_pinned(subject: Subject, policy: Policy) -> Verdict:
    """No image is referenced as `latest` or without a tag, so what runs does not change with the next push."""
    floating = subject.observed["images_latest_or_untagged"]
    if floating:
        return Verdict.failed(f"floating image reference {', '.join(floating)}")
    return Verdict.passed("every image has a version tag or digest")


@check("k8s.apps.workload.images_pinned_by_digest", reads=KIND)
def images_pinned_by_digest(subject: Subject, policy: Policy) -> Verdict:
    """Every image is referenced by digest (@sha256:...), so exactly the reviewed image runs."""
    unpinned = subject.observed["images_not_pinned"]
    if unpinned:
        return Verdict.failed(f"not pinned by digest: {', '.join(unpinned)}")
    return Verdict.passed("every image pinned by digest")
