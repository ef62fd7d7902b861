"""Connectors observe: one sub-package per source, facts only, no judgement.

Nothing here imports `collector` or `controls`. The collector drives a provider through
`PROVIDERS[name]`: plan a kind's units for an opened target, collect one unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors import aws, gcp, kubernetes
from connectors.base import CollectionError, Evidence, KindSpec, UnitPlan


@dataclass(frozen=True)
class Provider:
    name: str
    units: Callable[[Any, KindSpec], list[UnitPlan]]
    translate_error: Callable[[BaseException], CollectionError | None]


PROVIDERS: dict[str, Provider] = {
    "aws": Provider("aws", aws.units, aws.translate_error),
    "k8s": Provider("k8s", kubernetes.units, kubernetes.translate_error),
    "gcp": Provider("gcp", gcp.units, gcp.translate_error),
}


def collect_unit(spec: KindSpec, context: Any, scope: str) -> list[Evidence]:
    """Run one unit to completion. SDK failures come out as typed `CollectionError`s."""
    provider = PROVIDERS[spec.provider]
    try:
        return list(spec.collect(context, scope))
    except CollectionError:
        raise
    except Exception as exc:
        translated = provider.translate_error(exc)
        if translated is None:
            raise
        raise translated from exc
