"""index.html (one self-contained page an auditor reads offline) and controls.csv.

No scripts, fonts, stylesheets or images from anywhere: inline CSS and inline SVG only. Every
value is escaped. Long lists are cut to their first rows with a count and a link to the file
that has them all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any

STATUSES = ("compliant", "non_compliant", "not_collected", "not_applicable", "manual")
COLOURS = {"compliant": "#2e7d32", "non_compliant": "#c62828", "not_collected": "#ef8f00",
           "not_applicable": "#78909c", "manual": "#1565c0"}  # fmt: skip
CSV_FIELDS = (
    "framework", "control_id", "title", "group", "status", "checks", "resources", "failures", "gaps",
    "attachments", "evidence_states", "verdict_changes", "gap_events", "drift_events", "evidence_file",
)  # fmt: skip


@dataclass
class ControlReport:
    id: str
    title: str
    group: str
    slug: str
    status: str
    evidence_path: str | None
    checks: list[dict[str, Any]]
    resources: int = 0
    failures: int = 0
    gaps_now: int = 0
    attachments_now: int = 0
    failing: list[dict[str, Any]] = field(default_factory=list)
    evidence_states: int = 0
    evidence_resources: int = 0
    verdict_changes: int = 0
    verdict_rows: list[dict[str, Any]] = field(default_factory=list)
    failing_series: list[int] = field(default_factory=list)
    passing_series: list[int] = field(default_factory=list)
    gap_count: int = 0
    gap_rows: list[dict[str, Any]] = field(default_factory=list)
    drift_count: int = 0
    drift_rows: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


def controls_csv(framework: str, controls: list[ControlReport]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in controls:
        writer.writerow({"framework": framework, "control_id": c.id, "title": c.title, "group": c.group,
                         "status": c.status, "checks": ";".join(x["check"] for x in c.checks),
                         "resources": c.resources, "failures": c.failures, "gaps": c.gaps_now,
                         "attachments": c.attachments_now, "evidence_states": c.evidence_states,
                         "verdict_changes": c.verdict_changes, "gap_events": c.gap_count,
                         "drift_events": c.drift_count, "evidence_file": c.evidence_path or ""})  # fmt: skip
    return buffer.getvalue()


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px}h3{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 12px}
th,td{border:1px solid #dde1e7;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;color:#fff;font-size:12px;white-space:nowrap}
section.control{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:4px 16px 10px;margin:14px 0}
.meta{color:#556;font-size:13px}.families{display:flex;flex-wrap:wrap;gap:16px}
.family{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:8px 12px}
.more{color:#556;font-style:italic}
"""


def badge(status: str) -> str:
    return f'<span class="badge" style="background:{COLOURS.get(status, "#555")}">{escape(status)}</span>'


def verdict_badge(verdict: str) -> str:
    colour = {"pass": COLOURS["compliant"], "fail": COLOURS["non_compliant"]}.get(verdict, COLOURS["not_applicable"])
    return f'<span class="badge" style="background:{colour}">{escape(verdict)}</span>'


def family_chart(group: str, counts: Counter) -> str:
    """A stacked bar of the family's controls by status, with a legend, as inline SVG."""
    total = sum(counts.values()) or 1
    width, x, bars, legend = 320.0, 0.0, [], []
    for status in STATUSES:
        n = counts.get(status, 0)
        if not n:
            continue
        w = width * n / total
        bars.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="22" fill="{COLOURS[status]}">'
                    f"<title>{escape(status)}: {n}</title></rect>")  # fmt: skip
        legend.append(f'<tspan fill="{COLOURS[status]}">\u25a0</tspan> {escape(status)} {n} ')
        x += w
    label = escape(f"{group}: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s)))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" width="340" height="48" '
            f'viewBox="0 0 340 48"><g>{"".join(bars)}</g><text x="0" y="40" font-size="11">{"".join(legend)}'
            "</text></svg>")  # fmt: skip


def sparkline(failing: list[int], passing: list[int], edges: list[dt.datetime]) -> str:
    """Failing (red) and passing (green) check results at the end of each bucket of the period."""
    if not failing and not passing:
        return '<p class="meta">No pass or fail verdicts in the period.</p>'
    n = max(len(failing), len(passing), 1)
    top = max([*failing, *passing, 1])
    width, height = 480.0, 60.0

    def points(series: list[int]) -> str:
        step = width / max(n - 1, 1)
        return " ".join(f"{i * step:.1f},{height - (v / top) * (height - 4) - 2:.1f}" for i, v in enumerate(series))

    lines = []
    if passing:
        lines.append(f'<polyline fill="none" stroke="{COLOURS["compliant"]}" stroke-width="1.5" '
                     f'points="{points(passing)}"/>')  # fmt: skip
    if failing:
        lines.append(f'<polyline fill="none" stroke="{COLOURS["non_compliant"]}" stroke-width="2" '
                     f'points="{points(failing)}"/>')  # fmt: skip
    first = edges[0].strftime("%Y-%m-%d %H:%M") if edges else ""
    last = edges[-1].strftime("%Y-%m-%d %H:%M") if edges else ""
    label = escape(f"failing results from {failing[0] if failing else 0} to {failing[-1] if failing else 0}, "
                   f"passing from {passing[0] if passing else 0} to {passing[-1] if passing else 0}; peak {top}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" width="500" height="86" '
            f'viewBox="0 0 500 86"><rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#fafbfc" '
            f'stroke="#dde1e7"/>{"".join(lines)}<text x="0" y="76" font-size="10">{escape(first)}</text>'
            f'<text x="{width:.0f}" y="76" font-size="10" text-anchor="end">{escape(last)}</text>'
            f'<text x="{width + 4:.0f}" y="10" font-size="10">{top}</text></svg>')  # fmt: skip


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _more(shown: int, total: int, path: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="more">{shown} of {total} shown; all in <a href="{escape(path)}">{escape(path)}</a>.</p>'


def control_section(c: ControlReport, edges: list[dt.datetime]) -> str:
    e = escape
    parts = [
        f'<section class="control" id="c-{e(c.slug)}"><h2>{e(c.id)} {e(c.title)} {badge(c.status)}</h2>',
        f'<p class="meta">{e(c.group)} · status at the end of the period · {c.resources} resources judged, '
        f"{c.failures} failing, {c.gaps_now} units not collected, {c.attachments_now} attachments</p>",
    ]
    if c.checks:
        rows = [
            [f"<code>{e(x['check'])}</code>", e(x["strength"]), str(x["passed"]), str(x["failed"]),
             str(x["not_applicable"]), e(x["collected"] or "never"), e(x["rationale"])]
            for x in c.checks
        ]  # fmt: skip
        parts.append("<h3>Checks</h3>" + _table(
            ["check", "strength", "pass", "fail", "n/a", "last collected", "why it is evidence"], rows))
        link = f'<a href="{e(c.evidence_path or "")}">{e(c.evidence_path or "")}</a>'
        parts.append(f"<h3>Evidence</h3><p>{c.evidence_states} evidence states of {c.evidence_resources} resources "
                     f"were valid during the period: {link} (observed settings, raw API answer, source, "
                     "first and last seen, verdicts).</p>")  # fmt: skip
    else:
        parts.append("<p>No automated check maps to this control: it is shown by manual evidence (attachments), "
                     "never reported as passing.</p>")  # fmt: skip
    if c.failing:
        rows = [[e(f["target"]), f"<span class=mono>{e(f['resource_id'])}</span>", e(f["region"]), e(f["reason"])]
                for f in c.failing]  # fmt: skip
        parts.append("<h3>Failing at the end of the period</h3>" + _table(["target", "resource", "region", "reason"],
                                                                          rows))  # fmt: skip
        parts.append(_more(len(c.failing), c.failures, c.evidence_path or ""))
    if c.checks:
        parts.append("<h3>Verdict history</h3>" + sparkline(c.failing_series, c.passing_series, edges))
        if c.verdict_rows:
            rows = [[e(v["at"]), f"<code>{e(v['check'])}</code>", f"<span class=mono>{e(v['resource_id'])}</span>",
                     verdict_badge(v["verdict"]), e(v["reason"])] for v in c.verdict_rows]  # fmt: skip
            parts.append(f"<p>{c.verdict_changes} verdict changes in the period; the newest:</p>"
                         + _table(["since", "check", "resource", "verdict", "reason"], rows))  # fmt: skip
            parts.append(_more(len(c.verdict_rows), c.verdict_changes, c.evidence_path or ""))
        else:
            parts.append("<p>No verdict changed during the period.</p>")
    if c.gap_count:
        rows = [[e(g["recorded_at"]), e(g["target"]), e(g["kind"]), e(g["scope"]), e(g["reason"]), e(g["message"])]
                for g in c.gap_rows]  # fmt: skip
        intro = f"<h3>Gaps</h3><p>{c.gap_count} units of this control's evidence were not collected in the period:</p>"
        parts.append(intro + _table(["at", "target", "kind", "scope", "reason", "message"], rows))
        parts.append(_more(len(c.gap_rows), c.gap_count, "gaps.jsonl"))
    if c.drift_count:
        rows = [
            [e(str(d.get("created_at", ""))), e(str(d.get("type", ""))),
             f"<code>{e(str(d.get('check_id') or ''))}</code>",
             f"<span class=mono>{e(str(d.get('resource_id') or ''))}</span>"]
            for d in c.drift_rows
        ]  # fmt: skip
        parts.append(f"<h3>Drift</h3><p>{c.drift_count} drift events in the period:</p>"
                     + _table(["at", "type", "check", "resource"], rows))  # fmt: skip
        parts.append(_more(len(c.drift_rows), c.drift_count, "drift.jsonl"))
    if c.attachments:
        rows = [[f'<a href="{e(a["path"])}">{e(a["filename"])}</a>', e(a["effective_date"]), e(a["attached_at"]),
                 f"<span class=mono>{e(a['sha256'])}</span>", e(a["note"] or "")] for a in c.attachments]  # fmt: skip
        parts.append("<h3>Attachments</h3>" + _table(["file", "effective", "attached", "sha256", "note"], rows))
    parts.append("</section>")
    return "".join(parts)


def render_index(meta: dict[str, Any], controls: list[ControlReport], edges: list[dt.datetime]) -> str:
    e = escape
    framework, period, chain = meta["framework"], meta["period"], meta["chain"]
    counts = Counter(c.status for c in controls)
    families: dict[str, Counter] = defaultdict(Counter)
    for c in controls:
        families[c.group or "controls"][c.status] += 1
    summary = _table(["status", "controls"], [[badge(s), str(counts[s])] for s in STATUSES if counts.get(s)])
    charts = "".join(f'<div class="family"><strong>{e(group)}</strong><br>{family_chart(group, n)}</div>'
                     for group, n in sorted(families.items()))  # fmt: skip
    overview = _table(
        ["control", "title", "status", "resources", "failing", "verdict changes", "gaps", "drift", "evidence"],
        [[f'<a href="#c-{e(c.slug)}">{e(c.id)}</a>', e(c.title), badge(c.status), str(c.resources), str(c.failures),
          str(c.verdict_changes), str(c.gap_count), str(c.drift_count),
          f'<a href="{e(c.evidence_path)}">{c.evidence_states} states</a>' if c.evidence_path else "manual"]
         for c in controls],
    )  # fmt: skip
    first, last = chain.get("first"), chain.get("last")
    heads = (f"first run {first['id']} <code>{e(first['digest'])}</code>, last run {last['id']} "
             f"<code>{e(last['digest'])}</code>" if first and last else "no run in the period")  # fmt: skip
    signed = meta.get("signature")
    signed_text = "Not signed."
    if signed:
        signed_text = f"Signed (Ed25519, key sha256 <code>{e(signed['public_key_sha256'])}</code>)."
    files = ['<a href="runs.jsonl">runs.jsonl</a> (the digest chain)', '<a href="states.jsonl">states.jsonl</a>',
             '<a href="gaps.jsonl">gaps.jsonl</a>', '<a href="drift.jsonl">drift.jsonl</a>',
             '<a href="access.jsonl">access.jsonl</a> (portal access log)',
             '<a href="controls.csv">controls.csv</a>', '<a href="attachments/attachments.jsonl">attachments</a>',
             '<a href="oscal/assessment-results.json">OSCAL assessment results</a>',
             '<a href="manifest.json">manifest.json</a>', '<a href="SHA256SUMS">SHA256SUMS</a>']  # fmt: skip
    samples = "".join(f'<li>{e(s["label"])}: <a href="{e(s["path"])}/controls.json">control status</a>, '
                      f'<a href="{e(s["path"])}/evidence.jsonl">{s["evidence"]} evidence states</a></li>'
                      for s in meta.get("samples", []))  # fmt: skip
    head = (f"<h1>Evidence bundle: {e(framework['title'])}</h1>"
            f"<p class=meta>Period {e(period['from'])} to {e(period['to'])} (end excluded) · generated "
            f"{e(meta['generated']['at'])} by evidence-agent {e(meta['generated']['by']['version'])} on "
            f"{e(meta['generated']['by']['host'])} · catalog digest <code>{e(meta['catalog_digest'])}</code></p>"
            f"<p>Runs in the period: {chain['runs']} ({e(', '.join(f'{n} {s}' for s, n in chain['statuses'].items()))})"
            f"; {heads}. {signed_text}</p>"
            f"<p>Filters: controls {e(', '.join(meta['filters']['controls']) or 'all')}; targets "
            f"{e(', '.join(meta['filters']['targets']) or 'all')}.</p>")  # fmt: skip
    verify = ("<h2>Check this bundle</h2><p>Unzip it and run <code>sha256sum -c SHA256SUMS</code>; "
              "<code>evidence-agent bundle verify FILE.zip --public-key KEY.pub</code> also recomputes the run "
              "digest chain from the evidence, checks the signature and the OSCAL document. See "
              "docs/bundles.md.</p>")  # fmt: skip
    body = "".join(control_section(c, edges) for c in controls)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Evidence bundle {e(framework['id'])} {e(period['from'][:10])} to {e(period['to'][:10])}</title>"
            f"<style>{CSS}</style></head><body><main>{head}<h2>Summary</h2>{summary}"
            f'<div class="families">{charts}</div><h2>Controls</h2>{overview}'
            f"{'<h2>Sampled dates</h2><ul>' + samples + '</ul>' if samples else ''}"
            f"<h2>Files</h2><p>{' · '.join(files)}</p>{verify}{body}</main></body></html>\n")  # fmt: skip
