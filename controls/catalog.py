"""Framework catalogs and check -> control mappings, loaded from YAML data.

`controls/frameworks/<framework>.yaml` lists a framework's controls; `controls/mappings/<framework>.yaml`
links check ids to control ids, each link with a `strength` (`primary`: the check directly shows the
control's technical requirement; `supporting`: it shows part of it) and a one-line `rationale`.
`controls/mappings/unmapped.yaml` names checks deliberately mapped to nothing, with the reason.
Extra mapping files (from the config) add links or replace a check's links for one framework.
"""

from __future__ import annotations

import enum
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent
FRAMEWORKS_DIR = ROOT / "frameworks"
MAPPINGS_DIR = ROOT / "mappings"
FRAMEWORK_IDS = ("iso27001-2022", "soc2-2017", "gdpr", "ccpa")


class Strength(enum.StrEnum):
    PRIMARY = "primary"
    SUPPORTING = "supporting"


class CatalogError(Exception):
    """A catalog or mapping file is malformed: names the file and the entry."""


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    group: str  # ISO theme, SOC 2 category, GDPR / CCPA group


@dataclass(frozen=True)
class Link:
    check_id: str
    control_id: str
    strength: Strength
    rationale: str


@dataclass
class Framework:
    id: str
    title: str
    version: str
    controls: list[Control]
    links: list[Link] = field(default_factory=list)

    def control(self, control_id: str) -> Control:
        for c in self.controls:
            if c.id == control_id:
                return c
        raise KeyError(f"{self.id} has no control {control_id!r}")

    def links_by_control(self) -> dict[str, list[Link]]:
        out: dict[str, list[Link]] = defaultdict(list)
        for link in self.links:
            out[link.control_id].append(link)
        return out

    def links_by_check(self) -> dict[str, list[Link]]:
        out: dict[str, list[Link]] = defaultdict(list)
        for link in self.links:
            out[link.check_id].append(link)
        return out


@dataclass
class Catalog:
    frameworks: dict[str, Framework]
    unmapped: dict[str, str]
    digest: str

    def framework(self, framework_id: str) -> Framework:
        try:
            return self.frameworks[framework_id]
        except KeyError:
            known = ", ".join(self.frameworks)
            raise KeyError(f"unknown framework {framework_id!r} (known: {known})") from None


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: {exc}") from None


def _framework(path: Path) -> Framework:
    doc = _load_yaml(path)
    try:
        controls = [
            Control(str(c["id"]), str(c["title"]), str(c.get("theme") or c.get("category") or c.get("group") or ""))
            for c in doc["controls"]
        ]
        return Framework(str(doc["id"]), str(doc["title"]), str(doc.get("version", "")), controls)
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"{path}: malformed catalog ({exc})") from None


def _links(path: Path, framework: str) -> dict[str, list[Link]]:
    doc = _load_yaml(path) or {}
    if doc.get("framework") != framework:
        raise CatalogError(f"{path}: `framework:` must be {framework!r}")
    out: dict[str, list[Link]] = {}
    for check_id, items in (doc.get("links") or {}).items():
        links = []
        for i, item in enumerate(items or []):
            where = f"{path}: links.{check_id}[{i}]"
            try:
                strength = Strength(item["strength"])
                rationale = str(item["rationale"]).strip()
                control = str(item["control"])
            except (KeyError, TypeError, ValueError) as exc:
                msg = f"needs control, strength (primary|supporting) and rationale: {exc}"
                raise CatalogError(f"{where}: {msg}") from None
            if not rationale:
                raise CatalogError(f"{where}: empty rationale")
            links.append(Link(check_id, control, strength, rationale))
        out[check_id] = links
    return out


def _digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def load_catalog(extra_mappings: Iterable[Path] = ()) -> Catalog:
    """The catalogs and mappings in force; each extra file replaces the links of the checks it names."""
    extra = [Path(p) for p in extra_mappings]
    frameworks: dict[str, Framework] = {}
    used: list[Path] = []
    for framework_id in FRAMEWORK_IDS:
        path = FRAMEWORKS_DIR / f"{framework_id}.yaml"
        framework = _framework(path)
        mapping = MAPPINGS_DIR / f"{framework_id}.yaml"
        links = _links(mapping, framework_id) if mapping.exists() else {}
        used += [path] + ([mapping] if mapping.exists() else [])
        for override in extra:
            doc = _load_yaml(override) or {}
            if doc.get("framework") == framework_id:
                links.update(_links(override, framework_id))
                used.append(override)
        framework.links = [link for items in links.values() for link in items]
        frameworks[framework_id] = framework
    unmapped_path = MAPPINGS_DIR / "unmapped.yaml"
    unmapped = {str(k): str(v) for k, v in (_load_yaml(unmapped_path) or {}).items()} if unmapped_path.exists() else {}
    used += [unmapped_path] if unmapped_path.exists() else []
    return Catalog(frameworks, unmapped, _digest(used))
