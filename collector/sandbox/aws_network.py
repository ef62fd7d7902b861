"""Sandbox network estate: EBS encryption, volumes, security groups, VPC flow logs, load balancer listeners, EKS.

The EU side (eu-west-1) is done right: encryption by default with a customer key, an encrypted message
store volume, a VPC whose flow logs go to CloudWatch Logs, an HTTPS-only chat edge, a private EKS cluster
with encrypted secrets and audit logs. The US side (us-east-1) is legacy: no default encryption, an
unencrypted scratch volume, SSH and RDP open to the internet, a plain-HTTP load balancer, a public EKS
cluster without secrets encryption or logging. The message store volume names its owner and data
classification; the scratch volume only its name.
"""

from __future__ import annotations

import json
from typing import Any

from collector.sandbox.base import EU_OWNER_TAGS, client, tag_list

EU, US = "eu-west-1", "us-east-1"


def install_moto_shims() -> None:
    """moto 5.2 implements ModifyEbsDefaultKmsKeyId but not GetEbsDefaultKmsKeyId; answer it as AWS does
    (the configured key, or `alias/aws/ebs` when none was set). Only reaches a moto running in this process
    (the demo's and the tests' ThreadedMotoServer, `mock_aws`); inert once moto implements the call."""
    try:
        from moto.core.responses import ActionResult
        from moto.ec2.responses import EC2Response
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return
    if hasattr(EC2Response, "get_ebs_default_kms_key_id"):
        return

    def get_ebs_default_kms_key_id(self: Any) -> Any:
        return ActionResult({"KmsKeyId": self.ec2_backend.default_kms_key_id or "alias/aws/ebs"})

    EC2Response.get_ebs_default_kms_key_id = get_ebs_default_kms_key_id


def _role(endpoint: str, name: str, service: str) -> str:
    """A service role (EKS control plane, flow log delivery) that the service may assume."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return client("iam", endpoint, US).create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def _tags(resource: str, name: str, more: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": tag_list({"Name": name, **(more or {})})}]


def _default_network(ec2: Any) -> tuple[str, list[str]]:
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    return vpc, sorted(s["SubnetId"] for s in subnets)[:2]


def _world(protocol: str, port: int, ipv6: bool = False) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "IpProtocol": protocol,
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    if ipv6:
        rule["Ipv6Ranges"] = [{"CidrIpv6": "::/0"}]
    return rule


def seed_eu(endpoint: str, eks_role: str, flow_logs_role: str) -> None:
    ec2 = client("ec2", endpoint, EU)
    kms = client("kms", endpoint, EU)
    key = kms.create_key(Description="EBS volumes and EKS secrets", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key)
    ec2.enable_ebs_encryption_by_default()
    ec2.modify_ebs_default_kms_key_id(KmsKeyId=key)
    ec2.create_volume(
        AvailabilityZone=f"{EU}a",
        Size=200,
        VolumeType="gp3",
        Encrypted=True,
        KmsKeyId=key,
        TagSpecifications=_tags("volume", "message-store", EU_OWNER_TAGS),
    )

    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=_tags("vpc", "message-store"))["Vpc"]["VpcId"]
    logs = client("logs", endpoint, EU)
    logs.create_log_group(logGroupName="/acme/vpc-flow-logs", kmsKeyId=key)
    logs.put_retention_policy(logGroupName="/acme/vpc-flow-logs", retentionInDays=365)
    ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName="/acme/vpc-flow-logs",
        DeliverLogsPermissionArn=flow_logs_role,
    )

    default_vpc, subnets = _default_network(ec2)
    edge = ec2.create_security_group(GroupName="chat-edge", Description="chat edge load balancer", VpcId=default_vpc)
    ec2.authorize_security_group_ingress(
        GroupId=edge["GroupId"], IpPermissions=[_world("tcp", 443, ipv6=True), _world("tcp", 80, ipv6=True)]
    )
    cert = client("acm", endpoint, EU).request_certificate(DomainName="chat.acme.example")["CertificateArn"]
    elb = client("elbv2", endpoint, EU)
    created = elb.create_load_balancer(
        Name="chat-edge", Subnets=subnets, SecurityGroups=[edge["GroupId"]], Scheme="internet-facing"
    )
    lb = created["LoadBalancers"][0]["LoadBalancerArn"]
    api = elb.create_target_group(Name="chat-api", Protocol="HTTP", Port=8080, VpcId=default_vpc)
    elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": api["TargetGroups"][0]["TargetGroupArn"]}],
    )
    elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )

    client("eks", endpoint, EU).create_cluster(
        name="chat-prod",
        roleArn=eks_role,
        resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": False, "endpointPrivateAccess": True},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}],
        logging={
            "clusterLogging": [
                {"types": ["api", "audit", "authenticator"], "enabled": True},
                {"types": ["controllerManager", "scheduler"], "enabled": False},
            ]
        },
    )


def seed_us(endpoint: str, eks_role: str) -> None:
    ec2 = client("ec2", endpoint, US)
    ec2.create_volume(
        AvailabilityZone=f"{US}a", Size=500, VolumeType="gp2", TagSpecifications=_tags("volume", "legacy-media-scratch")
    )
    default_vpc, subnets = _default_network(ec2)
    admin = ec2.create_security_group(GroupName="legacy-admin", Description="admin access", VpcId=default_vpc)
    ec2.authorize_security_group_ingress(
        GroupId=admin["GroupId"], IpPermissions=[_world("tcp", 22), _world("tcp", 3389)]
    )
    elb = client("elbv2", endpoint, US)
    created = elb.create_load_balancer(Name="legacy-web", Subnets=subnets, Scheme="internet-facing", Type="application")
    lb = created["LoadBalancers"][0]["LoadBalancerArn"]
    web = elb.create_target_group(Name="legacy-web", Protocol="HTTP", Port=80, VpcId=default_vpc)
    elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": web["TargetGroups"][0]["TargetGroupArn"]}],
    )
    client("eks", endpoint, US).create_cluster(
        name="media-dev",
        roleArn=eks_role,
        resourcesVpcConfig={
            "subnetIds": subnets,
            "endpointPublicAccess": True,
            "endpointPrivateAccess": False,
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
    )


def seed(endpoint: str) -> None:
    """EU done right, US legacy; the default VPCs of both regions have no flow logs."""
    install_moto_shims()
    eks_role = _role(endpoint, "acme-eks-cluster", "eks.amazonaws.com")
    flow_logs_role = _role(endpoint, "acme-vpc-flow-logs", "vpc-flow-logs.amazonaws.com")
    seed_eu(endpoint, eks_role, flow_logs_role)
    seed_us(endpoint, eks_role)
