"""The printed IAM policy is read-only and covers every call each kind really makes."""

from __future__ import annotations

import contextlib
import json
import re

import boto3
import pytest
from typer.testing import CliRunner

from collector.cli import app
from connectors import PROVIDERS, collect_unit
from connectors.aws import FRAMEWORK_PERMISSIONS, AwsClients, AwsTarget
from connectors.base import CollectionError, registered_kinds
from ea_testkit.iam_actions import iam_action

READ_ONLY = re.compile(r"^[a-z0-9-]+:(Get|List|Describe|Search|BatchGet|GenerateCredentialReport$)")


def policy(*args: str) -> dict:
    result = CliRunner().invoke(app, ["permissions", "aws", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_policy_lists_every_declared_permission_and_only_read_actions():
    actions = policy()["Statement"][0]["Action"]
    declared = {p for k in registered_kinds("aws") for p in k.permissions} | set(FRAMEWORK_PERMISSIONS)
    assert set(actions) == declared and actions == sorted(actions)
    assert all(READ_ONLY.match(a) for a in actions), [a for a in actions if not READ_ONLY.match(a)]
    assert policy()["Statement"][0]["Resource"] == "*"


def test_policy_follows_the_configured_kinds(tmp_path):
    path = tmp_path / "evidence-agent.yaml"
    path.write_text("targets:\n  - {name: prod, provider: aws, kinds: ['aws.iam.account.password_policy']}\n")
    actions = policy("--config", str(path))["Statement"][0]["Action"]
    assert actions == sorted({"iam:GetAccountPasswordPolicy", *FRAMEWORK_PERMISSIONS})
    path.write_text("targets:\n  - {name: prod, provider: aws, exclude_kinds: ['aws.s3.*']}\n")
    actions = policy("--config", str(path))["Statement"][0]["Action"]
    assert not any(a.startswith("s3:") for a in actions) and "iam:GetAccountPasswordPolicy" in actions


def test_organization_policy_for_the_management_account():
    actions = policy("--organization")["Statement"][0]["Action"]
    assert actions == ["organizations:ListAccounts", "sts:AssumeRole"]


@pytest.mark.parametrize("spec", registered_kinds("aws"), ids=lambda s: s.name)
def test_declared_permissions_cover_every_call_the_kind_makes(spec, sandbox_endpoint):
    session = boto3.Session(region_name="us-east-1")
    calls: set[tuple[str, str]] = set()
    session.events.register("before-call", lambda model, **_: calls.add((model.service_model.service_id.hyphenize(),
                                                                           model.name)))  # fmt: skip
    clients = AwsClients(AwsTarget(name="prod", regions=("eu-west-1", "us-east-1"), endpoint_url=sandbox_endpoint),
                         session=session)  # fmt: skip
    plans = PROVIDERS["aws"].units(clients, spec)
    for plan in plans:
        # e.g. moto cannot say what the root user has (a gap): the calls made up to there still count
        with contextlib.suppress(CollectionError):
            collect_unit(spec, plan.context, plan.argument)
    clients.close()
    needed = {iam_action(service, op) for service, op in calls} - {None}
    assert calls, "the kind made no call at all: the test would prove nothing"
    assert needed <= set(spec.permissions) | set(FRAMEWORK_PERMISSIONS), sorted(needed - set(spec.permissions))


def test_kubernetes_cluster_role_is_read_only_without_secrets_and_covers_every_kind():
    import yaml

    role = yaml.safe_load(CliRunner().invoke(app, ["permissions", "kubernetes"]).stdout)
    assert role["kind"] == "ClusterRole" and role["rules"]
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs <= {"get", "list", "watch"}
    assert not any("secrets" in rule.get("resources", []) or "*" in rule.get("resources", []) for rule in role["rules"])
    granted = {(g, r) for rule in role["rules"] for g in rule.get("apiGroups", []) for r in rule.get("resources", [])}
    urls = {u for rule in role["rules"] for u in rule.get("nonResourceURLs", [])}
    for kind in registered_kinds("k8s"):
        for permission in kind.permissions:
            target = permission.split(" ", 1)[1]
            if target.startswith("/"):
                assert target in urls
            else:
                group, resource = target.rsplit("/", 1)
                assert ("" if group == "core" else group, resource) in granted, permission


def test_gcp_role_lists_every_declared_permission():
    role = json.loads(CliRunner().invoke(app, ["permissions", "gcp"]).stdout)
    from connectors.gcp import ORGANIZATION_PERMISSIONS

    declared = {p for k in registered_kinds("gcp") for p in k.permissions}
    assert declared and set(role["includedPermissions"]) == declared | set(ORGANIZATION_PERMISSIONS)
