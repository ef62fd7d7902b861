"""oscal/assessment-results.json: an OSCAL assessment-results document built and validated with
compliance-trestle's models (construction validates; `parse` re-reads a document through them).

One observation per check (what it found over the period, when its evidence was `collected` and
when that evidence `expires`), one finding per control (satisfied or not, with the agent's own
status as a property), and a back-matter resource with the SHA-256 of every evidence file.
Control ids that are not OSCAL tokens (`8.24`, `Art.5(1)(e)`) become `<framework>_<id>` tokens;
the original id is the `control-id` property.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NS = "https://evidence-agent.dev/ns/oscal"
NAMESPACE = uuid.UUID("7c4b0f5e-2f7e-5b1a-9d7e-0e7f2c1a9b30")
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
MEDIA = {".jsonl": "application/jsonl", ".json": "application/json", ".csv": "text/csv", ".html": "text/html"}


def control_token(framework: str, control_id: str) -> str:
    return _TOKEN_BAD.sub("_", f"{framework}_{control_id}").strip("_")


@dataclass
class CheckObservation:
    check: str
    passed: int
    failed: int
    not_applicable: int
    changes: int
    collected: dt.datetime | None
    expires: dt.datetime | None
    evidence: list[str]  # bundle paths of the evidence files holding its verdicts


@dataclass
class ControlFinding:
    id: str
    title: str
    status: str
    checks: list[str]
    resources: int
    failures: int
    gaps: int
    attachments: list[str]


def _media(path: str) -> str:
    for suffix, media in MEDIA.items():
        if path.endswith(suffix):
            return media
    return "application/octet-stream"


def build(meta: dict[str, Any], observations: list[CheckObservation], findings: list[ControlFinding],
          files: Iterable[tuple[str, str]]) -> Any:  # fmt: skip
    """The AssessmentResults model; raises pydantic's ValidationError if anything is not valid OSCAL."""
    from trestle.oscal import OSCAL_VERSION
    from trestle.oscal import assessment_results as ar
    from trestle.oscal import common as c

    key = json.dumps([meta["framework"]["id"], meta["period"], meta["filters"], meta["generated"]["at"]],
                     sort_keys=True)  # fmt: skip

    def uid(*parts: str) -> str:
        return str(uuid.uuid5(NAMESPACE, key + "/" + "/".join(parts)))

    def prop(name: str, value: Any) -> Any:
        return c.Property(name=name, value=str(value), ns=NS)

    framework = meta["framework"]
    start, end = meta["period"]["from"], meta["period"]["to"]
    generated = dt.datetime.fromisoformat(meta["generated"]["at"].replace("Z", "+00:00"))
    resources = []
    resource_of: dict[str, str] = {}
    for path, sha in sorted(files):
        resource_of[path] = uid("file", path)
        resources.append(c.Resource(uuid=resource_of[path], title=path, rlinks=[
            c.Rlink(href=path, media_type=_media(path), hashes=[c.Hash(algorithm="SHA-256", value=sha)])]))  # fmt: skip
    plan = uid("plan")
    resources.append(c.Resource(
        uuid=plan, title="Assessment plan: continuous automated collection",
        description=("No separate OSCAL assessment plan: evidence-agent collects the configured targets on a "
                     "schedule and judges every resource with the checks mapped to each control."),
    ))  # fmt: skip
    tool = uid("tool")
    observed = []
    observation_of: dict[str, str] = {}
    for o in observations:
        observation_of[o.check] = uid("observation", o.check)
        collected = o.collected or dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        observed.append(c.Observation(
            uuid=observation_of[o.check], title=o.check,
            description=(f"Check {o.check}: {o.passed} pass, {o.failed} fail, {o.not_applicable} not applicable "
                         f"at the end of the period; {o.changes} verdict changes during it."
                         + ("" if o.collected else " Its evidence was never collected in the period.")),
            props=[prop("check-id", o.check), prop("passed", o.passed), prop("failed", o.failed),
                   prop("not-applicable", o.not_applicable), prop("verdict-changes", o.changes)],
            methods=["TEST"], types=["control-objective"],
            origins=[c.Origin(actors=[c.OriginActor(type="tool", actor_uuid=tool)])],
            relevant_evidence=[c.RelevantEvidence(href=f"#{resource_of[p]}", description=f"evidence states in {p}")
                               for p in o.evidence if p in resource_of] or None,
            collected=collected, expires=o.expires,
        ))  # fmt: skip
    found = []
    for f in findings:
        token = control_token(framework["id"], f.id)
        satisfied = f.status == "compliant"
        reason = "pass" if satisfied else "fail" if f.status == "non_compliant" else "other"
        related = [c.RelatedObservation(observation_uuid=observation_of[x]) for x in f.checks if x in observation_of]
        found.append(c.Finding(
            uuid=uid("finding", f.id), title=f"{f.id} {f.title}".strip(),
            description=(f"{f.id} is {f.status} at the end of the period: {f.resources} resources judged, "
                         f"{f.failures} failing, {f.gaps} units not collected, {len(f.attachments)} attachments."),
            props=[prop("control-id", f.id), prop("status", f.status)],
            target=c.FindingTarget(type="objective-id", target_id=token, title=f.id,
                                   status=c.ObjectiveStatus(state="satisfied" if satisfied else "not-satisfied",
                                                            reason=reason, remarks=f.status)),
            related_observations=related or None,
        ))  # fmt: skip
    selection = c.ControlSelections(
        include_controls=[c.SelectControlById(control_id=control_token(framework["id"], f.id)) for f in findings]
    ) if findings else c.ControlSelectionsAll(include_all=c.IncludeAll())  # fmt: skip
    result = ar.Result(
        uuid=uid("result"), title=f"{framework['title']}: {start} to {end}",
        description=(f"Automated evidence for {framework['title']} over [{start}, {end}), collected and judged by "
                     "evidence-agent; the evidence files are in this bundle and listed in back-matter with hashes."),
        start=dt.datetime.fromisoformat(start.replace("Z", "+00:00")),
        end=dt.datetime.fromisoformat(end.replace("Z", "+00:00")),
        local_definitions=ar.LocalDefinitions1(components=[c.SystemComponent(
            uuid=tool, type="software", title="evidence-agent", description="Continuous-compliance evidence agent.",
            status=c.Status(state="operational"), props=[prop("version", meta["generated"]["by"]["version"])])]),
        reviewed_controls=c.ReviewedControls(control_selections=[selection]),
        observations=observed or None, findings=found or None,
    )  # fmt: skip
    return ar.AssessmentResults(
        uuid=uid("assessment-results"),
        metadata=c.Metadata(
            title=f"evidence-agent assessment results: {framework['title']}", last_modified=generated,
            version=meta["generated"]["by"]["version"], oscal_version=OSCAL_VERSION,
            props=[prop("framework", framework["id"]), prop("catalog-digest", meta["catalog_digest"])],
        ),
        import_ap=ar.ImportAp(href=f"#{plan}"), results=[result], back_matter=c.BackMatter(resources=resources),
    )  # fmt: skip


def serialize(model: Any) -> bytes:
    return model.oscal_serialize_json_bytes(pretty=True, wrapped=True) + b"\n"


def parse(data: bytes) -> Any:
    """Re-read a document through the models: raises ValueError (pydantic's ValidationError) when invalid."""
    from trestle.oscal import assessment_results as ar

    doc = json.loads(data)
    if not isinstance(doc, dict) or "assessment-results" not in doc:
        raise ValueError("not an OSCAL assessment-results document (no `assessment-results` root)")
    return ar.Model.model_validate(doc)


def file_hashes(model: Any) -> dict[str, str]:
    """Back-matter path -> SHA-256, from a parsed document."""
    out = {}
    for resource in (model.assessment_results.back_matter.resources if model.assessment_results.back_matter else []):
        for link in resource.rlinks or []:
            for h in link.hashes or []:
                algorithm = getattr(h.algorithm, "value", h.algorithm)
                if algorithm == "SHA-256":
                    out[link.href] = h.value
    return out
