"""Every check, registered by import (explicit list, no folder walking)."""

from controls.checks import aws

__all__ = ["aws"]
