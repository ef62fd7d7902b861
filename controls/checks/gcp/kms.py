"""Cloud KMS crypto key checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

DAY = 86400
EXTERNAL = ("EXTERNAL", "EXTERNAL_VPC")


@check("gcp.kms.crypto_key.rotation_enabled", reads="gcp.kms.crypto_key.rotation")
def crypto_key_rotation_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every symmetric encryption key in use rotates automatically at least every max_key_rotation_days."""
    o = subject.observed
    if o["purpose"] != "ENCRYPT_DECRYPT":
        return Verdict.not_applicable(f"automatic rotation does not exist for {o['purpose']} keys")
    if o["protection_level"] in EXTERNAL:
        return Verdict.not_applicable(f"{o['protection_level']} key: rotated in the external key manager")
    if o["primary_state"] != "ENABLED":
        return Verdict.not_applicable(f"primary version {o['primary_state'] or 'absent'}: the key encrypts nothing new")
    period = o["rotation_period_seconds"]
    if period is None:
        return Verdict.failed("rotation off")
    days = period / DAY
    shown = f"{days:g} days"
    if days > policy.max_key_rotation_days:
        return Verdict.failed(f"rotation every {shown} (max {policy.max_key_rotation_days})")
    return Verdict.passed(f"rotation every {shown}")
