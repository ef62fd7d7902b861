"""Data-store labels: every store of information names its owner and carries a classification level.

The tags are the organization's own labels, so the keys and the levels of the classification scheme are
policy parameters (`owner_tag_keys`, `classification_tag_keys`, `classification_levels`). Keys are
compared without regard to case; a label's value is compared without regard to case or surrounding
spaces.
"""

from __future__ import annotations

from collections.abc import Mapping

from controls.base import Policy, Subject, Verdict, check

# One tags kind per resource type that stores information at rest.
DATA_STORE_TAG_KINDS = (
    "aws.s3.bucket.tags",
    "aws.dynamodb.table.tags",
    "aws.rds.db_instance.tags",
    "aws.rds.db_cluster.tags",
    "aws.ec2.volume.tags",
)


def labelled(tags: Mapping[str, str], keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """The (key, value) tags whose key is one of `keys` (any case), with a value that is not blank."""
    wanted = {k.lower() for k in keys}
    return [(k, v.strip()) for k, v in sorted(tags.items()) if k.lower() in wanted and v and v.strip()]


@check("aws.tags.data_store.owner_tagged", reads=DATA_STORE_TAG_KINDS)
def owner_tagged(subject: Subject, policy: Policy) -> Verdict:
    """The data store carries an owner tag with a value (an owner of the asset, as the inventory needs)."""
    found = labelled(subject.observed["tags"], policy.owner_tag_keys)
    if not found:
        return Verdict.failed(f"no owner: no tag {' or '.join(policy.owner_tag_keys)} with a value")
    key, value = found[0]
    return Verdict.passed(f"owner {value} (tag {key})")


@check("aws.tags.data_store.classified", reads=DATA_STORE_TAG_KINDS)
def classified(subject: Subject, policy: Policy) -> Verdict:
    """The data store carries one classification level of the scheme (a label of the information it holds)."""
    keys = " or ".join(policy.classification_tag_keys)
    found = labelled(subject.observed["tags"], policy.classification_tag_keys)
    if not found:
        return Verdict.failed(f"not classified: no tag {keys} with a value")
    levels = {level.strip().lower(): level for level in policy.classification_levels}
    values = {value.lower() for _, value in found}
    if len(values) > 1:
        given = ", ".join(f"{k}={v}" for k, v in found)
        return Verdict.failed(f"conflicting classification tags: {given}")
    key, value = found[0]
    if value.lower() not in levels:
        return Verdict.failed(f"classification {value!r} (tag {key}) is not a level of the scheme "
                              f"({', '.join(policy.classification_levels)})")  # fmt: skip
    return Verdict.passed(f"classified {levels[value.lower()]} (tag {key})")
