"""Every check, registered by import (explicit list, no folder walking)."""

from controls.checks import aws, gcp, k8s

__all__ = ["aws", "gcp", "k8s"]
