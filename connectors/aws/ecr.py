"""ECR private repositories: image scanning (repository and registry level), tag mutability, encryption at rest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import CollectionError, Evidence, GapReason, evidence_kind, redact, to_jsonable

REPOSITORY_TYPE = "AWS::ECR::Repository"
BATCH_SIZE = 25  # the most repository names BatchGetRepositoryScanningConfiguration takes at once
GONE = "REPOSITORY_NOT_FOUND"
# Encryption at rest AWS applies to a repository that names no other (ECR's documented default).
DEFAULT_ENCRYPTION = "AES256"


@evidence_kind(
    "aws.ecr.repository.configuration",
    regional=True,
    permissions=(
        "ecr:DescribeRepositories",
        "ecr:GetRegistryScanningConfiguration",
        "ecr:BatchGetRepositoryScanningConfiguration",
    ),
)
def collect_repository_configuration(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Every ECR private repository: scan on push and the registry's scanning, tag mutability, encryption."""
    ecr = aws.client("ecr", scope)
    repositories, list_op = list_all(ecr, "describe_repositories", "repositories")
    if not repositories:
        return
    registry_answer = ecr.get_registry_scanning_configuration()
    registry_op = operation("GetRegistryScanningConfiguration", {}, registry_answer)
    registry = to_jsonable(strip_metadata(registry_answer))

    def scanning(names: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        params = {"repositoryNames": names}
        resp = ecr.batch_get_repository_scanning_configuration(**params)
        return to_jsonable(strip_metadata(resp)), operation("BatchGetRepositoryScanningConfiguration", params, resp)

    names = [r["repositoryName"] for r in repositories]
    batches = [names[i : i + BATCH_SIZE] for i in range(0, len(names), BATCH_SIZE)]
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    gone: set[str] = set()
    for answer, op in aws.fan_out(scanning, batches):
        for config in answer["scanningConfigurations"]:
            found[config["repositoryName"]] = (config, op)
        for failure in answer.get("failures", []):
            if failure["failureCode"] != GONE:
                raise CollectionError(
                    GapReason.ERROR,
                    f"{failure['failureCode']}: {failure.get('failureReason', '')} ({failure['repositoryName']})",
                    operation="BatchGetRepositoryScanningConfiguration",
                )
            gone.add(failure["repositoryName"])  # deleted since the listing: no evidence, its state ends
    for repository in repositories:
        name = repository["repositoryName"]
        if name in gone:
            continue
        if name not in found:
            raise CollectionError(
                GapReason.ERROR,
                f"no scanning configuration answered for repository {name}",
                operation="BatchGetRepositoryScanningConfiguration",
            )
        config, batch_op = found[name]
        provenance = source(aws, "ecr", [list_op, registry_op, batch_op])
        yield observe_repository_configuration(repository, registry, config, provenance)


def observe_repository_configuration(
    repository: dict[str, Any],
    registry: dict[str, Any],
    scanning: dict[str, Any],
    provenance: dict[str, Any],
) -> Evidence:
    """`repository`: one DescribeRepositories item; `registry`: the GetRegistryScanningConfiguration answer;
    `scanning`: the repository's item of BatchGetRepositoryScanningConfiguration (its effective frequency)."""
    arn = repository["repositoryArn"]
    encryption = repository.get("encryptionConfiguration") or {}
    exclusions = repository.get("imageTagMutabilityExclusionFilters") or []
    return Evidence(
        kind="aws.ecr.repository.configuration",
        resource_id=arn,
        resource_type=REPOSITORY_TYPE,
        region=arn.split(":")[3],
        observed={
            "scan_on_push": bool(repository.get("imageScanningConfiguration", {}).get("scanOnPush", False)),
            "registry_scan_type": registry["scanningConfiguration"]["scanType"],
            "scan_frequency": scanning.get("scanFrequency"),
            "tag_mutability": repository["imageTagMutability"],
            "tag_mutability_exclusions": sorted(f["filter"] for f in exclusions),
            "encryption_type": encryption.get("encryptionType", DEFAULT_ENCRYPTION),
            "kms_key": encryption.get("kmsKey"),
        },
        source=provenance,
        raw=redact(to_jsonable({"repository": repository, "registry_scanning": registry, "scanning": scanning})),
    )
