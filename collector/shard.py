"""Sharding targets over N collectors (`collect --shard I/N`, the chart's Indexed Job).

A target belongs to shard `int(sha256(name)[:8 bytes]) mod N`: it depends on nothing but the target's
name and N, so every pod of an Indexed Job computes the same split from the same config without
talking to the others, and each target is collected by exactly one pod. Changing N moves targets
between shards; that is harmless, because all shards write to one database and the store is keyed
by target, not by shard.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from collector.config import ConfigError

SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def as_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


def parse_shard(text: str, option: str = "--shard") -> Shard:
    """`I/N` with N >= 1 and 0 <= I < N; anything else is a usage error naming the option."""
    match = SHARD.match(text)
    if not match:
        raise ConfigError(f"{option}: {text!r} is not INDEX/COUNT such as 0/4")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ConfigError(f"{option}: {text!r}: the shard count must be at least 1")
    if index >= count:
        raise ConfigError(f"{option}: {text!r}: the index must be between 0 and {count - 1}")
    return Shard(index, count)


def shard_of(name: str, count: int) -> int:
    """The shard (0 .. count-1) a target name belongs to: the first 8 bytes of sha256(name), mod count."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_targets(names: list[str], shard: Shard) -> list[str]:
    """The names in `shard`, in their configured order."""
    return [name for name in names if shard_of(name, shard.count) == shard.index]
