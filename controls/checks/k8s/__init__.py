"""Kubernetes checks, one module per area; importing a module registers its checks."""

from controls.checks.k8s import admission, control_plane, core, networking, rbac, residency, workloads

MODULES = (admission, control_plane, core, networking, rbac, residency, workloads)
