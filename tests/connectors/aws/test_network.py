"""Network kinds (EC2, ELBv2, EKS): golden observe tests, collection through boto3 against moto, the sandbox seeder."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from collector.sandbox.aws_network import install_moto_shims, seed
from connectors import collect_unit
from connectors.aws import AwsClients, AwsTarget, ec2, eks, elbv2
from connectors.base import REDACTED, CollectionError, Evidence, GapReason, canonical_json, get_kind
from ea_testkit.golden import PROVENANCE, check_golden, golden_params, load_cases

EU, US = "eu-west-1", "us-east-1"
ACCOUNT = "123456789012"


# --------------------------------------------------------------------------- golden


def _eks_raw(section: str) -> Callable[[dict], dict]:
    keep = (*eks.CLUSTER_SUMMARY, section)
    return lambda c: {k: v for k, v in c["cluster"].items() if k in keep}


OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.ec2.account.regions": lambda c: ec2.observe_regions("aws", c["account_id"], c["response"], PROVENANCE),
    "aws.ec2.region.ebs_encryption_default": lambda c: ec2.observe_ebs_encryption_default(
        "aws", c["account_id"], c["region"], c["encryption_by_default"], c["default_kms_key"], PROVENANCE
    ),
    "aws.ec2.volume.encryption": lambda c: ec2.observe_volume_encryption(
        c.get("partition", "aws"), c["account_id"], c["region"], c["volume"], PROVENANCE
    ),
    "aws.ec2.volume.tags": lambda c: ec2.observe_volume_tags(
        "aws", c["account_id"], c["region"], c["volume"], PROVENANCE
    ),
    "aws.ec2.security_group.ingress": lambda c: ec2.observe_security_group_ingress(
        "aws", c["region"], c["security_group"], PROVENANCE
    ),
    "aws.ec2.vpc.flow_logs": lambda c: ec2.observe_vpc_flow_logs(
        "aws", c["region"], c["vpc"], c["flow_logs"], PROVENANCE
    ),
    "aws.elbv2.listener.tls": lambda c: elbv2.observe_listener_tls(
        c["region"], c["load_balancer"], c["listener"], PROVENANCE
    ),
    "aws.eks.cluster.endpoint_access": lambda c: eks.observe_endpoint_access(c["region"], c["cluster"], PROVENANCE),
    "aws.eks.cluster.secrets_encryption": lambda c: eks.observe_secrets_encryption(
        c["region"], c["cluster"], PROVENANCE
    ),
    "aws.eks.cluster.logging": lambda c: eks.observe_logging(c["region"], c["cluster"], PROVENANCE),
}


def _volume_as_observed(case: dict) -> dict:
    """The volume as raw must keep it: each tag's value as `observed` shows it (a secret-looking one redacted)."""
    volume, shown = case["volume"], case["expected"]["observed"]["tags"]
    if "Tags" not in volume:
        return volume
    return {**volume, "Tags": [{**t, "Value": shown[t["Key"]]} for t in volume["Tags"]]}


# The API answer each record must keep as `raw` (the only secrets in the fixture inputs are in tags).
RAW: dict[str, Callable[[dict], dict]] = {
    "aws.ec2.account.regions": lambda c: c["response"],
    "aws.ec2.region.ebs_encryption_default": lambda c: {
        "encryption_by_default": c["encryption_by_default"],
        "default_kms_key": c["default_kms_key"],
    },
    "aws.ec2.volume.encryption": lambda c: c["volume"],
    "aws.ec2.volume.tags": _volume_as_observed,
    "aws.ec2.security_group.ingress": lambda c: c["security_group"],
    "aws.ec2.vpc.flow_logs": lambda c: {"vpc": c["vpc"], "flow_logs": c["flow_logs"]},
    "aws.elbv2.listener.tls": lambda c: {"load_balancer": c["load_balancer"], "listener": c["listener"]},
    "aws.eks.cluster.endpoint_access": _eks_raw("resourcesVpcConfig"),
    "aws.eks.cluster.secrets_encryption": _eks_raw("encryptionConfig"),
    "aws.eks.cluster.logging": _eks_raw("logging"),
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    assert evidence.raw == RAW[kind](case)
    assert "fixture-only-not-a-secret" not in canonical_json({"observed": evidence.observed, "raw": evidence.raw})


def test_eks_raw_leaves_out_the_ca_bundle_and_request_token():
    case = load_cases("aws.eks.cluster.logging")[0]
    assert "certificateAuthority" in case["cluster"] and "clientRequestToken" in case["cluster"]
    raw = json.dumps(eks.observe_logging(EU, case["cluster"], PROVENANCE).raw)
    assert "certificateAuthority" not in raw and "clientRequestToken" not in raw and "endpoint" not in raw


@pytest.mark.parametrize(
    ("permission", "label"),
    [
        ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}, "22"),
        ({"IpProtocol": "6", "FromPort": 1024, "ToPort": 65535}, "1024-65535"),
        ({"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535}, "0-65535"),
        ({"IpProtocol": "-1"}, "all"),
        ({"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1}, "icmp"),
        ({"IpProtocol": "58", "FromPort": -1, "ToPort": -1}, "icmpv6"),
        ({"IpProtocol": "47"}, "protocol-47"),
    ],
)
def test_port_label(permission, label):
    assert ec2.port_label(permission) == label


def test_open_ports_sort_numerically_with_all_first():
    rules = [
        {"IpProtocol": p, "FromPort": lo, "ToPort": hi, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        for p, lo, hi in [("tcp", 8443, 8443), ("icmp", -1, -1), ("tcp", 443, 443), ("-1", None, None),
                          ("tcp", 80, 80), ("udp", 443, 443), ("tcp", 1000, 2000)]
    ]  # fmt: skip
    assert ec2.open_to(rules, "IpRanges", "CidrIp", "0.0.0.0/0") == ["all", "80", "443", "1000-2000", "8443", "icmp"]


# --------------------------------------------------------------------------- collection against moto


@pytest.fixture
def aws():
    install_moto_shims()  # moto 5.2 lacks GetEbsDefaultKmsKeyId (see collector/sandbox/aws_network.py)
    with mock_aws():
        yield AwsClients(AwsTarget(name="prod", regions=(EU,)))


def collect(aws: AwsClients, kind: str, scope: str) -> dict[str, Evidence]:
    found = collect_unit(get_kind(kind), aws, scope)
    by_id = {e.resource_id: e for e in found}
    assert len(by_id) == len(found), "each resource is read exactly once"
    return by_id


def operations(evidence: Evidence) -> list[str]:
    return [op["operation"] for op in evidence.source["operations"]]


def test_regions_one_record_for_the_account(aws):
    (evidence,) = collect(aws, "aws.ec2.account.regions", "global").values()
    assert evidence.resource_id == f"arn:aws:iam::{ACCOUNT}:root" and evidence.region == "global"
    assert EU in evidence.observed["enabled_regions"] and US in evidence.observed["enabled_regions"]
    assert "me-south-1" in evidence.observed["opt_in_regions_not_enabled"]
    assert evidence.source["operations"][0]["params"] == {"AllRegions": True}
    statuses = {r["RegionName"]: r["OptInStatus"] for r in evidence.raw["Regions"]}
    assert statuses["me-south-1"] == "not-opted-in", "the per-region opt-in status stays in raw"


def test_ebs_encryption_default_per_region(aws):
    key = boto3.client("kms", region_name=EU).create_key()["KeyMetadata"]["Arn"]
    client = boto3.client("ec2", region_name=EU)
    client.enable_ebs_encryption_by_default()
    client.modify_ebs_default_kms_key_id(KmsKeyId=key)
    (eu,) = collect(aws, "aws.ec2.region.ebs_encryption_default", EU).values()
    (us,) = collect(aws, "aws.ec2.region.ebs_encryption_default", US).values()
    assert eu.resource_id == f"arn:aws:ec2:{EU}:{ACCOUNT}:account" and eu.region == EU
    assert eu.observed == {"enabled": True, "default_kms_key_id": key}
    assert us.resource_id == f"arn:aws:ec2:{US}:{ACCOUNT}:account" and us.region == US
    assert us.observed == {"enabled": False, "default_kms_key_id": "alias/aws/ebs"}
    assert operations(eu) == ["GetEbsEncryptionByDefault", "GetEbsDefaultKmsKeyId"]
    assert all(op["request_id"] for op in eu.source["operations"])


def test_volume_encryption_with_attachments(aws):
    key = boto3.client("kms", region_name=EU).create_key()["KeyMetadata"]["Arn"]
    client = boto3.client("ec2", region_name=EU)
    store = client.create_volume(AvailabilityZone=f"{EU}a", Size=100, Encrypted=True, KmsKeyId=key)["VolumeId"]
    scratch = client.create_volume(AvailabilityZone=f"{EU}a", Size=10)["VolumeId"]
    image = client.describe_images()["Images"][0]["ImageId"]
    instance = client.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    client.attach_volume(VolumeId=store, InstanceId=instance, Device="/dev/sdf")
    boto3.client("ec2", region_name=US).create_volume(AvailabilityZone=f"{US}a", Size=10)

    found = collect(aws, "aws.ec2.volume.encryption", EU)
    arn = f"arn:aws:ec2:{EU}:{ACCOUNT}:volume/"
    assert found[arn + store].observed == {"encrypted": True, "kms_key_id": key, "attached_instances": [instance]}
    assert found[arn + scratch].observed == {"encrypted": False, "kms_key_id": None, "attached_instances": []}
    assert len(found) == 3, "the two volumes and the instance's root volume; none from us-east-1"
    assert {e.region for e in found.values()} == {EU}
    assert operations(found[arn + store]) == ["DescribeVolumes"]


PLANTED_TAG = "planted-tag-value-91ac3e"  # a restore token someone put in a tag


def test_volume_kinds_share_one_describe_volumes_per_region(aws):
    client = boto3.client("ec2", region_name=EU)
    owned = [{"Key": "owner", "Value": "chat-platform-team"}, {"Key": "data-classification", "Value": "confidential"},
             {"Key": "restore-token", "Value": PLANTED_TAG}]  # fmt: skip
    store = client.create_volume(AvailabilityZone=f"{EU}a", Size=100,
                                 TagSpecifications=[{"ResourceType": "volume", "Tags": owned}])["VolumeId"]  # fmt: skip
    bare = client.create_volume(AvailabilityZone=f"{EU}a", Size=10)["VolumeId"]
    us = boto3.client("ec2", region_name=US).create_volume(
        AvailabilityZone=f"{US}a", Size=10, TagSpecifications=[{"ResourceType": "volume", "Tags": owned[:1]}]
    )["VolumeId"]
    calls = {region: [] for region in (EU, US)}
    for region, seen in calls.items():
        aws.client("ec2", region).meta.events.register(
            "before-call.ec2.DescribeVolumes", lambda model, seen=seen, **_: seen.append(model.name)
        )

    encryption = {region: collect(aws, "aws.ec2.volume.encryption", region) for region in (EU, US)}
    tags = {region: collect(aws, "aws.ec2.volume.tags", region) for region in (EU, US)}

    assert calls == {EU: ["DescribeVolumes"], US: ["DescribeVolumes"]}, "one listing per region, shared by both kinds"
    arn = f"arn:aws:ec2:{EU}:{ACCOUNT}:volume/"
    assert set(tags[EU]) == set(encryption[EU]) == {arn + store, arn + bare}
    assert tags[EU][arn + store].observed == {
        "tags": {"data-classification": "confidential", "owner": "chat-platform-team", "restore-token": REDACTED}
    }
    assert tags[EU][arn + bare].observed == {"tags": {}}
    (us_volume,) = tags[US].values()
    assert us_volume.resource_id == f"arn:aws:ec2:{US}:{ACCOUNT}:volume/{us}" and us_volume.region == US
    assert us_volume.observed == {"tags": {"owner": "chat-platform-team"}}
    evidence = tags[EU][arn + store]
    assert (evidence.resource_type, evidence.region) == ("AWS::EC2::Volume", EU)
    assert operations(evidence) == ["DescribeVolumes"]
    for found in (tags[EU][arn + store], encryption[EU][arn + store]):
        assert {"Key": "restore-token", "Value": REDACTED} in found.raw["Tags"], found.kind
        assert PLANTED_TAG not in canonical_json({"observed": found.observed, "raw": found.raw}), found.kind


def test_secret_looking_tags_of_security_groups_and_vpcs_stay_out_of_raw(aws):
    client = boto3.client("ec2", region_name=EU)
    secret = [{"Key": "vpn-psk-password", "Value": PLANTED_TAG}, {"Key": "owner", "Value": "network-team"}]
    vpc = client.create_vpc(CidrBlock="10.30.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": secret}])
    group = client.create_security_group(
        GroupName="vpn", Description="vpn", VpcId=vpc["Vpc"]["VpcId"],
        TagSpecifications=[{"ResourceType": "security-group", "Tags": secret}],
    )["GroupId"]  # fmt: skip
    groups = collect(aws, "aws.ec2.security_group.ingress", EU)
    vpcs = collect(aws, "aws.ec2.vpc.flow_logs", EU)
    tagged = [groups[f"arn:aws:ec2:{EU}:{ACCOUNT}:security-group/{group}"],
              vpcs[f"arn:aws:ec2:{EU}:{ACCOUNT}:vpc/{vpc['Vpc']['VpcId']}"]]  # fmt: skip
    assert {"Key": "vpn-psk-password", "Value": REDACTED} in tagged[0].raw["Tags"]
    assert {"Key": "owner", "Value": "network-team"} in tagged[1].raw["vpc"]["Tags"]
    assert not any(PLANTED_TAG in canonical_json(e.raw) for e in (*groups.values(), *vpcs.values()))


def test_security_group_ingress_open_to_the_world(aws):
    client = boto3.client("ec2", region_name=EU)
    vpc = client.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = client.create_security_group(GroupName="legacy-admin", Description="admin", VpcId=vpc)["GroupId"]
    client.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        ],
    )
    found = collect(aws, "aws.ec2.security_group.ingress", EU)
    evidence = found[f"arn:aws:ec2:{EU}:{ACCOUNT}:security-group/{group}"]
    assert evidence.observed == {
        "open_to_world_ipv4": ["3389"],
        "open_to_world_ipv6": ["all"],
        "group_name": "legacy-admin",
        "vpc_id": vpc,
        "is_default": False,
    }
    defaults = [e for e in found.values() if e.observed["is_default"]]
    assert defaults and all(e.observed["open_to_world_ipv4"] == [] for e in defaults)
    assert operations(evidence) == ["DescribeSecurityGroups"]


def test_vpc_flow_logs_counts_only_the_vpcs_own_flow_logs(aws):
    client = boto3.client("ec2", region_name=EU)
    default_vpc = client.describe_vpcs()["Vpcs"][0]["VpcId"]
    vpc = client.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = client.create_subnet(VpcId=default_vpc, CidrBlock="172.31.128.0/24")["Subnet"]["SubnetId"]
    role = f"arn:aws:iam::{ACCOUNT}:role/flow-logs"
    boto3.client("logs", region_name=EU).create_log_group(logGroupName="/vpc/flow")
    client.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="REJECT",
                            LogGroupName="/vpc/flow", DeliverLogsPermissionArn=role)  # fmt: skip
    client.create_flow_logs(ResourceIds=[subnet], ResourceType="Subnet", TrafficType="ALL",
                            LogGroupName="/vpc/flow", DeliverLogsPermissionArn=role)  # fmt: skip

    found = collect(aws, "aws.ec2.vpc.flow_logs", EU)
    arn = f"arn:aws:ec2:{EU}:{ACCOUNT}:vpc/"
    assert found[arn + vpc].observed == {
        "flow_logs_active": True,
        "traffic_types": ["REJECT"],
        "destination_types": ["cloud-watch-logs"],
        "is_default": False,
    }
    assert found[arn + default_vpc].observed == {
        "flow_logs_active": False,
        "traffic_types": [],
        "destination_types": [],
        "is_default": True,
    }, "a subnet's flow log is not the VPC's"
    assert operations(found[arn + vpc]) == ["DescribeVpcs", "DescribeFlowLogs"]
    assert [f["ResourceId"] for f in found[arn + vpc].raw["flow_logs"]] == [vpc]


def _load_balancer(name: str, scheme: str = "internet-facing", region: str = EU) -> tuple[object, str, str]:
    client = boto3.client("ec2", region_name=region)
    vpc = client.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    elb = boto3.client("elbv2", region_name=region)
    lb = elb.create_load_balancer(Name=name, Subnets=subnets[:2], Scheme=scheme)["LoadBalancers"][0]
    group = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][0]
    return elb, lb["LoadBalancerArn"], group["TargetGroupArn"]


def test_listener_tls_per_listener_with_its_load_balancer(aws):
    elb, lb, group = _load_balancer("chat-edge")
    cert = boto3.client("acm", region_name=EU).request_certificate(DomainName="chat.example.com")["CertificateArn"]
    https = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTPS", Port=443, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": cert}], DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )["Listeners"][0]["ListenerArn"]  # fmt: skip
    http = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443",
                                                                "StatusCode": "HTTP_301"}}],
    )["Listeners"][0]["ListenerArn"]  # fmt: skip
    _load_balancer("no-listeners", scheme="internal")

    found = collect(aws, "aws.elbv2.listener.tls", EU)
    assert set(found) == {https, http}, "a load balancer without listeners gives no record"
    assert found[https].observed == {
        "protocol": "HTTPS",
        "port": 443,
        "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificate_arns": [cert],
        "redirects_to_https": False,
        "scheme": "internet-facing",
    }
    assert found[http].observed["redirects_to_https"] is True and found[http].observed["ssl_policy"] is None
    assert found[http].region == EU
    ops = found[https].source["operations"]
    assert [op["operation"] for op in ops] == ["DescribeLoadBalancers", "DescribeListeners"]
    assert ops[1]["params"] == {"LoadBalancerArn": lb}


def page_size(client, operation: str, param: str, size: int) -> list[dict]:
    """Make moto answer `operation` in pages of `size` items; returns the parameters of every call made."""
    calls: list[dict] = []

    def shrink(params: dict, **_) -> None:
        params[param] = size
        calls.append(dict(params))

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-parameter-build.{service}.{operation}", shrink)
    return calls


def test_listener_tls_reads_every_page_of_load_balancers(aws):
    names = [f"edge-{i}" for i in range(5)]
    for name in names:
        elb, lb, group = _load_balancer(name)
        elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])  # fmt: skip
    calls = page_size(aws.client("elbv2", EU), "DescribeLoadBalancers", "PageSize", 2)

    found = collect(aws, "aws.elbv2.listener.tls", EU)
    assert len(calls) == 3 and [bool(c.get("Marker")) for c in calls] == [False, True, True]
    assert sorted(e.raw["load_balancer"]["LoadBalancerName"] for e in found.values()) == names
    assert all(len(e.source["operations"][0]["request_ids"]) == 3 for e in found.values())


def _cluster(name: str, region: str = EU, **settings) -> None:
    client = boto3.client("ec2", region_name=region)
    subnets = [s["SubnetId"] for s in client.describe_subnets()["Subnets"]][:2]
    boto3.client("eks", region_name=region).create_cluster(
        name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks", resourcesVpcConfig={"subnetIds": subnets, **settings}
    )


def test_eks_kinds_read_each_cluster_once(aws):
    key = boto3.client("kms", region_name=EU).create_key()["KeyMetadata"]["Arn"]
    boto3.client("eks", region_name=EU).create_cluster(
        name="chat-prod",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
        resourcesVpcConfig={"subnetIds": [], "endpointPublicAccess": True, "endpointPrivateAccess": True,
                            "publicAccessCidrs": ["203.0.113.0/24"]},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}],
        logging={"clusterLogging": [{"types": ["audit", "api"], "enabled": True}]},
    )  # fmt: skip
    _cluster("media-dev")
    calls: list[str] = []
    aws.client("eks", EU).meta.events.register("before-call.eks.*", lambda model, **_: calls.append(model.name))

    access = collect(aws, "aws.eks.cluster.endpoint_access", EU)
    secrets = collect(aws, "aws.eks.cluster.secrets_encryption", EU)
    logging = collect(aws, "aws.eks.cluster.logging", EU)
    assert calls.count("ListClusters") == 1 and calls.count("DescribeCluster") == 2

    prod, dev = f"arn:aws:eks:{EU}:{ACCOUNT}:cluster/chat-prod", f"arn:aws:eks:{EU}:{ACCOUNT}:cluster/media-dev"
    assert set(access) == set(secrets) == set(logging) == {prod, dev}
    assert access[prod].observed == {
        "endpoint_public_access": True,
        "endpoint_private_access": True,
        "public_access_cidrs": ["203.0.113.0/24"],
    }
    assert secrets[prod].observed == {"secrets_encrypted": True, "kms_key_arn": key}
    assert secrets[dev].observed == {"secrets_encrypted": False, "kms_key_arn": None}
    assert logging[prod].observed == {"enabled_log_types": ["api", "audit"]}
    assert logging[dev].observed == {"enabled_log_types": []}
    assert operations(logging[dev]) == ["ListClusters", "DescribeCluster"]
    assert logging[dev].source["operations"][1]["params"] == {"name": "media-dev"}
    assert access[prod].region == EU and access[prod].resource_type == "AWS::EKS::Cluster"


def test_eks_reads_every_page_of_clusters(aws):
    names = [f"team-{i}" for i in range(5)]
    for name in names:
        _cluster(name)
    calls = page_size(aws.client("eks", EU), "ListClusters", "maxResults", 2)
    found = collect(aws, "aws.eks.cluster.logging", EU)
    assert len(calls) == 3
    assert sorted(found) == [f"arn:aws:eks:{EU}:{ACCOUNT}:cluster/{n}" for n in names]


def test_denied_describe_is_a_gap_not_an_empty_result(aws):
    _cluster("chat-prod")

    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeCluster")

    aws.client("eks", EU).meta.events.register("before-call.eks.DescribeCluster", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.eks.cluster.secrets_encryption"), aws, EU)
    assert info.value.reason == GapReason.DENIED and info.value.operation == "DescribeCluster"


# --------------------------------------------------------------------------- sandbox seeder


NETWORK_KINDS = (
    "aws.ec2.account.regions",
    "aws.ec2.region.ebs_encryption_default",
    "aws.ec2.volume.encryption",
    "aws.ec2.volume.tags",
    "aws.ec2.security_group.ingress",
    "aws.ec2.vpc.flow_logs",
    "aws.elbv2.listener.tls",
    "aws.eks.cluster.endpoint_access",
    "aws.eks.cluster.secrets_encryption",
    "aws.eks.cluster.logging",
)


def test_sandbox_seed_gives_compliant_and_non_compliant_examples(moto_endpoint):
    seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=(EU, US), endpoint_url=moto_endpoint))
    got: dict[str, list[Evidence]] = {}
    for kind in NETWORK_KINDS:
        spec = get_kind(kind)
        for scope in aws.target.regions if spec.regional else ["global"]:
            got.setdefault(kind, []).extend(collect_unit(spec, aws, scope))
    aws.close()

    def observed(kind: str, region: str, **match) -> list[dict]:
        return [e.observed for e in got[kind] if e.region == region and match.items() <= e.observed.items()]

    assert len(got["aws.ec2.account.regions"]) == 1
    assert observed("aws.ec2.region.ebs_encryption_default", EU)[0]["enabled"] is True
    assert observed("aws.ec2.region.ebs_encryption_default", US) == [
        {"enabled": False, "default_kms_key_id": "alias/aws/ebs"}
    ]
    assert [v["encrypted"] for v in observed("aws.ec2.volume.encryption", EU)] == [True]
    assert [v["encrypted"] for v in observed("aws.ec2.volume.encryption", US)] == [False]
    assert observed("aws.ec2.volume.tags", EU) == [
        {"tags": {"Name": "message-store", "data-classification": "confidential", "owner": "chat-platform-team"}}
    ]
    assert observed("aws.ec2.volume.tags", US) == [{"tags": {"Name": "legacy-media-scratch"}}]
    assert observed("aws.ec2.security_group.ingress", EU, group_name="chat-edge")[0]["open_to_world_ipv4"] == [
        "80",
        "443",
    ]
    assert observed("aws.ec2.security_group.ingress", US, group_name="legacy-admin")[0]["open_to_world_ipv4"] == [
        "22",
        "3389",
    ]
    assert observed("aws.ec2.vpc.flow_logs", EU, is_default=False, flow_logs_active=True)
    assert observed("aws.ec2.vpc.flow_logs", US, is_default=True, flow_logs_active=False)
    assert observed("aws.elbv2.listener.tls", EU, protocol="HTTPS", ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06")
    assert observed("aws.elbv2.listener.tls", EU, protocol="HTTP", redirects_to_https=True)
    assert observed("aws.elbv2.listener.tls", US, protocol="HTTP", redirects_to_https=False)
    assert observed("aws.eks.cluster.endpoint_access", EU, endpoint_public_access=False)
    assert observed("aws.eks.cluster.endpoint_access", US, endpoint_public_access=True,
                    public_access_cidrs=["0.0.0.0/0"])  # fmt: skip
    assert observed("aws.eks.cluster.secrets_encryption", EU, secrets_encrypted=True)
    assert observed("aws.eks.cluster.secrets_encryption", US, secrets_encrypted=False)
    assert observed("aws.eks.cluster.logging", EU)[0]["enabled_log_types"] == ["api", "audit", "authenticator"]
    assert observed("aws.eks.cluster.logging", US) == [{"enabled_log_types": []}]
