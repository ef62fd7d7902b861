"""The Helm chart, offline: lint, render, strict Kubernetes 1.31 schemas, security, values schema, RBAC
equal to `permissions kubernetes`, sharding, and the rendered command lines run against the sandbox."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import threading
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from collector.cli import app
from collector.config import Config
from collector.cron import cron_trigger
from collector.permissions import kubernetes_cluster_role
from collector.shard import Shard, shard_targets
from collector.store.engine import make_engine
from collector.store.query import list_runs
from ea_testkit.aws import MOTO_BLIND
from ea_testkit.chart import (
    CHART,
    EXAMPLES,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    Pod,
    by_kind,
    documents,
    example_values,
    pod_specs,
)

VALUE_SETS = ["default", *EXAMPLES]
FULLNAME = f"{RELEASE}-evidence-agent"
PORTAL_NAME = f"{FULLNAME}-portal"
PORTAL_ON = {"portal": {"enabled": True, "tokensSecret": "portal-tokens"}}
SIGNING_ON = {"portal": {"enabled": True, "tokensSecret": "portal-tokens", "signKeySecret": "evidence-portal-signer"}}
SERVE_ARGS = ["serve", "--host", "0.0.0.0", "--port", "8080"]
RESTRICTED_CONTAINER = {
    "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "privileged": False,
    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}  # fmt: skip
STATIC_KEY_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE"}


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def rendered(chart: helm.Chart) -> dict[str, list[dict[str, Any]]]:
    """Each values set rendered once for the module."""
    return {name: documents(chart.render(example_values(name), name=RELEASE, namespace=NAMESPACE))
            for name in VALUE_SETS}  # fmt: skip


def render(chart: helm.Chart, values: dict[str, Any]) -> list[dict[str, Any]]:
    return documents(chart.render(values, name=RELEASE, namespace=NAMESPACE))


def merged(*layers: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def pod_templates(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(owner, pod template with its metadata) for every CronJob, Deployment and Job."""
    out = []
    for d in docs:
        if d["kind"] == "CronJob":
            out.append((f"CronJob/{d['metadata']['name']}", d["spec"]["jobTemplate"]["spec"]["template"]))
        elif d["kind"] in ("Deployment", "Job"):
            out.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]))
    return out


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """What a Kubernetes label selector (matchLabels, matchExpressions) selects."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    ops = {"In": lambda k, vs: labels.get(k) in vs, "NotIn": lambda k, vs: labels.get(k) not in vs,
           "Exists": lambda k, _: k in labels, "DoesNotExist": lambda k, _: k not in labels}  # fmt: skip
    return all(ops[e["operator"]](e["key"], e.get("values", [])) for e in selector.get("matchExpressions", []))


def validate_strictly(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def component(doc: dict[str, Any]) -> str | None:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def mounted_config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (config_map,) = by_kind(docs, "ConfigMap")
    return yaml.safe_load(config_map["data"]["evidence-agent.yaml"])


# --------------------------------------------------------------------------- acceptance 1: lint, render, validate


@pytest.mark.parametrize("name", VALUE_SETS)
def test_chart_lints_clean(name):
    report = helm.lint(CHART, example_values(name), strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_manifest_validates_strictly_against_kubernetes_1_31(rendered, name):
    docs = rendered[name]
    assert len(docs) >= 4
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_the_validator_would_catch_a_bad_manifest(rendered):
    """Guard: strict validation rejects an unknown field, so the test above proves something."""
    (cronjob,) = by_kind(rendered["default"], "CronJob")
    broken = json.loads(json.dumps(cronjob))
    broken["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["bogusField"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


def test_each_values_file_renders_what_it_is_for(rendered):
    kinds = {name: sorted(d["kind"] for d in docs) for name, docs in rendered.items()}
    assert "CronJob" in kinds["default"] and "PersistentVolumeClaim" in kinds["default"]
    assert "Deployment" in kinds["scheduler"] and "CronJob" not in kinds["scheduler"]
    assert "Job" in kinds["postgresql"] and "PersistentVolumeClaim" not in kinds["postgresql"]
    assert "NetworkPolicy" in kinds["sharded"] and "NetworkPolicy" not in kinds["default"]
    assert "PersistentVolumeClaim" not in kinds["sqlite-pvc"]  # an existing claim
    (spec,) = [s for _, s in pod_specs(rendered["sqlite-pvc"])]
    claims = [v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["evidence-agent-data"]
    portal = {(d["kind"], d["metadata"]["name"]) for d in rendered["portal"] if component(d) == "portal"}
    assert {"Deployment", "Service", "Ingress", "ServiceAccount", "NetworkPolicy"} == {k for k, _ in portal}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_the_configmap_is_a_valid_agent_config_without_a_database_url(rendered, name):
    (config_map,) = by_kind(rendered[name], "ConfigMap")
    data = yaml.safe_load(config_map["data"]["evidence-agent.yaml"])
    assert "database_url" not in data
    config = Config.model_validate(data)  # what the agent will load in the pod
    assert [t.name for t in config.targets] == [t["name"] for t in example_values(name).get("config", {}).get(
        "targets", [{"name": "this-cluster"}])]  # fmt: skip


# --------------------------------------------------------------------------- acceptance 2: security


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_container_runs_restricted(rendered, name):
    specs = pod_specs(rendered[name])
    assert specs
    for owner, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, owner
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, owner
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), owner
        assert not any("hostPath" in v for v in spec.get("volumes", [])), owner
        assert spec["enableServiceLinks"] is False, owner
        tmp = {v["name"]: v for v in spec["volumes"]}
        for container in spec.get("initContainers", []) + spec["containers"]:
            ctx = container["securityContext"]
            where = f"{owner} {container['name']}"
            assert ctx["runAsNonRoot"] is True and ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["readOnlyRootFilesystem"] is True and ctx["privileged"] is False, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert container["resources"]["requests"] and container["resources"]["limits"], where
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            assert "emptyDir" in tmp[mounts["/tmp"]["name"]], f"{where}: /tmp is not a writable emptyDir"
            writable = [p for p, m in mounts.items() if not m.get("readOnly")]
            assert set(writable) <= {"/tmp", "/var/lib/evidence-agent"}, where


@pytest.mark.parametrize("name", VALUE_SETS)
def test_no_role_grants_secrets_or_any_write(rendered, name):
    roles = by_kind(rendered[name], "ClusterRole") + by_kind(rendered[name], "Role")
    for role in roles:
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
            assert "secrets" not in rule.get("resources", []) and "*" not in rule.get("resources", []), rule
            assert "*" not in rule.get("apiGroups", []) and "*" not in rule.get("nonResourceURLs", []), rule


def test_the_cluster_role_is_exactly_what_permissions_kubernetes_prints(rendered):
    printed = CliRunner().invoke(app, ["permissions", "kubernetes"]).stdout
    generated = (CHART / "files" / "clusterrole.yaml").read_text()
    assert generated == printed, "the chart's RBAC drifted from the Kubernetes kinds: run `make chart-rbac`"
    (role,) = by_kind(rendered["default"], "ClusterRole")
    assert role["rules"] == kubernetes_cluster_role()["rules"]
    (binding,) = by_kind(rendered["default"], "ClusterRoleBinding")
    (account,) = by_kind(rendered["default"], "ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": NAMESPACE}]  # fmt: skip


def test_rbac_and_api_token_only_when_a_target_reads_this_cluster(rendered):
    """The PostgreSQL example collects AWS only: no ClusterRole, and no Kubernetes token in its pods."""
    assert not by_kind(rendered["postgresql"], "ClusterRole")
    assert all(spec["automountServiceAccountToken"] is False for _, spec in pod_specs(rendered["postgresql"]))
    (_, cron_pod), *_ = pod_specs(rendered["default"])
    assert cron_pod["automountServiceAccountToken"] is True
    for docs in rendered.values():
        for account in by_kind(docs, "ServiceAccount"):
            assert account["automountServiceAccountToken"] is False


def chart_texts() -> dict[str, str]:
    files = [CHART / "values.yaml", *EXAMPLES.values(), *sorted((CHART / "templates").iterdir())]
    return {str(p.relative_to(CHART)): p.read_text() for p in files}


KEY_PATTERNS = [
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)aws_secret_access_key\s*[:=]"),
    re.compile(r"(?i)(aws_access_key_id|aws_session_token)\s*[:=]"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r'"?private_key"?\s*:'),  # a GCP service-account key file
]


def test_no_static_cloud_keys_in_values_templates_or_manifests(rendered):
    texts = chart_texts() | {f"rendered:{n}": yaml.safe_dump_all(d) for n, d in rendered.items()}
    for where, text in texts.items():
        for pattern in KEY_PATTERNS:
            assert not pattern.search(text), f"{where}: {pattern.pattern}"
    for docs in rendered.values():
        assert not by_kind(docs, "Secret"), "the chart never holds secret values; it references Secrets"
        for owner, spec in pod_specs(docs):
            for container in spec["containers"]:
                names = {e["name"] for e in container.get("env", [])}
                assert not names & STATIC_KEY_ENV, owner
                for item in container.get("env", []):
                    if "URL" in item["name"] or "KEY" in item["name"]:
                        assert "value" not in item or item["value"].startswith("sqlite:"), (owner, item)


@pytest.mark.parametrize("variable", sorted(STATIC_KEY_ENV))
def test_static_keys_in_values_are_refused(chart, variable):
    for values in ({"extraEnv": [{"name": variable, "value": "x"}]},
                   {"secretEnv": [{"name": variable, "secretName": "aws", "key": "k"}]}):  # fmt: skip
        with pytest.raises(helm.HelmRenderError, match=f"{variable}: static cloud keys are refused"):
            render(chart, values)


def test_cloud_identity_comes_from_service_account_annotations(rendered):
    (account,) = by_kind(rendered["postgresql"], "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/EvidenceOrganizationReader"}
    (account,) = by_kind(rendered["sharded"], "ServiceAccount")
    assert "iam.gke.io/gcp-service-account" in account["metadata"]["annotations"]
    (cronjob,) = by_kind(rendered["sharded"], "CronJob")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    (hook,) = by_kind(rendered["sharded"], "Job")  # before the account exists, with no token at all
    assert "serviceAccountName" not in hook["spec"]["template"]["spec"]
    assert hook["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_database_url_and_sink_secrets_are_secret_references(rendered):
    (cronjob,) = by_kind(rendered["postgresql"], "CronJob")
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["EVIDENCE_AGENT_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "evidence-agent-db",
                                                                              "key": "url"}  # fmt: skip
    assert env["SLACK_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"] == {"name": "evidence-agent-alerts",
                                                                    "key": "slack-webhook-url"}  # fmt: skip
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/var/run/secrets/evidence-agent/hook")
    assert mount["readOnly"] is True
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "evidence-agent-hook"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_network_policy_when_enabled_allows_no_ingress_and_only_named_egress(rendered, name):
    policies = {p["metadata"]["name"]: p for p in by_kind(rendered[name], "NetworkPolicy")}
    if not example_values(name).get("networkPolicy", {}).get("enabled"):
        assert policies == {}
        return
    policy = policies.pop(FULLNAME)
    assert set(policies) == ({PORTAL_NAME} if example_values(name).get("portal", {}).get("enabled") else set())
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in policy["spec"]
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert {53, 443} <= ports and ports <= {53, 80, 443, 5432, 6443}
    assert all(rule.get("to") for rule in policy["spec"]["egress"]), "every egress rule names its destination"
    if example_values(name)["database"]["type"] == "postgresql":
        assert 5432 in ports


# --------------------------------------------------------------------------- acceptance 3: the values schema


@pytest.mark.parametrize(
    ("values", "where", "says"),
    [
        ({"schedule": "every hour"}, "/schedule", "'every hour' does not match pattern"),
        ({"schedule": "61 * * * *"}, "/schedule", "'61 * * * *' does not match pattern"),
        ({"schedule": "0 0 * *"}, "/schedule", "does not match pattern"),
        ({"config": {"targets": [{"name": "a", "provider": "aws", "schedule": "0 25 * * *"}]}},
         "/config/targets/0/schedule", "'0 25 * * *' does not match pattern"),
        ({"shards": -2}, "/shards", "minimum: got -2, want 1"),
        ({"shards": 0}, "/shards", "minimum: got 0, want 1"),
        ({"shards": "four"}, "/shards", "got string, want integer"),
        ({"mode": "daemon"}, "/mode", "value must be one of 'cronjob', 'scheduler'"),
        ({"config": {"targets": [{"name": "a", "provider": "azure"}]}}, "/config/targets/0/provider",
         "value must be one of"),
        ({"database": {"type": "mysql"}}, "/database/type", "value must be one of 'sqlite', 'postgresql'"),
        ({"schedul": "0 * * * *"}, "''", "additional properties 'schedul' not allowed"),
        ({"image": {"digest": "latest"}}, "/image/digest", "does not match pattern"),
        ({"portal": {"enable": True}}, "/portal", "additional properties 'enable' not allowed"),
        ({"portal": {"ingress": {"host": "evidence.example.com"}}}, "/portal/ingress",
         "additional properties 'host' not allowed"),
        ({"networkPolicy": {"portal": {"form": []}}}, "/networkPolicy/portal",
         "additional properties 'form' not allowed"),
        ({"portal": {"replicas": 0}}, "/portal/replicas", "minimum: got 0, want 1"),
        ({"portal": {"tokensSecret": "Portal_Tokens"}}, "/portal/tokensSecret", "does not match pattern"),
        ({"portal": {"signKeySecret": "Signer_Key"}}, "/portal/signKeySecret", "does not match pattern"),
        ({"portal": {"signKeySecret": ["evidence-portal-signer"]}}, "/portal/signKeySecret", "want string"),
        ({"portal": {"signKey": "evidence-portal-signer"}}, "/portal", "additional properties 'signKey' not allowed"),
        ({"portal": {"ingress": {"hosts": ["https://evidence.example.com"]}}}, "/portal/ingress/hosts/0",
         "does not match pattern"),
    ],
)  # fmt: skip
def test_invalid_values_are_rejected_by_the_schema_with_a_clear_message(chart, values, where, says):
    with pytest.raises(helm.HelmValuesError) as error:
        render(chart, values)
    message = str(error.value)
    assert f"at '{where}'" in message or f"at {where}" in message, message
    assert says in message, message
    report = helm.lint(CHART, values, strict=True)
    assert any(where.strip("'") in e and says in e for e in report["errors"]), report["errors"]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"shards": 3}, "shards: more than one shard needs database.type: postgresql"),
        ({"mode": "scheduler", "shards": 2}, "shards: sharding applies to mode: cronjob"),
        ({"database": {"type": "postgresql"}}, "database.postgresql.urlSecret.name: name the Secret"),
        ({"config": {"database_url": "postgresql://u:pw@db/x", "targets": [{"name": "a", "provider": "aws"}]}},
         "config.database_url: set the database with `database`"),
        ({"portal": {"enabled": True}}, "portal.tokensSecret: name the Secret whose key tokens.yaml holds"),
        (merged(PORTAL_ON, {"portal": {"ingress": {"enabled": True}}}), "portal.ingress.hosts: name at least one host"),
        (merged(PORTAL_ON, {"database": {"sqlite": {"accessModes": ["ReadWriteOncePod"]}}}),
         "database.sqlite.accessModes: ReadWriteOncePod lets one pod mount the claim"),
        (merged(PORTAL_ON, {"config": {"portal": {"tokens_file": "/etc/tokens.yaml"},
                                       "targets": [{"name": "a", "provider": "aws"}]}}),
         "config.portal.tokens_file: set by the chart"),
        (merged(PORTAL_ON, {"config": {"portal": {"sign_key_file": "/keys/signer.key"},
                                       "targets": [{"name": "a", "provider": "aws"}]}}),
         "config.portal.sign_key_file: set by the chart (the file of portal.signKeySecret)"),
        (merged(SIGNING_ON, {"config": {"portal": {"sign_key_file": "/keys/signer.key"},
                                        "targets": [{"name": "a", "provider": "aws"}]}}),
         "config.portal.sign_key_file: set by the chart (the file of portal.signKeySecret)"),
    ],
)  # fmt: skip
def test_values_that_cannot_work_together_fail_with_one_line(chart, values, says):
    with pytest.raises(helm.HelmRenderError) as error:
        render(chart, values)
    assert says in str(error.value)
    assert "\n" not in str(error.value).strip(), "one line"


CRON_SAMPLES = ["0 * * * *", "*/15 * * * *", "0 2 * * 1-5", "30 6 1,15 * *", "0 0 1 jan mon", "5/10 * * * *",
                "0 0 * * SUN", "0 8-18/2 * * mon-fri", "0 0 31 12 *", "every hour", "0 0 * * 7", "60 * * * *",
                "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 ? * *", "* * * *", "* * * * * *", "@hourly",
                "0 0 L * *", "*/0 * * * *", "0 0 * * 1-5 "]  # fmt: skip


@pytest.mark.parametrize("expr", CRON_SAMPLES)
def test_schema_and_scheduler_agree_on_target_schedules(expr):
    schema = json.loads((CHART / "values.schema.json").read_text())
    pattern = re.compile(schema["definitions"]["cron"]["pattern"])
    try:
        cron_trigger(expr)
        agent_accepts = True
    except ValueError:
        agent_accepts = False
    assert bool(pattern.search(expr)) == agent_accepts


def test_cronjob_schedule_also_takes_kubernetes_macros(chart):
    (cronjob,) = by_kind(render(chart, {"schedule": "@daily", "timeZone": "Europe/Berlin"}), "CronJob")
    assert cronjob["spec"]["schedule"] == "@daily" and cronjob["spec"]["timeZone"] == "Europe/Berlin"


# --------------------------------------------------------------------------- modes


def test_cronjob_never_runs_twice_at_once_and_is_bounded(rendered):
    (cronjob,) = by_kind(rendered["default"], "CronJob")
    spec, job = cronjob["spec"], cronjob["spec"]["jobTemplate"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["schedule"] == "0 * * * *"
    assert spec["startingDeadlineSeconds"] == 600
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    assert job["activeDeadlineSeconds"] == 3300 and job["backoffLimit"] == 1
    assert "completionMode" not in job
    fail_fast = job["podFailurePolicy"]["rules"][0]
    assert fail_fast["action"] == "FailJob" and fail_fast["onExitCodes"]["values"] == [2, 4]
    container = job["template"]["spec"]["containers"][0]
    assert container["args"] == ["collect"] and "command" not in container
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_sharded_values_render_an_indexed_job_per_run(rendered):
    (cronjob,) = by_kind(rendered["sharded"], "CronJob")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == 4 and job["parallelism"] == 4
    container = job["template"]["spec"]["containers"][0]
    assert container["args"] == ["collect", "--shard", "$(JOB_COMPLETION_INDEX)/4"]
    (index,) = [e for e in container["env"] if e["name"] == "JOB_COMPLETION_INDEX"]
    field = index["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert container["env"][0] is index, "defined before anything that could refer to it"


def test_scheduler_mode_is_one_recreated_replica_with_a_liveness_probe(rendered):
    (deployment,) = by_kind(rendered["scheduler"], "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["schedule", "--heartbeat-file", "/tmp/evidence-agent/heartbeat", "--run-now"]
    assert container["livenessProbe"]["exec"]["command"] == [
        "python", "-m", "collector.heartbeat", "/tmp/evidence-agent/heartbeat", "900"]  # fmt: skip
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60


def test_storage_choices(rendered):
    (claim,) = by_kind(rendered["default"], "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    (_, spec), = pod_specs(rendered["default"])
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["EVIDENCE_AGENT_DATABASE_URL"]["value"] == "sqlite:////var/lib/evidence-agent/evidence.db"
    (hook,) = by_kind(rendered["postgresql"], "Job")
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hook["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    assert not by_kind(rendered["default"], "Job"), "SQLite: collect migrates the file itself"


def test_chart_version_follows_the_agent():
    import tomllib

    chart_meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((CHART.parents[2] / "pyproject.toml").read_text())["project"]
    assert chart_meta["appVersion"] == project["version"]


# --------------------------------------------------------------------------- the auditor portal


def test_the_portal_is_off_by_default(rendered):
    plain = [name for name in VALUE_SETS if not example_values(name).get("portal", {}).get("enabled")]
    assert len(plain) >= 5
    for name in plain:
        docs = rendered[name]
        assert [f"{d['kind']}/{d['metadata']['name']}" for d in docs if component(d) == "portal"] == [], name
        assert not by_kind(docs, "Service") and not by_kind(docs, "Ingress"), name
        assert "portal" not in mounted_config(docs), name
        assert all("podAffinity" not in spec.get("affinity", {}) for _, spec in pod_specs(docs)), name


@pytest.fixture(scope="module")
def portal_sets(chart: helm.Chart) -> dict[str, list[dict[str, Any]]]:
    """The portal on SQLite (defaults), and on PostgreSQL next to alert-sink Secrets it must not get."""
    return {"sqlite": render(chart, PORTAL_ON),
            "postgresql": render(chart, merged(example_values("postgresql"), PORTAL_ON))}  # fmt: skip


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_the_portal_runs_serve_restricted_with_the_agents_store_and_only_its_tokens(portal_sets, store):
    docs = portal_sets[store]
    validate_strictly(docs)
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == PORTAL_NAME]
    assert deployment["spec"]["replicas"] == 1
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    (cronjob,) = by_kind(docs, "CronJob")
    (agent,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == SERVE_ARGS and "command" not in container
    assert container["image"] == agent["image"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    assert container["securityContext"] == RESTRICTED_CONTAINER
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    # its own ServiceAccount: none of the agent's cloud identity, and no Kubernetes API token
    assert spec["serviceAccountName"] == PORTAL_NAME and spec["automountServiceAccountToken"] is False
    (account,) = [a for a in by_kind(docs, "ServiceAccount") if a["metadata"]["name"] == PORTAL_NAME]
    assert account["automountServiceAccountToken"] is False and "annotations" not in account["metadata"]
    # the tokens: only key tokens.yaml of the named Secret, read-only, where the config says
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    tokens_file = mounted_config(docs)["portal"]["tokens_file"]
    directory, file_name = tokens_file.rsplit("/", 1)
    assert mounts[directory]["readOnly"] is True
    secret = {"secretName": "portal-tokens", "defaultMode": 0o440, "items": [{"key": "tokens.yaml", "path": file_name}]}
    assert volumes[mounts[directory]["name"]]["secret"] == secret
    # the agent's database settings (and claim), nothing else of its environment
    env = {e["name"]: e for e in container["env"]}
    agent_env = {e["name"]: e for e in agent["env"]}
    assert env["EVIDENCE_AGENT_DATABASE_URL"] == agent_env["EVIDENCE_AGENT_DATABASE_URL"]
    assert set(env) == {"EVIDENCE_AGENT_CONFIG", "EVIDENCE_AGENT_LOG_FORMAT", "EVIDENCE_AGENT_DATABASE_URL", "HOME",
                        "TMPDIR"}  # fmt: skip
    store_mounts = {"/etc/evidence-agent", "/tmp"} | ({"/var/lib/evidence-agent"} if store == "sqlite" else set())
    assert set(mounts) == store_mounts | {directory}
    agent_volumes = {v["name"]: v for v in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]}
    for path in store_mounts:
        assert volumes[mounts[path]["name"]] == agent_volumes[mounts[path]["name"]], path


def secret_volumes(spec: dict[str, Any], secret_name: str) -> list[dict[str, Any]]:
    return [v for v in spec.get("volumes", []) if v.get("secret", {}).get("secretName") == secret_name]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_with_sign_key_secret_the_portal_mounts_only_that_key_where_the_config_says(chart, store):
    values = merged(example_values("postgresql"), SIGNING_ON) if store == "postgresql" else SIGNING_ON
    assert not helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")["errors"]
    docs = render(chart, values)
    validate_strictly(docs)
    config = mounted_config(docs)
    sign_key_file = config["portal"]["sign_key_file"]
    directory, file_name = sign_key_file.rsplit("/", 1)
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == PORTAL_NAME]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    # exactly key signer.key of the named Secret, read-only, at the path the config names
    assert mounts[directory]["readOnly"] is True and "subPath" not in mounts[directory]
    secret = {"secretName": "evidence-portal-signer", "defaultMode": 0o440,
              "items": [{"key": "signer.key", "path": file_name}]}  # fmt: skip
    assert volumes[mounts[directory]["name"]] == {"name": mounts[directory]["name"], "secret": secret}
    assert [v["name"] for v in secret_volumes(spec, "evidence-portal-signer")] == [mounts[directory]["name"]]
    # its own mount point: not inside another mount (the ConfigMap's or the tokens' read-only volume)
    tokens_dir = config["portal"]["tokens_file"].rsplit("/", 1)[0]
    assert directory != tokens_dir
    for other in set(mounts) - {directory}:
        assert not directory.startswith(other.rstrip("/") + "/") and not other.startswith(directory + "/"), other
    store_mounts = {"/etc/evidence-agent", "/tmp"} | ({"/var/lib/evidence-agent"} if store == "sqlite" else set())
    assert set(mounts) == store_mounts | {tokens_dir, directory}
    # only the portal gets the key; the agent's pods read the same config, which `collect` accepts as is
    for owner, pod in pod_specs(docs):
        if owner != f"Deployment/{PORTAL_NAME}":
            assert not secret_volumes(pod, "evidence-portal-signer"), owner
    assert str(Config.model_validate(config).portal.sign_key_file) == sign_key_file


def test_without_sign_key_secret_downloads_are_unsigned(chart, portal_sets):
    for docs in [*portal_sets.values(), render(chart, merged(SIGNING_ON, {"portal": {"enabled": False}}))]:
        assert "sign_key_file" not in mounted_config(docs).get("portal", {})
        for owner, spec in pod_specs(docs):
            assert not secret_volumes(spec, "evidence-portal-signer"), owner
            mounts = [m["mountPath"] for c in spec["containers"] for m in c.get("volumeMounts", [])]
            assert not any("signer" in m for m in mounts), owner


def test_the_portal_service_and_ingress_reach_the_portal_pods(chart, rendered):
    docs = rendered["portal"]
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == PORTAL_NAME]
    assert deployment["spec"]["replicas"] == 2
    (service,) = by_kind(docs, "Service")
    assert service["metadata"]["name"] == PORTAL_NAME and service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert [p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]] == ["http"]
    for owner, template in pod_templates(docs):
        is_portal = owner == f"Deployment/{PORTAL_NAME}"
        assert selects({"matchLabels": service["spec"]["selector"]}, template["metadata"]["labels"]) == is_portal, owner
    (ingress,) = by_kind(docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert ingress["spec"]["tls"] == [{"secretName": "evidence-portal-tls", "hosts": ["evidence.example.com"]}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "evidence.example.com"
    backend = {"service": {"name": PORTAL_NAME, "port": {"name": "http"}}}
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix", "backend": backend}]
    docs = render(chart, merged(PORTAL_ON, {"portal": {"service": {"port": 8443}}}))
    assert not by_kind(docs, "Ingress"), "no Ingress unless portal.ingress.enabled"
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["ports"][0]["port"] == 8443 and service["spec"]["ports"][0]["targetPort"] == "http"


def test_with_network_policies_only_the_portal_takes_connections(chart, rendered):
    for docs, peers in ((rendered["portal"], example_values("portal")["networkPolicy"]["portal"]["from"]),
                        (render(chart, merged(PORTAL_ON, {"networkPolicy": {"enabled": True}})),
                         [{"namespaceSelector": {}}])):  # fmt: skip
        validate_strictly(docs)
        policies = {p["metadata"]["name"]: p for p in by_kind(docs, "NetworkPolicy")}
        for owner, template in pod_templates(docs):
            labels = template["metadata"]["labels"]
            selected = sorted(n for n, p in policies.items() if selects(p["spec"]["podSelector"], labels))
            assert selected == ([PORTAL_NAME] if owner == f"Deployment/{PORTAL_NAME}" else [FULLNAME]), owner
        portal = policies[PORTAL_NAME]["spec"]
        assert portal["policyTypes"] == ["Ingress", "Egress"]
        assert portal["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}], "from": peers}]
        egress_ports = {p["port"] for rule in portal["egress"] for p in rule["ports"]}
        assert 53 in egress_ports and egress_ports <= {53, 5432}, "the portal reaches DNS and the database only"
        assert all(rule.get("to") for rule in portal["egress"])
    assert {p["port"] for rule in policies[PORTAL_NAME]["spec"]["egress"] for p in rule["ports"]} == {53}  # SQLite
    (policy,) = [p for p in by_kind(rendered["portal"], "NetworkPolicy") if p["metadata"]["name"] == PORTAL_NAME]
    assert 5432 in {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    docs = render(chart, merged(PORTAL_ON, {"networkPolicy": {"enabled": True, "portal": {"from": []}}}))
    (policy,) = [p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == PORTAL_NAME]
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}], "[]: from anywhere"


@pytest.mark.parametrize("mode", ["cronjob", "scheduler"])
def test_on_a_sqlite_claim_the_agent_runs_on_the_portals_node(chart, mode):
    user_term = {"labelSelector": {"matchLabels": {"tier": "compliance"}}, "topologyKey": "topology.kubernetes.io/zone"}
    node_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["tools"]}]}]}}  # fmt: skip
    pod_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": [user_term]}
    affinity = {"nodeAffinity": node_affinity, "podAffinity": pod_affinity}
    docs = render(chart, merged(PORTAL_ON, {"mode": mode, "affinity": affinity}))
    validate_strictly(docs)
    templates = dict(pod_templates(docs))
    assert len(templates) == 2
    portal_labels = templates[f"Deployment/{PORTAL_NAME}"]["metadata"]["labels"]
    claims = set()
    for owner, template in templates.items():
        spec = template["spec"]
        assert spec["affinity"]["nodeAffinity"] == node_affinity, owner
        first, ours = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert first == user_term and ours["topologyKey"] == "kubernetes.io/hostname", owner
        for labels in (tmpl["metadata"]["labels"] for tmpl in templates.values()):
            assert selects(ours["labelSelector"], labels) == (labels == portal_labels), owner
        claims |= {v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {f"{FULLNAME}-data"}, "one claim, mounted by the portal and the agent"
    postgresql = {"type": "postgresql", "postgresql": {"urlSecret": {"name": "db"}}}
    for values in (merged(PORTAL_ON, {"mode": mode, "portal": {"sqliteSameNode": False}}),
                   merged(PORTAL_ON, {"mode": mode, "database": postgresql})):  # fmt: skip
        assert all("affinity" not in spec for _, spec in pod_specs(render(chart, values)))


def test_pods_restart_when_the_mounted_config_changes(chart):
    """Turning the portal on adds portal.tokens_file to the config; the scheduler's pod must pick it up."""
    sums = set()
    for values in ({"mode": "scheduler"}, merged({"mode": "scheduler"}, PORTAL_ON)):
        docs = render(chart, values)
        (config_map,) = by_kind(docs, "ConfigMap")
        expected = hashlib.sha256(config_map["data"]["evidence-agent.yaml"].rstrip("\n").encode()).hexdigest()
        for owner, template in pod_templates(docs):
            assert template["metadata"]["annotations"]["checksum/config"] == expected, owner
        sums.add(expected)
    assert len(sums) == 2


def test_notes_say_how_to_reach_the_portal(chart):
    def notes(values: dict[str, Any]) -> str:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)[f"{CHART.name}/templates/NOTES.txt"]

    assert "portal" not in notes({}).lower()
    text = notes(PORTAL_ON)
    assert f"kubectl -n {NAMESPACE} port-forward svc/{PORTAL_NAME} 8080:80" in text
    assert "Secret portal-tokens" in text and "PostgreSQL is recommended" in text
    assert "Downloads: bundles are unsigned; set portal.signKeySecret" in text
    text = notes(SIGNING_ON)
    assert "key signer.key of Secret evidence-portal-signer" in text and "--public-key signer.pub" in text
    text = notes(example_values("portal"))
    assert "https://evidence.example.com/" in text and "port-forward" not in text and "podAffinity" not in text


# --------------------------------------------------------------------------- acceptance 6: the rendered commands run


def sandbox_target(endpoint: str, name: str = "prod", kinds: tuple[str, ...] = ("aws.iam.account.password_policy",
                   "aws.s3.bucket.encryption")) -> dict[str, Any]:  # fmt: skip
    return {"name": name, "provider": "aws", "regions": ["eu-west-1"], "endpoint_url": endpoint, "kinds": list(kinds),
            "exclude_kinds": MOTO_BLIND}


def stored_runs(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        return list_runs(engine)
    finally:
        engine.dispose()


@pytest.fixture
def sandbox_env(sandbox_endpoint: str) -> dict[str, str]:
    from collector.sandbox.base import SANDBOX_CREDENTIALS

    return dict(SANDBOX_CREDENTIALS)  # what IRSA / Workload Identity provide in the cluster


def test_the_cronjob_command_collects_the_sandbox(chart, sandbox_endpoint, sandbox_env, tmp_path):
    docs = render(chart, {"config": {"targets": [sandbox_target(sandbox_endpoint)]}})
    (_, spec), = pod_specs(docs)
    pod = Pod(docs, spec, tmp_path)
    done = pod.run(extra_env=sandbox_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run 1 complete" in done.stdout
    assert (pod.mounts["/var/lib/evidence-agent"] / "evidence.db").exists(), "the database is on the claim"
    database = pod.env["EVIDENCE_AGENT_DATABASE_URL"]
    assert [r["status"] for r in stored_runs(database)] == ["complete"]


def test_the_sharded_commands_collect_every_target_once(chart, pg_url, sandbox_endpoint, sandbox_env, tmp_path):
    names = ["acct-a", "acct-b", "acct-d"]
    values = merged(example_values("sharded"), {"shards": 2, "config": {"targets": [
        sandbox_target(sandbox_endpoint, n, ("aws.iam.account.password_policy",)) for n in names]},
        "networkPolicy": {"enabled": False}})  # fmt: skip
    docs = render(chart, values)
    (hook,) = by_kind(docs, "Job")
    (cronjob,) = by_kind(docs, "CronJob")
    secrets = {("evidence-agent-db", "url"): pg_url}
    migrated = Pod(docs, hook["spec"]["template"]["spec"], tmp_path / "hook", secrets=secrets).run()
    assert migrated.returncode == 0, migrated.stderr  # the pre-install hook
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for index in range(2):  # the Job's pods, here one after the other
        pod = Pod(docs, spec, tmp_path / f"pod-{index}", secrets=secrets,
                  annotations={"batch.kubernetes.io/job-completion-index": str(index)})  # fmt: skip
        assert pod.argv()[-2:] == ["--shard", f"{index}/2"]
        done = pod.run(extra_env=sandbox_env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"shard {index}/2: ")
    assert all(shard_targets(names, Shard(i, 2)) for i in range(2)), "both pods have work"
    per_run = sorted(sorted(r["targets"]) for r in stored_runs(pg_url))
    shards = sorted(sorted(shard_targets(names, Shard(i, 2))) for i in range(2))
    assert per_run == shards and sorted(t for run in per_run for t in run) == names


def test_the_scheduler_command_and_its_liveness_probe(chart, sandbox_endpoint, sandbox_env, tmp_path):
    target = sandbox_target(sandbox_endpoint) | {"schedule": "0 3 * * *"}
    values = {"mode": "scheduler", "config": {"targets": [target]}}
    docs = render(chart, values)
    (deployment,) = by_kind(docs, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    pod = Pod(docs, spec, tmp_path)
    probe = spec["containers"][0]["livenessProbe"]["exec"]["command"]
    stale = pod.run(probe)
    assert stale.returncode == 1 and "unhealthy" in stale.stderr  # no heartbeat yet
    proc = pod.start(extra_env=sandbox_env)
    started = threading.Event()

    def watch() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            if '"scheduler started"' in line:
                started.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert started.wait(timeout=120), "the scheduler never started"
        alive = pod.run(probe)
        assert alive.returncode == 0, alive.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    heartbeat = pod.mounts["/tmp"] / "evidence-agent" / "heartbeat"
    assert heartbeat.exists()
    assert pod.run([*probe[:-1], "0"]).returncode == 1  # older than 0 seconds: the probe does fail


POD_PATH = re.compile(r"/(?:etc|var|tmp|opt|usr|home|run)/[\w./-]*")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_path_a_container_uses_is_on_one_of_its_mounts(rendered, name):
    """With a read-only root filesystem, a path outside the mounts could not be written; and the harness
    above maps exactly the mounts, so a run could not pass on a path the pod does not have."""
    for owner, spec in pod_specs(rendered[name]):
        for container in spec["containers"]:
            mounts = [m["mountPath"] for m in container["volumeMounts"]]
            probe = container.get("livenessProbe", {}).get("exec", {}).get("command", [])
            words = [*container["args"], *probe, *(e.get("value", "") for e in container.get("env", []))]
            for path in (p for w in words for p in POD_PATH.findall(w)):
                assert any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts), (owner, path)
