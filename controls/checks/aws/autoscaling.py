"""EC2 Auto Scaling group checks: capacity follows load, instances spread over zones."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

# Suspended, these stop scaling policies from changing the group's capacity (alarms no longer trigger
# policies; no instance is launched or terminated).
SCALING_PROCESSES = ("AlarmNotification", "Launch", "Terminate")


@check("aws.autoscaling.group.scaling_policy_attached", reads="aws.autoscaling.group.configuration")
def group_scaling_policy_attached(subject: Subject, policy: Policy) -> Verdict:
    """The group has an enabled scaling policy and room to scale (min size below max size)."""
    o = subject.observed
    if o["max_size"] == 0:
        return Verdict.not_applicable("group is scaled to zero (max size 0)")
    enabled = [p for p in o["scaling_policies"] if p["enabled"]]
    if not enabled:
        disabled = [p["name"] for p in o["scaling_policies"]]
        extra = f" ({len(disabled)} disabled: {', '.join(disabled)})" if disabled else ""
        return Verdict.failed(f"no enabled scaling policy{extra}: capacity does not follow load")
    if o["min_size"] == o["max_size"]:
        return Verdict.failed(f"fixed capacity (min = max = {o['min_size']}): scaling policies cannot change it")
    stopped = [p for p in SCALING_PROCESSES if p in o["suspended_processes"]]
    if stopped:
        return Verdict.failed(f"scaling processes suspended ({', '.join(stopped)}): policies cannot adjust capacity")
    kinds = ", ".join(sorted({p["type"] for p in enabled}))
    return Verdict.passed(f"{len(enabled)} scaling polic{'y' if len(enabled) == 1 else 'ies'} ({kinds}), "
                          f"capacity {o['min_size']}-{o['max_size']}")  # fmt: skip


@check("aws.autoscaling.group.multi_az", reads="aws.autoscaling.group.configuration")
def group_multi_az(subject: Subject, policy: Policy) -> Verdict:
    """The group spans two or more Availability Zones and always keeps at least two instances."""
    o = subject.observed
    if o["max_size"] == 0:
        return Verdict.not_applicable("group is scaled to zero (max size 0)")
    zones = o["availability_zones"]
    if len(zones) < 2:
        return Verdict.failed(f"every instance in one Availability Zone ({', '.join(zones) or 'none'})")
    if o["min_size"] < 2:
        return Verdict.failed(f"spans {len(zones)} Availability Zones but min size {o['min_size']}: "
                              "at times one instance in one zone")  # fmt: skip
    return Verdict.passed(f"spans {', '.join(zones)} with at least {o['min_size']} instances")
