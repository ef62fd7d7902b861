"""HTML pages from the portal's data, with Jinja2 templates (autoescaped) and the bundle report's SVG charts.

No script anywhere and no asset from another host: the stylesheet and icon are served by the portal.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from collector.bundle.report import STATUSES, family_chart, sparkline
from collector.portal.auth import Principal
from connectors.base import agent_version

HERE = Path(__file__).parent
ASSETS = {"portal.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}


def _when(value: str | None) -> str:
    """RFC 3339 as `2026-11-28 10:00:00Z` (readable, still exact)."""
    return value.replace("T", " ").replace("+00:00", "Z") if value else ""


def _day(value: str | None) -> str:
    return value[:10] if value else ""


class Pages:
    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when
        self.env.filters["day"] = _day
        self.env.globals["version"] = agent_version()
        self.env.globals["STATUSES"] = STATUSES
        self._assets = {name: ((HERE / "static" / name).read_bytes(), kind) for name, kind in ASSETS.items()}

    def asset(self, name: str) -> tuple[bytes, str] | None:
        return self._assets.get(name)

    def _render(self, template: str, who: Principal | None, **values: Any) -> str:
        return self.env.get_template(template).render(who=who, **values)

    def login(self, error: str | None, next_path: str = "/") -> str:
        return self._render("login.html", None, error=error, next_path=next_path)

    def error(self, who: Principal | None, status: int, detail: str) -> str:
        return self._render("error.html", who, status=status, detail=detail)

    def home(self, who: Principal, frameworks: list[dict[str, Any]]) -> str:
        return self._render("home.html", who, frameworks=frameworks)

    def framework(self, who: Principal, d: dict[str, Any]) -> str:
        charts = {group: Markup(family_chart(group, Counter(counts))) for group, counts in d["families"].items()}
        return self._render("framework.html", who, d=d, charts=charts, **_picker(who, d["at"]))

    def control(self, who: Principal, d: dict[str, Any]) -> str:
        t = d["timeline"]
        edges = [dt.datetime.fromisoformat(x.replace("Z", "+00:00")) for x in t["days"]]
        chart = Markup(sparkline(t["failing"], t["passing"], edges))
        return self._render("control.html", who, d=d, chart=chart, **_picker(who, d["at"]))

    def evidence(self, who: Principal, d: dict[str, Any]) -> str:
        return self._render("evidence.html", who, d=d, **_picker(who, d["at"]))

    def runs(self, who: Principal, d: dict[str, Any]) -> str:
        return self._render("runs.html", who, d=d)

    def run(self, who: Principal, d: dict[str, Any]) -> str:
        return self._render("run.html", who, d=d)

    def access(self, who: Principal, rows: list[dict[str, Any]]) -> str:
        return self._render("access.html", who, rows=rows)


def _picker(who: Principal, at: str | None) -> dict[str, Any]:
    """The as-of date picker's bounds: the audit window (auditors) or up to today."""
    today = dt.datetime.now(dt.UTC).date()
    if who.window:
        lo = who.window[0].date()
        hi = min((who.window[1] - dt.timedelta(seconds=1)).date(), today)
    else:
        lo, hi = None, today
    return {"at_value": at[:10] if at else "", "at_min": lo.isoformat() if lo else "", "at_max": hi.isoformat()}
