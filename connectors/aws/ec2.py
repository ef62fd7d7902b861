"""EC2 settings: enabled regions, EBS encryption (by default, per volume), volume tags, security groups, flow logs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from connectors.aws.arns import ACCOUNT_TYPE, account_arn, account_setting_arn
from connectors.aws.clients import AwsClients, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags, tag_map
from connectors.base import GLOBAL, Evidence, evidence_kind, redact, to_jsonable

VOLUME_TYPE = "AWS::EC2::Volume"
SECURITY_GROUP_TYPE = "AWS::EC2::SecurityGroup"
VPC_TYPE = "AWS::EC2::VPC"


def ec2_arn(partition: str, region: str, account_id: str, resource: str) -> str:
    """EC2 resources such as volumes and VPCs come without an ARN: `arn:aws:ec2:REGION:ACCOUNT:vpc/vpc-1`."""
    return f"arn:{partition}:ec2:{region}:{account_id}:{resource}"


# --------------------------------------------------------------------------- regions

ENABLED_STATUSES = frozenset({"opt-in-not-required", "opted-in"})
NOT_ENABLED_STATUS = "not-opted-in"


@evidence_kind("aws.ec2.account.regions", regional=False, permissions=("ec2:DescribeRegions",))
def collect_regions(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The AWS regions enabled for the account, and the opt-in regions it has not enabled."""
    params = {"AllRegions": True}
    resp = aws.client("ec2").describe_regions(**params)  # not paginated: one answer lists every region
    provenance = source(aws, "ec2", [operation("DescribeRegions", params, resp)])
    yield observe_regions(aws.partition, aws.account_id, resp, provenance)


def observe_regions(partition: str, account_id: str, response: dict, provenance: dict) -> Evidence:
    regions = response["Regions"]
    return Evidence(
        kind="aws.ec2.account.regions",
        resource_id=account_arn(partition, account_id),
        resource_type=ACCOUNT_TYPE,
        region=GLOBAL,
        observed={
            "enabled_regions": sorted(r["RegionName"] for r in regions if r["OptInStatus"] in ENABLED_STATUSES),
            "opt_in_regions_not_enabled": sorted(
                r["RegionName"] for r in regions if r["OptInStatus"] == NOT_ENABLED_STATUS
            ),
        },
        source=provenance,
        raw=redact(to_jsonable(strip_metadata(response))),
    )


# --------------------------------------------------------------------------- EBS encryption by default


@evidence_kind(
    "aws.ec2.region.ebs_encryption_default",
    regional=True,
    permissions=("ec2:GetEbsEncryptionByDefault", "ec2:GetEbsDefaultKmsKeyId"),
)
def collect_ebs_encryption_default(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Whether new EBS volumes in the region are encrypted by default, and the default KMS key."""
    ec2 = aws.client("ec2", scope)
    by_default = ec2.get_ebs_encryption_by_default()
    kms_key = ec2.get_ebs_default_kms_key_id()
    operations = [
        operation("GetEbsEncryptionByDefault", {}, by_default),
        operation("GetEbsDefaultKmsKeyId", {}, kms_key),
    ]
    provenance = source(aws, "ec2", operations)
    yield observe_ebs_encryption_default(aws.partition, aws.account_id, scope, by_default, kms_key, provenance)


def observe_ebs_encryption_default(
    partition: str, account_id: str, region: str, by_default: dict, kms_key: dict, provenance: dict
) -> Evidence:
    return Evidence(
        kind="aws.ec2.region.ebs_encryption_default",
        resource_id=account_setting_arn(partition, "ec2", region, account_id),
        resource_type=ACCOUNT_TYPE,
        region=region,
        observed={
            "enabled": bool(by_default["EbsEncryptionByDefault"]),
            "default_kms_key_id": kms_key.get("KmsKeyId"),
        },
        source=provenance,
        raw=redact(
            to_jsonable(
                {"encryption_by_default": strip_metadata(by_default), "default_kms_key": strip_metadata(kms_key)}
            )
        ),
    )


# --------------------------------------------------------------------------- volumes


def list_volumes(aws: AwsClients, region: str) -> tuple[list[dict], dict[str, Any]]:
    """Every EBS volume of the region and the provenance of the listing; read once per run per region."""
    return aws.memo(f"ec2:volumes:{region}", lambda: list_all(aws.client("ec2", region), "describe_volumes", "Volumes"))


def _volumes(aws: AwsClients, region: str) -> Iterator[tuple[dict, dict]]:
    volumes, list_op = list_volumes(aws, region)
    provenance = source(aws, "ec2", [list_op])
    for volume in volumes:
        yield volume, provenance


def _volume_arn(partition: str, region: str, account_id: str, volume: dict) -> str:
    return ec2_arn(partition, region, account_id, f"volume/{volume['VolumeId']}")


def _volume_raw(volume: dict) -> dict[str, Any]:
    """The DescribeVolumes entry, with the values of secret-looking tags redacted."""
    return redact(redact_tags(to_jsonable(volume)))


@evidence_kind("aws.ec2.volume.encryption", regional=True, permissions=("ec2:DescribeVolumes",))
def collect_volume_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Encryption at rest of every EBS volume in the region, and the instances it is attached to."""
    for volume, provenance in _volumes(aws, scope):
        yield observe_volume_encryption(aws.partition, aws.account_id, scope, volume, provenance)


def observe_volume_encryption(partition: str, account_id: str, region: str, volume: dict, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.ec2.volume.encryption",
        resource_id=_volume_arn(partition, region, account_id, volume),
        resource_type=VOLUME_TYPE,
        region=region,
        observed={
            "encrypted": bool(volume["Encrypted"]),
            "kms_key_id": volume.get("KmsKeyId"),
            "attached_instances": sorted({a["InstanceId"] for a in volume.get("Attachments", [])}),
        },
        source=provenance,
        raw=_volume_raw(volume),
    )


@evidence_kind("aws.ec2.volume.tags", regional=True, permissions=("ec2:DescribeVolumes",))
def collect_volume_tags(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The tags (labels) of every EBS volume in the region, such as its owner and data classification."""
    for volume, provenance in _volumes(aws, scope):
        yield observe_volume_tags(aws.partition, aws.account_id, scope, volume, provenance)


def observe_volume_tags(partition: str, account_id: str, region: str, volume: dict, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.ec2.volume.tags",
        resource_id=_volume_arn(partition, region, account_id, volume),
        resource_type=VOLUME_TYPE,
        region=region,
        observed={"tags": tag_map(volume.get("Tags"))},  # an untagged volume's answer has no `Tags`
        source=provenance,
        raw=_volume_raw(volume),
    )


# --------------------------------------------------------------------------- security groups

WORLD_IPV4 = "0.0.0.0/0"
WORLD_IPV6 = "::/0"
PORT_PROTOCOLS = frozenset({"tcp", "udp", "6", "17"})
PROTOCOL_NAMES = {"-1": "all", "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}


def port_label(permission: dict) -> str:
    """One ingress permission as a fact: `22`, `1024-65535`, `all` (every protocol), `icmp`, `protocol-50`."""
    protocol = str(permission["IpProtocol"]).lower()
    if protocol in PORT_PROTOCOLS:
        low, high = permission["FromPort"], permission["ToPort"]
        return str(low) if low == high else f"{low}-{high}"
    return PROTOCOL_NAMES.get(protocol, f"protocol-{protocol}")


def _label_order(label: str) -> tuple[int, int, int, str]:
    """`all` first, then port ranges by number, then other protocols by name."""
    if label[0].isdigit():
        low, _, high = label.partition("-")
        return (1, int(low), int(high or low), label)
    return (0 if label == "all" else 2, 0, 0, label)


def open_to(permissions: Iterable[dict], ranges_key: str, cidr_key: str, world: str) -> list[str]:
    labels = {port_label(p) for p in permissions if any(r[cidr_key] == world for r in p.get(ranges_key, []))}
    return sorted(labels, key=_label_order)


@evidence_kind("aws.ec2.security_group.ingress", regional=True, permissions=("ec2:DescribeSecurityGroups",))
def collect_security_group_ingress(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Inbound rules of every security group in the region that are open to the whole internet."""
    groups, op = list_all(aws.client("ec2", scope), "describe_security_groups", "SecurityGroups")
    provenance = source(aws, "ec2", [op])
    for group in groups:
        yield observe_security_group_ingress(aws.partition, scope, group, provenance)


def observe_security_group_ingress(partition: str, region: str, group: dict, provenance: dict) -> Evidence:
    permissions = group.get("IpPermissions", [])
    arn = group.get("SecurityGroupArn") or ec2_arn(
        partition, region, group["OwnerId"], f"security-group/{group['GroupId']}"
    )
    return Evidence(
        kind="aws.ec2.security_group.ingress",
        resource_id=arn,
        resource_type=SECURITY_GROUP_TYPE,
        region=region,
        observed={
            "open_to_world_ipv4": open_to(permissions, "IpRanges", "CidrIp", WORLD_IPV4),
            "open_to_world_ipv6": open_to(permissions, "Ipv6Ranges", "CidrIpv6", WORLD_IPV6),
            "group_name": group["GroupName"],
            "vpc_id": group.get("VpcId"),
            "is_default": group["GroupName"] == "default",
        },
        source=provenance,
        raw=redact(redact_tags(to_jsonable(group))),
    )


# --------------------------------------------------------------------------- VPC flow logs


def list_vpcs(aws: AwsClients, region: str) -> tuple[list[dict], dict[str, Any]]:
    """Every VPC of the region and the provenance of the listing; read once per run per region, shared by the
    VPC kinds (flow logs, DNS Firewall)."""
    return aws.memo(f"ec2:vpcs:{region}", lambda: list_all(aws.client("ec2", region), "describe_vpcs", "Vpcs"))


@evidence_kind("aws.ec2.vpc.flow_logs", regional=True, permissions=("ec2:DescribeVpcs", "ec2:DescribeFlowLogs"))
def collect_vpc_flow_logs(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Whether each VPC in the region has an active flow log, which traffic it captures and where it goes."""
    vpcs, vpc_op = list_vpcs(aws, scope)
    flow_logs, flow_log_op = list_all(aws.client("ec2", scope), "describe_flow_logs", "FlowLogs")
    by_resource: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for flow_log in flow_logs:
        by_resource[flow_log["ResourceId"]].append(flow_log)
    provenance = source(aws, "ec2", [vpc_op, flow_log_op])
    for vpc in vpcs:
        yield observe_vpc_flow_logs(aws.partition, scope, vpc, by_resource.get(vpc["VpcId"], []), provenance)


def observe_vpc_flow_logs(partition: str, region: str, vpc: dict, flow_logs: list[dict], provenance: dict) -> Evidence:
    """`flow_logs`: the flow logs whose resource is this VPC (subnet and interface flow logs are not counted)."""
    active = [f for f in flow_logs if f["FlowLogStatus"] == "ACTIVE"]
    return Evidence(
        kind="aws.ec2.vpc.flow_logs",
        resource_id=ec2_arn(partition, region, vpc["OwnerId"], f"vpc/{vpc['VpcId']}"),
        resource_type=VPC_TYPE,
        region=region,
        observed={
            "flow_logs_active": bool(active),
            "traffic_types": sorted({f["TrafficType"] for f in active}),
            "destination_types": sorted({f["LogDestinationType"] for f in active}),
            "is_default": bool(vpc.get("IsDefault", False)),
        },
        source=provenance,
        raw=redact(redact_tags(to_jsonable({"vpc": vpc, "flow_logs": flow_logs}))),
    )
