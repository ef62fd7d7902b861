"""Every check, registered by import (explicit list, no folder walking)."""

from controls.checks import aws, k8s

__all__ = ["aws", "k8s"]
