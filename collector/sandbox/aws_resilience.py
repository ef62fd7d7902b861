"""Sandbox resilience and data-governance estate: Macie, AWS Backup, Auto Scaling, S3 lifecycle rules.

The EU side (eu-west-1) is done right: Macie on; a backup vault encrypted with a customer key and held by
Vault Lock in compliance mode; a daily plan for the message store and chat messages table that keeps 35
days, archives monthly backups for a year and copies every recovery point to a vault in eu-central-1; a
weekly restore testing plan that test-restores the latest snapshot (within 30 days) of both from that
vault; a chat API Auto Scaling group over two Availability Zones with a target-tracking policy. The US side
(us-east-1) is legacy: Macie never enabled; an unlocked vault; a weekly plan that keeps backups three
days and copies nothing; a reports-archive plan nobody assigned any resource to; a restore testing plan
without a selection, so nothing is ever test-restored; a single-instance worker group of fixed size in
one zone. Runs after the base and data seeders (it lifecycles the base buckets and backs up, and
test-restores, the data seeder's database and table): audit logs expire after 400 days and chat media
drops old versions after 30 days, while the legacy exports bucket has no lifecycle rule and the web
assets bucket only moves objects to cheaper storage.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from collector.sandbox.base import ACCOUNT_ID, client

EU, US, CENTRAL = "eu-west-1", "us-east-1", "eu-central-1"  # CENTRAL: the EU disaster-recovery region
BACKUP_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "backup.amazonaws.com"}}],
}


def install_moto_shims() -> None:
    """Where moto 5.2 is not the AWS Backup API, answer as AWS does. Only reaches a moto running in this
    process (the demo's and the tests' ThreadedMotoServer, `mock_aws`); install before the server first
    serves AWS Backup (a server routes a service's paths as they were then). Each part is inert once moto
    implements its calls.

    - Backup plans' resource assignments (CreateBackupSelection, ListBackupSelections): kept on moto's plan.
    - Restore testing (Create/Get/List/DeleteRestoreTestingPlan, Create/Get/List/DeleteRestoreTestingSelection):
      plans and their selections kept on the region's backend, with AWS's defaults, name rules, pages and errors.
    """
    try:
        from moto.backup import urls as backup_urls
        from moto.backup.exceptions import ResourceNotFoundException
        from moto.backup.responses import BackupResponse
        from moto.core.utils import unix_time
        from moto.moto_api._internal import mock_random
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return
    if not hasattr(BackupResponse, "list_restore_testing_plans"):
        for path in RESTORE_TESTING_PATHS:
            backup_urls.url_paths[path] = BackupResponse.dispatch
        BackupResponse.create_restore_testing_plan = _create_restore_testing_plan
        BackupResponse.get_restore_testing_plan = _get_restore_testing_plan
        BackupResponse.list_restore_testing_plans = _list_restore_testing_plans
        BackupResponse.delete_restore_testing_plan = _delete_restore_testing_plan
        BackupResponse.create_restore_testing_selection = _create_restore_testing_selection
        BackupResponse.get_restore_testing_selection = _get_restore_testing_selection
        BackupResponse.list_restore_testing_selections = _list_restore_testing_selections
        BackupResponse.delete_restore_testing_selection = _delete_restore_testing_selection
    if hasattr(BackupResponse, "list_backup_selections"):
        return

    def plan_of(response: Any) -> Any:
        plan_id = response.path.split("/plans/", 1)[1].split("/", 1)[0]
        plan = response.backup_backend.plans.get(plan_id)
        if plan is None or plan.deletion_date is not None:
            raise ResourceNotFoundException(msg=f"Failed reading Backup plan {plan_id}")
        if not hasattr(plan, "selections"):
            plan.selections = []
        return plan

    def create_backup_selection(self: Any) -> str:
        plan = plan_of(self)
        params = json.loads(self.body)
        selection = params["BackupSelection"]
        entry = {
            "SelectionId": str(mock_random.uuid4()),
            "SelectionName": selection["SelectionName"],
            "BackupPlanId": plan.backup_plan_id,
            "CreationDate": unix_time(),
            "CreatorRequestId": params.get("CreatorRequestId"),
            "IamRoleArn": selection["IamRoleArn"],
        }
        plan.selections.append({k: v for k, v in entry.items() if v is not None})
        return json.dumps({k: entry[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})

    def list_backup_selections(self: Any) -> str:
        return json.dumps({"BackupSelectionsList": plan_of(self).selections})

    BackupResponse.create_backup_selection = create_backup_selection
    BackupResponse.list_backup_selections = list_backup_selections


# --------------------------------------------------------------------------- restore testing (moto shim)

RESTORE_TESTING_PATHS = (
    "{0}/restore-testing/plans/?$",
    "{0}/restore-testing/plans/(?P<name>[^/]+)/?$",
    "{0}/restore-testing/plans/(?P<name>[^/]+)/selections/?$",
    "{0}/restore-testing/plans/(?P<name>[^/]+)/selections/(?P<selection>[^/]+)/?$",
)
RESTORE_TESTING_NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")  # plan and selection names, as AWS allows them
# What the list calls answer of each plan and selection (the get calls answer everything kept).
PLAN_LIST_FIELDS = ("CreationTime", "LastExecutionTime", "LastUpdateTime", "RestoreTestingPlanArn",
                    "RestoreTestingPlanName", "ScheduleExpression", "ScheduleExpressionTimezone",
                    "StartWindowHours")  # fmt: skip
SELECTION_LIST_FIELDS = ("CreationTime", "IamRoleArn", "ProtectedResourceType", "RestoreTestingPlanName",
                         "RestoreTestingSelectionName", "ValidationWindowHours")  # fmt: skip
MAX_SELECTED_ARNS = 30


def _error(code: str, message: str) -> Exception:
    from moto.backup.exceptions import BackupClientError

    return BackupClientError(code, message)


def _testing_plans(response: Any) -> dict[str, dict[str, Any]]:
    """The region's restore testing plans by name: {"plan": RestoreTestingPlanForGet, "selections": {name: ...}}."""
    backend = response.backup_backend
    if not hasattr(backend, "evidence_agent_restore_testing"):
        backend.evidence_agent_restore_testing = {}
    return backend.evidence_agent_restore_testing


def _path_names(response: Any) -> list[str]:
    """[plan name] or [plan name, selection name] from `/restore-testing/plans/{plan}[/selections/{selection}]`."""
    parts = response.path.split("/restore-testing/plans", 1)[1].strip("/").split("/")
    return [unquote(p) for i, p in enumerate(parts) if p and i != 1]


def _testing_plan(response: Any) -> dict[str, Any]:
    name = _path_names(response)[0]
    found = _testing_plans(response).get(name)
    if found is None:
        raise _error("ResourceNotFoundException", f"Restore testing plan {name} does not exist")
    return found


def _testing_selection(response: Any) -> tuple[dict[str, Any], str]:
    found = _testing_plan(response)
    name = _path_names(response)[1]
    if name not in found["selections"]:
        raise _error("ResourceNotFoundException", f"Restore testing selection {name} does not exist")
    return found, name


def _valid_name(name: str, what: str) -> str:
    if not RESTORE_TESTING_NAME.match(name):
        raise _error("InvalidParameterValueException",
                     f"{what} must consist of 1 to 50 alphanumeric characters and underscores: {name}")  # fmt: skip
    return name


def _page(response: Any, items: list[dict[str, Any]], key: str) -> str:
    """One page of `items` as AWS pages them: at most MaxResults, then a NextToken for the rest."""
    try:
        size = int(response.querystring.get("MaxResults", ["1000"])[0])
        start = int(response.querystring.get("NextToken", ["0"])[0])
    except ValueError:
        raise _error("InvalidParameterValueException", "Invalid MaxResults or NextToken") from None
    answer: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        answer["NextToken"] = str(start + size)
    return json.dumps(answer)


def _without_none(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v is not None}


def _create_restore_testing_plan(self: Any) -> tuple[int, dict[str, str], str]:
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random
    from moto.utilities.utils import get_partition

    params = json.loads(self.body)
    spec = params["RestoreTestingPlan"]
    name = _valid_name(spec["RestoreTestingPlanName"], "RestoreTestingPlanName")
    plans = _testing_plans(self)
    if name in plans:
        raise _error("AlreadyExistsException", f"Restore testing plan {name} already exists")
    chosen = spec["RecoveryPointSelection"]
    for required in ("Algorithm", "IncludeVaults", "RecoveryPointTypes"):
        if not chosen.get(required):
            raise _error("MissingParameterValueException", f"RecoveryPointSelection.{required} is required")
    region, account = self.backup_backend.region_name, self.backup_backend.account_id
    plan = _without_none({
        "CreationTime": unix_time(),
        "CreatorRequestId": params.get("CreatorRequestId"),
        "RecoveryPointSelection": {
            "Algorithm": chosen["Algorithm"],
            "ExcludeVaults": chosen.get("ExcludeVaults", []),
            "IncludeVaults": chosen["IncludeVaults"],
            "RecoveryPointTypes": chosen["RecoveryPointTypes"],
            "SelectionWindowDays": chosen.get("SelectionWindowDays", 30),
        },
        "RestoreTestingPlanArn": f"arn:{get_partition(region)}:backup:{region}:{account}:restore-testing-plan:"
                                 f"{name}-{mock_random.uuid4()}",
        "RestoreTestingPlanName": name,
        "ScheduleExpression": spec.get("ScheduleExpression") or "cron(0 5 ? * * *)",
        "ScheduleExpressionTimezone": spec.get("ScheduleExpressionTimezone") or "Etc/UTC",
        "StartWindowHours": spec.get("StartWindowHours", 24),
    })  # fmt: skip
    plans[name] = {"plan": plan, "selections": {}}
    created = {k: plan[k] for k in ("CreationTime", "RestoreTestingPlanArn", "RestoreTestingPlanName")}
    return 201, {"status": "201"}, json.dumps(created)  # moto takes the status from the headers


def _get_restore_testing_plan(self: Any) -> str:
    return json.dumps({"RestoreTestingPlan": _testing_plan(self)["plan"]})


def _list_restore_testing_plans(self: Any) -> str:
    entries = [{k: found["plan"][k] for k in PLAN_LIST_FIELDS if k in found["plan"]}
               for found in _testing_plans(self).values()]  # fmt: skip
    return _page(self, entries, "RestoreTestingPlans")


def _delete_restore_testing_plan(self: Any) -> tuple[int, dict[str, str], str]:
    found = _testing_plan(self)
    if found["selections"]:
        raise _error("InvalidRequestException",
                     "Restore testing plan has restore testing selections: delete them first")  # fmt: skip
    del _testing_plans(self)[found["plan"]["RestoreTestingPlanName"]]
    return 204, {"status": "204"}, ""


def _create_restore_testing_selection(self: Any) -> tuple[int, dict[str, str], str]:
    from moto.core.utils import unix_time

    found = _testing_plan(self)
    params = json.loads(self.body)
    spec = params["RestoreTestingSelection"]
    name = _valid_name(spec["RestoreTestingSelectionName"], "RestoreTestingSelectionName")
    if name in found["selections"]:
        raise _error("AlreadyExistsException", f"Restore testing selection {name} already exists")
    arns, conditions = spec.get("ProtectedResourceArns"), spec.get("ProtectedResourceConditions")
    if not arns and not conditions:
        raise _error("MissingParameterValueException", "ProtectedResourceArns or ProtectedResourceConditions needed")
    if arns and "*" in arns and len(arns) > 1:
        raise _error("InvalidParameterValueException", "ProtectedResourceArns: the wildcard or specific ARNs, not both")
    if arns and arns != ["*"] and conditions:
        raise _error("InvalidParameterValueException", "ProtectedResourceConditions go with the wildcard only")
    if arns and len(arns) > MAX_SELECTED_ARNS:
        raise _error("InvalidParameterValueException", f"At most {MAX_SELECTED_ARNS} ProtectedResourceArns")
    plan = found["plan"]
    selection = _without_none({
        "CreationTime": unix_time(),
        "CreatorRequestId": params.get("CreatorRequestId"),
        "IamRoleArn": spec["IamRoleArn"],
        "ProtectedResourceArns": arns,
        "ProtectedResourceConditions": conditions,
        "ProtectedResourceType": spec["ProtectedResourceType"],
        "RestoreMetadataOverrides": spec.get("RestoreMetadataOverrides"),
        "RestoreTestingPlanName": plan["RestoreTestingPlanName"],
        "RestoreTestingSelectionName": name,
        "ValidationWindowHours": spec.get("ValidationWindowHours"),
    })  # fmt: skip
    found["selections"][name] = selection
    created = {
        "CreationTime": selection["CreationTime"],
        "RestoreTestingPlanArn": plan["RestoreTestingPlanArn"],
        "RestoreTestingPlanName": plan["RestoreTestingPlanName"],
        "RestoreTestingSelectionName": name,
    }
    return 201, {"status": "201"}, json.dumps(created)  # moto takes the status from the headers


def _get_restore_testing_selection(self: Any) -> str:
    found, name = _testing_selection(self)
    return json.dumps({"RestoreTestingSelection": found["selections"][name]})


def _list_restore_testing_selections(self: Any) -> str:
    entries = [{k: s[k] for k in SELECTION_LIST_FIELDS if k in s} for s in _testing_plan(self)["selections"].values()]
    return _page(self, entries, "RestoreTestingSelections")


def _delete_restore_testing_selection(self: Any) -> tuple[int, dict[str, str], str]:
    found, name = _testing_selection(self)
    del found["selections"][name]
    return 204, {"status": "204"}, ""


# --------------------------------------------------------------------------- seeding


def _macie(endpoint: str) -> None:
    client("macie2", endpoint, EU).enable_macie(findingPublishingFrequency="FIFTEEN_MINUTES")
    client("macie2", endpoint, US).disable_macie()  # moto starts every region with Macie on


def _vault(endpoint: str, region: str, name: str, key_arn: str | None = None, **lock: int) -> str:
    backup = client("backup", endpoint, region)
    vault = backup.create_backup_vault(BackupVaultName=name, **({"EncryptionKeyArn": key_arn} if key_arn else {}))
    if lock:
        backup.put_backup_vault_lock_configuration(BackupVaultName=name, **lock)
    return vault["BackupVaultArn"]


def _plan(endpoint: str, region: str, name: str, rules: list[dict[str, Any]], role: str, *resources: str) -> None:
    backup = client("backup", endpoint, region)
    plan_id = backup.create_backup_plan(BackupPlan={"BackupPlanName": name, "Rules": rules})["BackupPlanId"]
    if resources:
        backup.create_backup_selection(
            BackupPlanId=plan_id,
            BackupSelection={"SelectionName": f"{name}-resources", "IamRoleArn": role, "Resources": list(resources)},
        )


def _backup(endpoint: str) -> None:
    role = client("iam", endpoint, US).create_role(
        RoleName="acme-backup", AssumeRolePolicyDocument=json.dumps(BACKUP_TRUST)
    )["Role"]["Arn"]
    key = client("kms", endpoint, EU).create_key(Description="acme backups", KeyUsage="ENCRYPT_DECRYPT")
    locked = {"MinRetentionDays": 7, "MaxRetentionDays": 400, "ChangeableForDays": 3}
    eu_vault = _vault(endpoint, EU, "acme-eu-backups", key["KeyMetadata"]["Arn"], **locked)
    dr = _vault(endpoint, CENTRAL, "acme-dr-eu-central", **locked)
    copy = {"DestinationBackupVaultArn": dr, "Lifecycle": {"DeleteAfterDays": 35}}
    _plan(
        endpoint, EU, "acme-daily-eu",
        [
            {"RuleName": "daily", "TargetBackupVaultName": "acme-eu-backups", "ScheduleExpression": "cron(0 3 * * ? *)",
             "Lifecycle": {"DeleteAfterDays": 35}, "CopyActions": [copy]},
            {"RuleName": "monthly", "TargetBackupVaultName": "acme-eu-backups",
             "ScheduleExpression": "cron(0 4 1 * ? *)",
             "Lifecycle": {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365}},
        ],
        role,
        f"arn:aws:rds:{EU}:{ACCOUNT_ID}:db:message-store",
        f"arn:aws:dynamodb:{EU}:{ACCOUNT_ID}:table/chat-messages",
    )  # fmt: skip

    us_vault = _vault(endpoint, US, "legacy-backups")
    weekly = {"RuleName": "weekly", "TargetBackupVaultName": "legacy-backups",
              "ScheduleExpression": "cron(0 5 ? * SUN *)", "Lifecycle": {"DeleteAfterDays": 3}}  # fmt: skip
    _plan(endpoint, US, "legacy-weekly", [weekly], role, f"arn:aws:rds:{US}:{ACCOUNT_ID}:db:legacy-reports")
    archive = {**weekly, "RuleName": "quarterly", "ScheduleExpression": "cron(0 5 1 */3 ? *)",
               "Lifecycle": {"DeleteAfterDays": 730}}  # fmt: skip
    _plan(endpoint, US, "reports-archive", [archive], role)  # no resource assigned: protects nothing
    _restore_tests(endpoint, role, eu_vault, us_vault)


def _restore_tests(endpoint: str, role: str, eu_vault: str, us_vault: str) -> None:
    """EU: a weekly restore test of the latest snapshot (within 30 days) of the message store and chat messages
    table from the EU vault. US: a restore testing plan nobody gave a selection, so nothing is test-restored."""
    eu = client("backup", endpoint, EU)
    eu.create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": "acme_weekly_restore_test", "ScheduleExpression": "cron(0 4 ? * SUN *)",
        "ScheduleExpressionTimezone": "Europe/Dublin", "StartWindowHours": 24,
        "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": [eu_vault],
                                   "RecoveryPointTypes": ["SNAPSHOT"], "SelectionWindowDays": 30},
    })  # fmt: skip
    for name, kind, arn in (
        ("message_store", "RDS", f"arn:aws:rds:{EU}:{ACCOUNT_ID}:db:message-store"),
        ("chat_messages", "DynamoDB", f"arn:aws:dynamodb:{EU}:{ACCOUNT_ID}:table/chat-messages"),
    ):
        eu.create_restore_testing_selection(RestoreTestingPlanName="acme_weekly_restore_test", RestoreTestingSelection={
            "RestoreTestingSelectionName": name, "ProtectedResourceType": kind, "IamRoleArn": role,
            "ProtectedResourceArns": [arn], "ValidationWindowHours": 4,
        })  # fmt: skip
    client("backup", endpoint, US).create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": "legacy_restore_test", "ScheduleExpression": "cron(0 6 ? * MON *)",
        "RecoveryPointSelection": {"Algorithm": "RANDOM_WITHIN_WINDOW", "IncludeVaults": [us_vault],
                                   "RecoveryPointTypes": ["SNAPSHOT"], "SelectionWindowDays": 7},
    })  # fmt: skip  # no selection: nothing is restored


def _group(endpoint: str, region: str, name: str, zones: int, **capacity: Any) -> None:
    ec2 = client("ec2", endpoint, region)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
                     key=lambda s: s["AvailabilityZone"])[:zones]  # fmt: skip
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image,
                                                                             "InstanceType": "t3.small"})  # fmt: skip
    client("autoscaling", endpoint, region).create_auto_scaling_group(
        AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": name},
        VPCZoneIdentifier=",".join(s["SubnetId"] for s in subnets), **capacity,
    )  # fmt: skip


def _autoscaling(endpoint: str) -> None:
    _group(endpoint, EU, "chat-api", 2, MinSize=2, MaxSize=10, DesiredCapacity=2, HealthCheckType="ELB",
           HealthCheckGracePeriod=120)  # fmt: skip
    client("autoscaling", endpoint, EU).put_scaling_policy(
        AutoScalingGroupName="chat-api", PolicyName="cpu-50", PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={"PredefinedMetricSpecification": {"PredefinedMetricType":
                                     "ASGAverageCPUUtilization"}, "TargetValue": 50.0},
    )  # fmt: skip
    _group(endpoint, US, "legacy-workers", 1, MinSize=1, MaxSize=1, DesiredCapacity=1, HealthCheckType="EC2")


def _lifecycle(endpoint: str) -> None:
    eu = client("s3", endpoint, EU)
    eu.put_bucket_lifecycle_configuration(
        Bucket="acme-audit-logs-eu",
        LifecycleConfiguration={"Rules": [{
            "ID": "archive-then-expire", "Status": "Enabled", "Filter": {"Prefix": ""},
            "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}], "Expiration": {"Days": 400},
        }]},
    )  # fmt: skip
    eu.put_bucket_lifecycle_configuration(
        Bucket="acme-chat-media-eu",
        LifecycleConfiguration={"Rules": [{
            "ID": "expire-old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }]},
    )  # fmt: skip
    client("s3", endpoint, CENTRAL).put_bucket_lifecycle_configuration(
        Bucket="acme-web-assets",
        LifecycleConfiguration={"Rules": [{
            "ID": "cheaper-storage", "Status": "Enabled", "Filter": {"Prefix": "images/"},
            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
        }]},
    )  # fmt: skip


def seed(endpoint: str) -> None:
    """EU done right, US legacy; needs the base buckets and the data seeder's database and table."""
    install_moto_shims()
    _macie(endpoint)
    _backup(endpoint)
    _autoscaling(endpoint)
    _lifecycle(endpoint)
