"""Resource tags (labels) as evidence: AWS tag lists as a sorted map, with secret-looking tags redacted.

AWS answers tags as lists of `{"Key": k, "Value": v}` (S3 `TagSet`, RDS `TagList`, EC2 and DynamoDB
`Tags`). The generic `connectors.base.redact` cannot see a secret there, because the secret's name is
the *value* of `Key`: a tag `db-password` holding a password would reach the store whole. A tag whose
key names a secret (`connectors.base.names_a_secret`) keeps its key and loses its value, in `observed`
(`tag_map`) and in `raw` (`redact_tags`), so an auditor still sees that the tag exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import REDACTED, names_a_secret, redact

EMPTY = (None, "")  # an empty value hides nothing: kept, as `redact` keeps empty secret fields


def tag_value(key: str, value: Any) -> Any:
    """The value to keep of one tag: redacted when the key names a secret or the value is a private key."""
    if names_a_secret(key) and value not in EMPTY:
        return REDACTED
    return redact(value)


def _tag_map(tags: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tag_value(k, v) if isinstance(k, str) else v for k, v in tags.items()}


def _is_tag(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("Key"), str) and "Value" in value


def tag_map(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    """An AWS tag list as `{key: value}`, keys sorted; `{}` for no tags (None or an empty list)."""
    return {tag["Key"]: tag_value(tag["Key"], tag["Value"]) for tag in sorted(tags or (), key=lambda t: t["Key"])}


# Where an API answers tags as a map (`{"db-password": "..."}`): GuardDuty's `Tags`, EKS's `tags`.
TAG_MAP_FIELDS = ("Tags", "tags")


def redact_tags(value: Any) -> Any:
    """`value` (plain JSON-safe data) with every AWS tag whose key names a secret redacted, wherever it sits:
    in tag lists (`{"Key": k, "Value": v}` items) and in tag maps under `Tags` or `tags`."""
    if isinstance(value, Mapping):
        if _is_tag(value):
            return {k: tag_value(value["Key"], v) if k == "Value" else v for k, v in value.items()}
        return {k: _tag_map(v) if k in TAG_MAP_FIELDS and isinstance(v, Mapping) else redact_tags(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [redact_tags(v) for v in value]
    return value
