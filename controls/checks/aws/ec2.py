"""EC2 checks: EBS encryption (default and per volume), security group ingress from the internet, VPC flow logs.

`aws.ec2.account.regions` has no check: its `enabled_regions` mixes regions that cannot be disabled with opt-in
regions the account chose to enable, so no expectation about enabled regions can be judged from it.
"""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

WORLD = (("open_to_world_ipv4", "0.0.0.0/0"), ("open_to_world_ipv6", "::/0"))


@check("aws.ec2.region.ebs_encryption_default_enabled", reads="aws.ec2.region.ebs_encryption_default")
def ebs_encryption_default_enabled(subject: Subject, policy: Policy) -> Verdict:
    """New EBS volumes in the region are encrypted by default."""
    o = subject.observed
    if not o["enabled"]:
        return Verdict.failed(f"EBS encryption by default off in {subject.region}")
    return Verdict.passed(f"EBS encryption by default on (key {o['default_kms_key_id']})")


@check("aws.ec2.volume.encrypted", reads="aws.ec2.volume.encryption")
def volume_encrypted(subject: Subject, policy: Policy) -> Verdict:
    """Every EBS volume is encrypted at rest."""
    o = subject.observed
    if o["encrypted"]:
        return Verdict.passed(f"encrypted with {o['kms_key_id']}")
    where = f"attached to {', '.join(o['attached_instances'])}" if o["attached_instances"] else "detached"
    return Verdict.failed(f"volume unencrypted ({where})")


def _port_range(label: str) -> tuple[int, int] | None:
    """`22` -> (22, 22), `1024-65535` -> (1024, 65535); None for `all`, `icmp`, `protocol-N`."""
    if not label[0].isdigit():
        return None
    low, _, high = label.partition("-")
    return int(low), int(high or low)


def _listed(ports: list[int], most: int = 4) -> str:
    shown = ", ".join(map(str, ports[:most]))
    return shown if len(ports) <= most else f"{shown}, ... {len(ports)} in all"


def _admin_ports_opened(label: str, admin_ports: tuple[int, ...]) -> list[int]:
    if label == "all":
        return list(admin_ports)
    span = _port_range(label)
    return [p for p in admin_ports if span and span[0] <= p <= span[1]]


@check("aws.ec2.security_group.admin_ports_restricted", reads="aws.ec2.security_group.ingress")
def security_group_admin_ports_restricted(subject: Subject, policy: Policy) -> Verdict:
    """No security group lets the whole internet (0.0.0.0/0 or ::/0) reach an administration port."""
    o = subject.observed
    if not policy.admin_ports:
        return Verdict.not_applicable("no admin ports configured")
    problems = []
    for key, world in WORLD:
        for label in o[key]:
            ports = _admin_ports_opened(label, policy.admin_ports)
            if label == "all":
                problems.append(f"all traffic open to {world}")
            elif ports and label == str(ports[0]):
                problems.append(f"port {label} open to {world}")
            elif ports:
                problems.append(f"ports {label} open to {world} (admin ports {_listed(ports)})")
    if problems:
        return Verdict.failed("; ".join(problems))
    return Verdict.passed("no admin port open to 0.0.0.0/0 or ::/0")


def _all_ports(label: str) -> bool:
    span = _port_range(label)
    return label == "all" or (span is not None and span[0] <= 1 and span[1] == 65535)


@check("aws.ec2.security_group.all_ports_restricted", reads="aws.ec2.security_group.ingress")
def security_group_all_ports_restricted(subject: Subject, policy: Policy) -> Verdict:
    """No security group opens every port or protocol to the whole internet (0.0.0.0/0 or ::/0)."""
    o = subject.observed
    problems = [
        f"{'all traffic' if label == 'all' else f'ports {label}'} open to {world}"
        for key, world in WORLD
        for label in o[key]
        if _all_ports(label)
    ]
    if problems:
        return Verdict.failed("; ".join(problems))
    return Verdict.passed("no rule opens every port to 0.0.0.0/0 or ::/0")


@check("aws.ec2.vpc.flow_logs_enabled", reads="aws.ec2.vpc.flow_logs")
def vpc_flow_logs_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every VPC has an active flow log on the VPC itself."""
    o = subject.observed
    if not o["flow_logs_active"]:
        return Verdict.failed("no active flow log" + (" (default VPC)" if o["is_default"] else ""))
    traffic = ", ".join(o["traffic_types"])
    return Verdict.passed(f"flow log active ({traffic} traffic to {', '.join(o['destination_types'])})")
