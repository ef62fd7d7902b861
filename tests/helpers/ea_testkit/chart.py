"""Rendering the Helm chart offline (helm-python-sdk) and running a rendered container the way the kubelet would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "evidence-agent"
EXAMPLES = {p.stem: p for p in sorted((CHART / "examples").glob("*.yaml"))}
KUBE_VERSION = "1.31.0"
RELEASE, NAMESPACE = "evidence", "compliance"


def example_values(name: str) -> dict[str, Any]:
    return {} if name == "default" else yaml.safe_load(EXAMPLES[name].read_text())


def documents(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart rendered (NOTES.txt and empty templates left out)."""
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(owner, pod spec) for every pod template: CronJob, Deployment, Job."""
    specs = []
    for d in docs:
        if d["kind"] == "CronJob":
            specs.append((f"CronJob/{d['metadata']['name']}", d["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        elif d["kind"] in ("Deployment", "Job"):
            specs.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
    return specs


def image_entrypoint() -> list[str]:
    """The ENTRYPOINT of the Dockerfile's final stage (exec form)."""
    import json

    entrypoints = [line.split(None, 1)[1] for line in (ROOT / "Dockerfile").read_text().splitlines()
                   if line.startswith("ENTRYPOINT ")]  # fmt: skip
    return json.loads(entrypoints[-1])


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command and args ($$ escapes; unknown references stay as written)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)  # fmt: skip


class Pod:
    """One rendered container run as a local process: every volume mount becomes a directory under `root`
    (the ConfigMap's data written into its mount), env comes from the spec (Secrets and the downward API from
    the arguments), the image's ENTRYPOINT is the venv's console script, and PATH is the venv's, as in the image."""

    def __init__(
        self,
        docs: list[dict[str, Any]],
        spec: dict[str, Any],
        root: Path,
        *,
        secrets: dict[tuple[str, str], str] | None = None,
        annotations: dict[str, str] | None = None,
    ):
        self.container = spec["containers"][0]
        self.root = root
        self.mounts: dict[str, Path] = {}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        config_maps = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
        for mount in self.container.get("volumeMounts", []):
            local = root / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            self.mounts[mount["mountPath"]] = local
            source = volumes[mount["name"]]
            if "configMap" in source:
                for key, text in config_maps[source["configMap"]["name"]]["data"].items():
                    (local / key).write_text(text)
        self.env: dict[str, str] = {}
        for item in self.container.get("env", []):
            if "value" in item:
                self.env[item["name"]] = self.local(expand(item["value"], self.env))
            elif "secretKeyRef" in item["valueFrom"]:
                ref = item["valueFrom"]["secretKeyRef"]
                self.env[item["name"]] = (secrets or {})[(ref["name"], ref["key"])]
            else:
                field = item["valueFrom"]["fieldRef"]["fieldPath"]
                key = re.fullmatch(r"metadata\.annotations\['(.+)'\]", field).group(1)  # type: ignore[union-attr]
                self.env[item["name"]] = (annotations or {})[key]

    def local(self, text: str) -> str:
        """A path (or a URL holding one) inside the pod, as the path of its mount's directory here."""
        if not self.mounts:
            return text
        mounts = "|".join(re.escape(m) for m in sorted(self.mounts, key=len, reverse=True))
        return re.sub(f"({mounts})(?=/|$)", lambda m: str(self.mounts[m.group(1)]), text)  # one pass

    def argv(self, command: list[str] | None = None) -> list[str]:
        words = command or [*self.container.get("command", image_entrypoint()), *self.container.get("args", [])]
        return [self.local(expand(w, self.env)) for w in words]

    def process_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        keep = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "EVIDENCE_AGENT_TEST_"))}
        return {**keep, "PATH": f"{venv_bin}:/usr/bin:/bin", **self.env, **(extra or {})}

    def run(self, command: list[str] | None = None, extra_env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:  # fmt: skip
        return subprocess.run(self.argv(command), env=self.process_env(extra_env), capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)  # fmt: skip

    def start(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(self.argv(), env=self.process_env(extra_env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.root)  # fmt: skip
