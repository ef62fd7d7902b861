"""EC2 Auto Scaling groups: capacity bounds, Availability Zones, health checks and scaling policies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

GROUP_TYPE = "AWS::AutoScaling::AutoScalingGroup"
# Change whenever the group scales or replaces an instance: kept out of observed (a new state on every
# scaling event) and out of raw (stale beside a state seen for months).
VOLATILE_FIELDS = ("DesiredCapacity", "Instances", "Status", "WarmPoolSize")


@evidence_kind(
    "aws.autoscaling.group.configuration",
    regional=True,
    permissions=("autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribePolicies"),
)
def collect_group_configuration(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Every Auto Scaling group of the region: min / max size, zones, health check type, scaling policies."""
    autoscaling = aws.client("autoscaling", scope)
    groups, groups_op = list_all(autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups")
    if not groups:  # nothing to attach policies to: one call is enough to know
        return
    # One listing of every policy of the region (not one call per group), matched to groups by name.
    policies, policies_op = list_all(autoscaling, "describe_policies", "ScalingPolicies")
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for policy in policies:
        by_group[policy["AutoScalingGroupName"]].append(to_jsonable(policy))
    provenance = source(aws, "autoscaling", [groups_op, policies_op])
    for group in groups:
        yield observe_group_configuration(
            to_jsonable(group), by_group.get(group["AutoScalingGroupName"], []), scope, provenance
        )


def observe_group_configuration(
    group: dict[str, Any], policies: list[dict[str, Any]], region: str, provenance: dict[str, Any]
) -> Evidence:
    """`group`: one DescribeAutoScalingGroups entry; `policies`: the DescribePolicies entries of the group."""
    attached = sorted(
        ({"name": p["PolicyName"], "type": p["PolicyType"], "enabled": bool(p.get("Enabled", True))} for p in policies),
        key=lambda p: p["name"],
    )
    enabled_types = {p["type"] for p in attached if p["enabled"]}
    return Evidence(
        kind="aws.autoscaling.group.configuration",
        resource_id=group["AutoScalingGroupARN"],
        resource_type=GROUP_TYPE,
        region=region,
        observed={
            "min_size": group["MinSize"],
            "max_size": group["MaxSize"],
            "availability_zones": sorted(group.get("AvailabilityZones", [])),
            "health_check_type": group.get("HealthCheckType"),
            "scaling_policies": attached,
            "target_tracking": "TargetTrackingScaling" in enabled_types,
            "step_scaling": "StepScaling" in enabled_types,
            "suspended_processes": sorted(p["ProcessName"] for p in group.get("SuspendedProcesses", [])),
        },
        source=provenance,
        raw=redact_tags(
            redact({"group": {k: v for k, v in group.items() if k not in VOLATILE_FIELDS}, "policies": policies})
        ),
    )
