"""Sandbox resilience and data-governance estate: Macie, AWS Backup, Auto Scaling, S3 lifecycle rules.

The EU side (eu-west-1) is done right: Macie on; a backup vault encrypted with a customer key and held by
Vault Lock in compliance mode; a daily plan for the message store and chat messages table that keeps 35
days, archives monthly backups for a year and copies every recovery point to a vault in eu-central-1; a
chat API Auto Scaling group over two Availability Zones with a target-tracking policy. The US side
(us-east-1) is legacy: Macie never enabled; an unlocked vault; a weekly plan that keeps backups three
days and copies nothing; a reports-archive plan nobody assigned any resource to; a single-instance
worker group of fixed size in one zone. Runs after the base and data seeders (it lifecycles the base
buckets and backs up the data seeder's database and table): audit logs expire after 400 days and chat
media drops old versions after 30 days, while the legacy exports bucket has no lifecycle rule and the
web assets bucket only moves objects to cheaper storage.
"""

from __future__ import annotations

import json
from typing import Any

from collector.sandbox.base import ACCOUNT_ID, client

EU, US, CENTRAL = "eu-west-1", "us-east-1", "eu-central-1"  # CENTRAL: the EU disaster-recovery region
BACKUP_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "backup.amazonaws.com"}}],
}


def install_moto_shims() -> None:
    """moto 5.2 implements backup plans but not their resource assignments (CreateBackupSelection,
    ListBackupSelections); answer them as AWS does, kept on moto's plan. Only reaches a moto running in
    this process (the demo's and the tests' ThreadedMotoServer, `mock_aws`); inert once moto implements
    the calls."""
    try:
        from moto.backup.exceptions import ResourceNotFoundException
        from moto.backup.responses import BackupResponse
        from moto.core.utils import unix_time
        from moto.moto_api._internal import mock_random
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return
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
    _vault(endpoint, EU, "acme-eu-backups", key["KeyMetadata"]["Arn"], **locked)
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

    _vault(endpoint, US, "legacy-backups")
    weekly = {"RuleName": "weekly", "TargetBackupVaultName": "legacy-backups",
              "ScheduleExpression": "cron(0 5 ? * SUN *)", "Lifecycle": {"DeleteAfterDays": 3}}  # fmt: skip
    _plan(endpoint, US, "legacy-weekly", [weekly], role, f"arn:aws:rds:{US}:{ACCOUNT_ID}:db:legacy-reports")
    archive = {**weekly, "RuleName": "quarterly", "ScheduleExpression": "cron(0 5 1 */3 ? *)",
               "Lifecycle": {"DeleteAfterDays": 730}}  # fmt: skip
    _plan(endpoint, US, "reports-archive", [archive], role)  # no resource assigned: protects nothing


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
