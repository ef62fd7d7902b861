"""Elastic Load Balancing v2 (application, network, gateway load balancers): listener protocols and TLS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

LISTENER_TYPE = "AWS::ElasticLoadBalancingV2::Listener"
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})


def redirects_to_https(actions: list[dict]) -> bool:
    """The default action answers with a redirect to an `https` URL (e.g. port 80 -> 443)."""
    return any(a["Type"] == "redirect" and a.get("RedirectConfig", {}).get("Protocol") == "HTTPS" for a in actions)


@evidence_kind(
    "aws.elbv2.listener.tls",
    regional=True,
    permissions=("elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners"),
)
def collect_listener_tls(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Protocol, TLS policy and certificates of every load balancer listener (ALB, NLB, GWLB) in the region."""
    elb = aws.client("elbv2", scope)
    balancers, lb_op = list_all(elb, "describe_load_balancers", "LoadBalancers")

    def listeners(balancer: dict[str, Any]) -> tuple[dict, list[dict], dict]:
        items, op = list_all(elb, "describe_listeners", "Listeners", LoadBalancerArn=balancer["LoadBalancerArn"])
        return balancer, items, op

    for balancer, items, op in aws.fan_out(listeners, balancers):
        provenance = source(aws, "elbv2", [lb_op, op])
        for listener in items:
            yield observe_listener_tls(scope, balancer, listener, provenance)


def observe_listener_tls(region: str, balancer: dict, listener: dict, provenance: dict) -> Evidence:
    """`balancer`: the listener's load balancer as DescribeLoadBalancers gives it."""
    protocol = listener.get("Protocol")  # a gateway load balancer's listener has none
    return Evidence(
        kind="aws.elbv2.listener.tls",
        resource_id=listener["ListenerArn"],
        resource_type=LISTENER_TYPE,
        region=region,
        observed={
            "protocol": protocol,
            "port": listener.get("Port"),
            # AWS answers a policy only for listeners that terminate TLS (moto gives every listener one).
            "ssl_policy": listener.get("SslPolicy") if protocol in TLS_PROTOCOLS else None,
            "certificate_arns": sorted(c["CertificateArn"] for c in listener.get("Certificates", [])),
            "redirects_to_https": redirects_to_https(listener.get("DefaultActions", [])),
            "scheme": balancer["Scheme"],
        },
        source=provenance,
        raw=redact(to_jsonable({"load_balancer": balancer, "listener": listener})),
    )
