"""Data residency: resources that hold or process data sit in the regions the target allows."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

# One kind per resource type that can hold or process personal data, so each resource is judged
# once (other kinds of the same resource carry the same region).
DATA_RESOURCE_KINDS = (
    "aws.s3.bucket.encryption",
    "aws.ec2.volume.encryption",
    "aws.rds.db_instance.encryption",
    "aws.rds.db_cluster.encryption",
    "aws.dynamodb.table.encryption",
    "aws.sns.topic.encryption",
    "aws.sqs.queue.encryption",
    "aws.secretsmanager.secret.rotation",
    "aws.kms.key.rotation",
    "aws.eks.cluster.endpoint_access",
    "aws.backup.vault.configuration",  # recovery points are copies of the data they back up
)


@check("aws.residency.resource.in_allowed_regions", reads=DATA_RESOURCE_KINDS)
def resource_in_allowed_regions(subject: Subject, policy: Policy) -> Verdict:
    """Each data-bearing resource is in a region the target's residency policy allows."""
    if not policy.allowed_regions:
        return Verdict.not_applicable("no allowed regions configured for this target")
    if subject.region == "global":
        return Verdict.not_applicable("not a regional resource")
    allowed = ", ".join(policy.allowed_regions)
    if policy.region_allowed(subject.region):
        return Verdict.passed(f"region {subject.region} is allowed ({allowed})")
    return Verdict.failed(f"region {subject.region} is outside the allowed regions ({allowed})")
