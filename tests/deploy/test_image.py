"""The Dockerfile (it cannot be built here): what can be checked without a daemon is checked.

It installs the pinned set the tests run with, runs as the user the chart expects, copies what the
package needs and nothing .dockerignore drops, and its entry point is the CLI the chart calls."""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import tomllib
from importlib import metadata

import yaml

from ea_testkit.chart import CHART, ROOT, image_entrypoint

DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONSTRAINTS = {
    re.split(r"[=<>]", line)[0].lower().replace("_", "-"): line.split("==", 1)[1]
    for line in (ROOT / "constraints.txt").read_text().splitlines()
    if "==" in line and not line.startswith("#")
}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def requirement_name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower().replace("_", "-")


def test_multi_stage_on_a_slim_python_of_the_tested_version():
    (arg,) = [rest for keyword, rest in instructions() if keyword == "ARG" and rest.startswith("PYTHON_IMAGE=")]
    image = arg.split("=", 1)[1]
    assert re.fullmatch(rf"python:{sys.version_info.major}\.{sys.version_info.minor}-slim(-\w+)?", image), image
    build, final = stages()
    assert build[0][1].endswith(" AS build") and final[0] == ("FROM", "${PYTHON_IMAGE}")
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final
    assert not any(keyword == "RUN" and "pip" in rest for keyword, rest in final), "no build tools in the image"


def test_it_installs_the_pinned_set_the_tests_use():
    build = stages()[0]
    (install,) = [rest for keyword, rest in build if keyword == "RUN" and "pip install" in rest]
    assert "--constraint constraints.txt ." in install and "[" not in install  # no dev or sandbox extra
    assert ("COPY", "constraints.txt pyproject.toml README.md ./") in build
    for spec in PYPROJECT["project"]["dependencies"]:
        name = requirement_name(spec)
        assert name in CONSTRAINTS, f"{name} is not pinned in constraints.txt"
        assert metadata.version(name) == CONSTRAINTS[name], f"the tests do not run on the pinned {name}"


def test_it_copies_every_package_and_dockerignore_drops_none_of_it():
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = [rest.split()[0] for keyword, rest in stages()[0] if keyword == "COPY"]
    for pattern in packages:
        name = pattern.rstrip("*")
        assert name in copied, f"{name} is not copied into the image"
    ignored = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
               if p.strip() and not p.startswith("#")]  # fmt: skip
    needed = ["constraints.txt", "pyproject.toml", "README.md", "collector/cli.py", "controls/frameworks",
              "collector/store/migrations", "collector/portal/templates", "collector/portal/static",
              "connectors/aws"]  # fmt: skip
    for path in needed:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        assert not any(fnmatch.fnmatch(p, rule) for p in prefixes for rule in ignored), path
    for bulky in (".venv", ".git", "tests", "demo"):
        assert bulky in ignored


def test_it_runs_as_the_non_root_user_the_chart_expects():
    final = stages()[-1]
    (user,) = [rest for keyword, rest in final if keyword == "USER"]
    uid, gid = (int(x) for x in user.split(":"))
    values = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurity"]
    assert uid == values["runAsUser"] and gid == values["runAsGroup"] and uid != 0
    assert f"--uid {uid}" in DOCKERFILE and f"--gid {gid}" in DOCKERFILE


def test_the_entry_point_is_the_cli_and_on_path():
    assert image_entrypoint() == ["evidence-agent"]
    assert PYPROJECT["project"]["scripts"]["evidence-agent"] == "collector.cli:main"
    env = " ".join(rest for keyword, rest in stages()[-1] if keyword == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env
    (cmd,) = [rest for keyword, rest in stages()[-1] if keyword == "CMD"]
    assert json.loads(cmd) == ["--help"]
