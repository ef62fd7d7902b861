"""The portal's routes: server-rendered pages, their JSON mirror under /api/, /healthz and /metrics.

Access: every route but those in PUBLIC needs a token (401 without a valid one) and is checked against
the token's scope (403 outside it). Every request that reaches a route, refused or not, is written to the
access log before its answer leaves; if the log cannot be written, the answer is a 503, never an
unrecorded view. Nothing here writes anything else.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
import structlog
from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from collector.bundle.scope import parse_moment
from collector.config import ConfigError
from collector.portal import data
from collector.portal.auth import COOKIE, Forbidden, Principal, TokenBook, Unauthorized
from collector.portal.render import Pages
from collector.store.models import AccessEntry
from connectors.base import agent_version, utcnow
from controls.catalog import Catalog

log = structlog.get_logger("evidence_agent.portal")

# Routes that need no token: the health probe, the sign-in page and the static assets.
PUBLIC = frozenset({"/healthz", "/login", "/static/{name}", "/favicon.ico", "/api/openapi.json"})
MAX_ID = 2_147_483_647  # the store's integer ids
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cache-Control": "no-store",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

DateOrTime = Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD (end of that day, UTC) or RFC 3339")]


def principal(request: Request) -> Principal:
    """The token's holder (Authorization: Bearer, or the sign-in cookie); 401 without a valid token."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get(COOKIE)
    who = request.app.state.tokens.lookup(token)
    request.state.principal = who
    return who


Who = Annotated[Principal, Depends(principal)]
Framework = Annotated[str, PathParam(max_length=64)]
Control = Annotated[str, PathParam(max_length=64)]
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=1000)]
FromDate = Annotated[str | None, Query(alias="from", max_length=40, description="First day (YYYY-MM-DD)")]
ToDate = Annotated[str | None, Query(alias="to", max_length=40, description="Last day, included (YYYY-MM-DD)")]


class BadRequest(Exception):
    """A parameter that does not parse: 400, naming the parameter."""


def make_view(who: Principal, at: str | None, start: str | None = None, end: str | None = None) -> data.View:
    """The moment and window of a page, checked against the viewer's audit window (403 outside it)."""
    try:
        return _view(who, at, start, end)
    except OverflowError:  # a moment so near year 1 or 9999 that the window around it leaves the calendar
        raise BadRequest("at, from, to: out of range") from None


def _view(who: Principal, at: str | None, start: str | None, end: str | None) -> data.View:
    now = utcnow()
    moment = parse_moment(at, "at", end_of_day=True) if at else None
    if moment is not None and len(at.strip()) == 10:
        moment -= dt.timedelta(microseconds=1)  # a day means as it stood at the end of that day
    if moment is not None:
        moment = min(moment, now)
        who.require_moment(moment, "at")
    elif who.window and who.window[1] <= now:
        moment = who.window[1] - dt.timedelta(microseconds=1)  # the window ended: show its last moment
    if who.window:
        lo, hi = who.window
    else:
        hi = now if moment is None else moment
        lo = hi - data.DEFAULT_WINDOW
    if start:
        lo = parse_moment(start, "from")
        who.require_moment(lo, "from")
    if end:
        hi = parse_moment(end, "to", end_of_day=True)
        who.require_moment(hi - dt.timedelta(microseconds=1), "to")
    if lo >= hi:
        raise BadRequest("from: must be before to")
    return data.View(moment, lo, hi)


def _clean(text: str, limit: int) -> str:
    return _CONTROL.sub("?", text)[:limit]


def create_app(
    engine: sa.Engine,
    catalog: Catalog,
    tokens: TokenBook,
    *,
    session_hours: int = 8,
    make_bundle: Callable[[str, str, str, Path], Path] | None = None,
    verify_in_background: bool = True,
) -> FastAPI:
    """The portal over this store. `make_bundle(framework, from, to, out)` writes the bundle a download
    streams (the CLI's `bundle create`); without it, downloads answer 404."""
    portal = data.Portal(engine, catalog, data.ChainStatus(background=verify_in_background))
    pages = Pages()
    app = FastAPI(
        title="evidence-agent portal",
        version=agent_version(),
        description="Read-only access to evidence, controls and runs. Send `Authorization: Bearer <token>`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.portal = portal
    app.state.tokens = tokens

    # ------------------------------------------------------------------ who is asking, and the access log

    def write_access(request: Request, status: int, action: str) -> None:
        who: Principal | None = getattr(request.state, "principal", None)
        query = request.url.query
        entry = AccessEntry(
            at=utcnow(),
            principal=who.name if who else None,
            role=who.role if who else None,
            action=action,
            method=request.method[:8],
            path=_clean(request.url.path, 2048),
            query=_clean(query, 2048) if query else None,
            framework=_clean(str(request.path_params.get("framework")), 64)
            if request.path_params.get("framework")
            else None,
            status=status,
            client=_clean(request.client.host, 64) if request.client else None,
        )
        with Session(engine) as session:
            session.add(entry)
            session.commit()

    def action_of(request: Request, status: int) -> str:
        path = request.url.path
        if status in (401, 403):
            return "denied"
        if path in ("/login", "/logout"):
            return path[1:]
        if path.endswith("/bundle"):
            return "download"
        return "api" if path.startswith("/api/") or path == "/metrics" else "view"

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", None)
        if template is not None and (template not in PUBLIC or (template == "/login" and request.method == "POST")):
            try:
                await run_in_threadpool(
                    write_access, request, response.status_code, action_of(request, response.status_code)
                )
            except sa.exc.SQLAlchemyError as exc:
                log.error("access log not written: answer withheld", path=request.url.path, error=type(exc).__name__)
                if response.background is not None:
                    await response.background()
                response = PlainTextResponse("the access log cannot be written: try again later", status_code=503)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if _https(request):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    # -------------------------------------------------------------------------------------- errors

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/metrics"

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"error": "unauthorized", "detail": str(exc)},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="evidence-agent"'},
            )
        return HTMLResponse(
            pages.login(str(exc), next_path=_local(request.url.path)),
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="evidence-agent"'},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, "forbidden", str(exc))

    @app.exception_handler(data.NotFound)
    async def not_found(request: Request, exc: data.NotFound) -> Response:
        return _error(request, 404, "not_found", str(exc))

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> Response:
        return _error(request, 400, "bad_request", str(exc))

    @app.exception_handler(ConfigError)
    async def bad_parameter(request: Request, exc: ConfigError) -> Response:
        return _error(request, 400, "bad_request", "; ".join(exc.lines))

    def _error(request: Request, status: int, code: str, detail: str) -> Response:
        if wants_json(request):
            return JSONResponse({"error": code, "detail": detail}, status_code=status)
        who = getattr(request.state, "principal", None)
        return HTMLResponse(pages.error(who, status, detail), status_code=status)

    # ------------------------------------------------------------------------------ public routes

    @app.get("/healthz", include_in_schema=True, tags=["ops"])
    def healthz() -> JSONResponse:
        """200 when the store answers (no token needed: for probes)."""
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "version": agent_version()})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        asset = pages.asset(name)
        if asset is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(asset[0], media_type=asset[1], headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return HTMLResponse(pages.login(None, next_path=_local(next)))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        _same_origin(request)
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
        token = (form.get("token") or [""])[0].strip()
        next_path = _local((form.get("next") or ["/"])[0])
        try:
            request.state.principal = request.app.state.tokens.lookup(token)
        except Unauthorized as exc:
            return HTMLResponse(pages.login(str(exc), next_path=next_path), status_code=401)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=session_hours * 3600,
            httponly=True,
            samesite="strict",
            secure=_https(request),
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, who: Who) -> Response:
        _same_origin(request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_https(request))
        return response

    # ------------------------------------------------------------------------------ pages and API

    def overview_data(who: Principal, framework: str, at: str | None) -> dict[str, Any]:
        who.require_framework(framework)
        portal.framework(framework)
        return data.framework_overview(portal, framework, make_view(who, at))

    def control_data(
        who: Principal, framework: str, control: str, at: str | None, start: str | None, end: str | None
    ) -> dict[str, Any]:
        who.require_framework(framework)
        portal.framework(framework)
        return data.control_detail(portal, framework, control, make_view(who, at, start, end))

    def evidence_data(who: Principal, item: int, at: str | None) -> dict[str, Any]:
        state = data.evidence_item(portal, item)
        kinds = portal.kinds_of(who.frameworks)
        if kinds is not None and state.kind not in kinds:
            raise Forbidden(f"evidence of kind {state.kind} is outside this token's frameworks")
        view = make_view(who, at)
        if who.window and not (
            state.first_seen_at < who.window[1] and (state.ended_at is None or state.ended_at > who.window[0])
        ):
            raise Forbidden(f"evidence item {item} is outside the audit window {who.window_text()}")
        return data.evidence_detail(portal, state, view)

    def runs_data(who: Principal, before: int | None) -> dict[str, Any]:
        return data.runs_list(portal, make_view(who, None), before)

    def run_data(who: Principal, run_id: int) -> dict[str, Any]:
        run, detail = data.run_detail(portal, run_id)
        if who.window and not who.window[0] <= run.started_at < who.window[1]:
            raise Forbidden(f"run {run_id} is outside the audit window {who.window_text()}")
        return detail

    def access_data(who: Principal, since: str | None, limit: int) -> list[dict[str, Any]]:
        who.require_engineer("the access log")
        moment = parse_moment(since, "since") if since else None
        return data.access_entries(portal, moment, limit)

    @app.get("/", include_in_schema=False)
    def home(who: Who) -> HTMLResponse:
        return HTMLResponse(pages.home(who, data.frameworks_list(portal, who.frameworks)))

    @app.get("/frameworks/{framework}", include_in_schema=False)
    def framework_page(who: Who, framework: Framework, at: DateOrTime = None) -> HTMLResponse:
        return HTMLResponse(pages.framework(who, overview_data(who, framework, at)))

    @app.get("/frameworks/{framework}/controls/{control}", include_in_schema=False)
    def control_page(
        who: Who,
        framework: Framework,
        control: Control,
        at: DateOrTime = None,
        start: FromDate = None,
        end: ToDate = None,
    ) -> HTMLResponse:
        return HTMLResponse(pages.control(who, control_data(who, framework, control, at, start, end)))

    @app.get("/evidence/{item}", include_in_schema=False)
    def evidence_page(who: Who, item: Id, at: DateOrTime = None) -> HTMLResponse:
        return HTMLResponse(pages.evidence(who, evidence_data(who, item, at)))

    @app.get("/runs", include_in_schema=False)
    def runs_page(who: Who, before: Before = None) -> HTMLResponse:
        return HTMLResponse(pages.runs(who, runs_data(who, before)))

    @app.get("/runs/{run_id}", include_in_schema=False)
    def run_page(who: Who, run_id: Id) -> HTMLResponse:
        return HTMLResponse(pages.run(who, run_data(who, run_id)))

    @app.get("/access", include_in_schema=False)
    def access_page(who: Who, since: DateOrTime = None, limit: Limit = 200) -> HTMLResponse:
        return HTMLResponse(pages.access(who, access_data(who, since, limit)))

    @app.get("/frameworks/{framework}/bundle", include_in_schema=False)
    def bundle_download(who: Who, framework: Framework, start: FromDate = None, end: ToDate = None) -> Response:
        """The evidence bundle of the framework for a period (default: the audit window), as `bundle create`
        writes it."""
        who.require_framework(framework)
        portal.framework(framework)
        view = make_view(who, None, start, end)
        if make_bundle is None:
            raise data.NotFound("bundle downloads are not configured")
        first = start or view.start.strftime("%Y-%m-%d")
        last = end or (view.end - dt.timedelta(microseconds=1)).strftime("%Y-%m-%d")
        folder = Path(tempfile.mkdtemp(prefix="ea-portal-bundle-"))
        name = f"evidence-{framework}-{first[:10]}-{last[:10]}.zip"
        try:
            path = make_bundle(framework, first, last, folder / name)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(
            path,
            media_type="application/zip",
            filename=name,
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    @app.get("/api/whoami", tags=["access"])
    def api_whoami(who: Who) -> dict[str, Any]:
        """The token's name, role and scope."""
        return who.as_dict()

    @app.get("/api/frameworks", tags=["controls"])
    def api_frameworks(who: Who) -> list[dict[str, Any]]:
        """Frameworks this token may see, with their coverage by automated checks."""
        return data.frameworks_list(portal, who.frameworks)

    @app.get("/api/frameworks/{framework}", tags=["controls"])
    def api_framework(who: Who, framework: Framework, at: DateOrTime = None) -> dict[str, Any]:
        """Control status counts, per family, and every control's status at `at` (default now)."""
        return overview_data(who, framework, at)

    @app.get("/api/frameworks/{framework}/controls/{control}", tags=["controls"])
    def api_control(
        who: Who,
        framework: Framework,
        control: Control,
        at: DateOrTime = None,
        start: FromDate = None,
        end: ToDate = None,
    ) -> dict[str, Any]:
        """One control: its checks (strength, rationale), failing resources, gaps, verdict timeline, drift,
        attachments."""
        return control_data(who, framework, control, at, start, end)

    @app.get("/api/evidence/{item}", tags=["evidence"])
    def api_evidence(who: Who, item: Id, at: DateOrTime = None) -> dict[str, Any]:
        """One resource's observed settings over the window, with raw answers, provenance and hashes."""
        return evidence_data(who, item, at)

    @app.get("/api/runs", tags=["runs"])
    def api_runs(who: Who, before: Before = None) -> dict[str, Any]:
        """Runs in the window (newest first, 100 per page) and the chain's verification."""
        return runs_data(who, before)

    @app.get("/api/runs/{run_id}", tags=["runs"])
    def api_run(who: Who, run_id: Id) -> dict[str, Any]:
        """One run: units, counts, gaps."""
        return run_data(who, run_id)

    @app.get("/api/access", tags=["access"])
    def api_access(who: Who, since: DateOrTime = None, limit: Limit = 200) -> list[dict[str, Any]]:
        """The access log, newest first (engineer tokens)."""
        return access_data(who, since, limit)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics(who: Who) -> PlainTextResponse:
        """Prometheus text format (engineer tokens)."""
        who.require_engineer("/metrics")
        return PlainTextResponse(data.metrics_text(portal), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def _local(path: str) -> str:
    """Only a path on this site to go back to after signing in (never another host)."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path if path not in ("/login", "/logout") else "/"


def _same_origin(request: Request) -> None:
    """Forms are posted from this site only (CSRF): a foreign Origin or a cross-site fetch is refused."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin and origin != "null" and urlsplit(origin).netloc != host:
        raise Forbidden("cross-site form post refused")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("cross-site form post refused")
