"""Alert sinks: one digest per sink per run, delivery recorded per event and sink (docs/alerts.md).

What a sink gets: every `due` event of the run's targets that passes its filters, was not delivered
to it yet, and is younger than `alerts.max_age`. A failed delivery is retried within the run (with
backoff), and again on every later run until delivered or expired; a delivered event is never sent
again to that sink. Nothing here can fail the collection run, and no URL, key or HMAC secret is ever
written to a log or the store: errors name the sink, never its address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from collector.config import SEVERITIES, AlertsConfig, SinkConfig
from collector.drift import event_record
from collector.store.models import AlertState, DeliveryStatus, DriftDelivery, DriftEvent
from connectors.base import agent_version, rfc3339, sha256_hex

log = structlog.get_logger("evidence_agent.alerts")

Sleep = Callable[[float], None]
SIGNATURE_HEADER = "X-Evidence-Signature"
DIGEST_SCHEMA = "evidence-agent/drift-digest/v1"
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SEVERITY = {"high": "error", "medium": "warning", "low": "info"}
SLACK_TOP = 10
STREAM_BATCH = 1000  # drift events read per batch when a run's events are turned into records


class DeliveryError(Exception):
    """Why a sink did not take a message, in words that never include its URL or keys."""


@dataclass
class Message:
    """One HTTP request to a sink and the events it carries."""

    events: list[DriftEvent]
    body: bytes
    headers: dict[str, str]
    digest_id: str


# --------------------------------------------------------------------------- secrets


def read_secret(sink: SinkConfig, name: str) -> str:
    env, path = getattr(sink, f"{name}_env"), getattr(sink, f"{name}_file")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise DeliveryError(f"{name}_env: environment variable {env} is not set")
        return value.strip()
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DeliveryError(f"{name}_file: cannot read {path}: {exc.strerror}") from None


def sink_url(sink: SinkConfig) -> str:
    url = read_secret(sink, "url") if (sink.url_env or sink.url_file) else PAGERDUTY_URL
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DeliveryError("the configured URL is not an http(s) URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise DeliveryError("refusing plain http to a non-loopback host: use https")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- payloads


def _group(events: list[DriftEvent]) -> list[dict[str, Any]]:
    """Events of one digest; the same change on the same resource several times (a flapping resource, or
    events from runs a sink missed) is listed once with a count."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event in events:
        key = (event.type, event.target, event.check_id, event.kind, event.scope, event.resource_id)
        record = event_record(event)
        record.pop("alert_state", None)
        if key in grouped:
            entry = grouped[key]
            entry["count"] += 1
            entry["event_ids"].append(event.id)
            entry.update({k: record[k] for k in ("at", "run_id", "reason", "evidence", "severity")})
        else:
            grouped[key] = record | {"count": 1, "event_ids": [event.id]}
    return list(grouped.values())


def digest_id(sink: str, events: list[DriftEvent]) -> str:
    return sha256_hex(sink + ":" + ",".join(str(e.id) for e in sorted(events, key=lambda e: e.id or 0)))


def webhook_payload(sink: str, events: list[DriftEvent], now: dt.datetime) -> dict[str, Any]:
    return {
        "schema": DIGEST_SCHEMA,
        "digest_id": digest_id(sink, events),
        "sink": sink,
        "sent_at": rfc3339(now),
        "agent_version": agent_version(),
        "runs": sorted({e.run_id for e in events}),
        "counts": dict(sorted(Counter(e.type for e in events).items())),
        "events": _group(events),
    }


def sign(secret: str, body: bytes) -> str:
    """`X-Evidence-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` (docs/alerts.md)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _controls_text(controls: dict[str, list[str]]) -> str:
    return "; ".join(f"{fw} {', '.join(ids)}" for fw, ids in controls.items()) or "no mapped control"


def slack_payload(sink: str, events: list[DriftEvent], now: dt.datetime) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the notification line) and Block Kit `blocks`."""
    counts = Counter(e.type for e in events)
    summary = ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in sorted(counts.items()))
    targets = sorted({e.target for e in events})
    text = f"evidence-agent drift on {', '.join(targets)}: {summary}"
    grouped = _group(events)
    failing = [g for g in grouped if g["type"] in ("regressed", "new_failure")]
    failing.sort(key=lambda g: (SEVERITIES.index(g["severity"]) * -1, g["type"] != "regressed", g["check_id"] or ""))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Compliance drift", "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary}*\nTargets: {', '.join(targets)}"}},
    ]
    if failing:
        lines = []
        for g in failing[:SLACK_TOP]:
            times = f" ({g['count']}x)" if g["count"] > 1 else ""
            lines.append(
                f"• *{g['type'].replace('_', ' ')}*{times} `{g['check_id']}` on `{g['resource_id']}`"
                f" — {g['reason']}\n   _{_controls_text(g['controls'])}_"
            )
        more = len(failing) - SLACK_TOP
        if more > 0:
            lines.append(f"…and {more} more (see `evidence-agent drift`)")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"digest {digest_id(sink, events)[:12]} · {rfc3339(now)}"}],
        }
    )
    return {"text": text, "blocks": blocks}


def pagerduty_payload(routing_key: str, event: DriftEvent, now: dt.datetime) -> dict[str, Any]:
    """Events API v2: trigger on a failure, resolve when it is remediated or the resource is gone; one
    dedup key per check and resource, so a resolve closes the incident its trigger opened."""
    dedup = sha256_hex(f"{event.target}|{event.check_id}|{event.resource_id}")[:40]
    if event.type in ("remediated", "removed"):
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup}
    record = event_record(event)
    summary = f"{event.type.replace('_', ' ')}: {event.check_id} on {event.resource_id} — {record['reason']}"
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {
            "summary": summary[:1024],
            "source": event.resource_id or event.target,
            "severity": PAGERDUTY_SEVERITY.get(event.severity, "warning"),
            "timestamp": rfc3339(event.created_at),
            "component": event.kind,
            "group": event.target,
            "class": event.check_id,
            "custom_details": {k: record[k] for k in ("type", "run_id", "region", "controls", "evidence", "previous")},
        },
    }


def messages(sink: SinkConfig, events: list[DriftEvent], now: dt.datetime) -> list[Message]:
    if sink.type == "pagerduty":
        key = read_secret(sink, "routing_key")
        out = []
        for event in events:
            if event.type not in ("regressed", "new_failure", "remediated", "removed") or (
                event.type == "removed" and (event.details.get("previous") or {}).get("verdict") != "fail"
            ):
                continue  # PagerDuty gets incidents: failures and their ends, nothing else
            body = json.dumps(pagerduty_payload(key, event, now), sort_keys=True).encode()
            out.append(Message([event], body, {"Content-Type": "application/json"}, digest_id(sink.name, [event])))
        return out
    payload = slack_payload(sink.name, events, now) if sink.type == "slack" else webhook_payload(sink.name, events, now)
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"evidence-agent/{agent_version()}"}
    if sink.type == "webhook" and (sink.secret_env or sink.secret_file):
        headers[SIGNATURE_HEADER] = sign(read_secret(sink, "secret"), body)
    return [Message(events, body, headers, digest_id(sink.name, events))]


# --------------------------------------------------------------------------- delivery


def _post(sink: SinkConfig, message: Message) -> None:
    if sink.type == "file":
        assert sink.path is not None
        line = {"sink": sink.name, "headers": message.headers, "body": json.loads(message.body)}
        try:
            with open(sink.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise DeliveryError(f"cannot append to {sink.path}: {exc.strerror}") from None
        return
    url = sink_url(sink)
    try:
        response = requests.post(
            url, data=message.body, headers=message.headers, timeout=sink.timeout_seconds, allow_redirects=False
        )
    except requests.Timeout:
        raise DeliveryError(f"no answer within {sink.timeout_seconds:g} s") from None
    except requests.RequestException as exc:  # its text holds the URL: keep only the class
        raise DeliveryError(f"connection failed ({type(exc).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}")


def send_with_retries(
    sink: SinkConfig, message: Message, retries: int, backoff: float, sleep: Sleep
) -> tuple[int, str | None]:
    """(attempts made, last error or None when delivered)."""
    error: str | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            _post(sink, message)
            return attempt + 1, None
        except DeliveryError as exc:
            error = str(exc)
            log.warning("alert delivery failed", sink=sink.name, attempt=attempt + 1, error=error)
    return retries + 1, error


def _wants(sink: SinkConfig, event: DriftEvent) -> bool:
    f = sink.filters
    if f.types and event.type not in f.types:
        return False
    if f.targets and event.target not in f.targets:
        return False
    if SEVERITIES.index(event.severity) < SEVERITIES.index(f.min_severity):
        return False
    return not f.frameworks or any(fw in (event.details.get("controls") or {}) for fw in f.frameworks)


def _record(session: Session, sink: str, message: Message, attempts: int, error: str | None, now: dt.datetime) -> None:
    ids = [e.id for e in message.events]
    existing = {
        d.event_id: d
        for d in session.execute(
            sa.select(DriftDelivery).where(DriftDelivery.sink == sink, DriftDelivery.event_id.in_(ids))
        ).scalars()
    }
    for event_id in ids:
        row = existing.get(event_id) or DriftDelivery(
            event_id=event_id,
            sink=sink,
            status=DeliveryStatus.FAILED,
            attempts=0,
            first_attempt_at=now,
            last_attempt_at=now,
        )
        row.attempts += attempts
        row.last_attempt_at = now
        row.digest_id = message.digest_id
        row.status = DeliveryStatus.FAILED if error else DeliveryStatus.DELIVERED
        row.last_error = error
        row.delivered_at = None if error else now
        session.add(row)


@dataclass
class SinkReport:
    sink: str
    events: int
    messages: int
    delivered: int
    failed: int
    expired: int


def deliver(
    engine: sa.Engine, targets: list[str], alerts: AlertsConfig, now: dt.datetime, sleep: Sleep = time.sleep
) -> list[SinkReport]:
    """Send every sink its digest of undelivered due events of these targets; log every digest."""
    if not alerts.sinks:  # the log digest is the only sink: nothing to load or send
        return []
    cutoff = now - alerts.max_age_delta
    reports = []
    with Session(engine, expire_on_commit=False) as session:
        due = list(
            session.execute(
                sa.select(DriftEvent)
                .where(
                    DriftEvent.alert_state == AlertState.DUE,
                    DriftEvent.target.in_(targets),
                    DriftEvent.created_at >= cutoff,
                )
                .order_by(DriftEvent.id)
            ).scalars()
        )
        for sink in alerts.sinks:
            expired = _expire(session, sink.name, targets, cutoff, now)
            session.commit()
            done = (
                set(
                    session.execute(
                        sa.select(DriftDelivery.event_id).where(
                            DriftDelivery.sink == sink.name,
                            DriftDelivery.status.in_((DeliveryStatus.DELIVERED, DeliveryStatus.EXPIRED)),
                            DriftDelivery.event_id.in_([e.id for e in due]),
                        )
                    ).scalars()
                )
                if due
                else set()
            )
            todo = [e for e in due if e.id not in done and _wants(sink, e)]
            report = SinkReport(sink.name, len(todo), 0, 0, 0, expired)
            if todo:
                try:
                    outgoing = messages(sink, todo, now)
                except DeliveryError as exc:  # e.g. its key is not set: every event stays undelivered
                    log.error("alert sink not usable", sink=sink.name, error=str(exc))
                    outgoing = []
                    _record(session, sink.name, Message(todo, b"", {}, digest_id(sink.name, todo)), 1, str(exc), now)
                    session.commit()
                    report.failed = len(todo)
                for message in outgoing:
                    attempts, error = send_with_retries(sink, message, alerts.retries, alerts.backoff_seconds, sleep)
                    _record(session, sink.name, message, attempts, error, now)
                    session.commit()
                    report.messages += 1
                    if error:
                        report.failed += len(message.events)
                    else:
                        report.delivered += len(message.events)
            if report.events or report.expired:
                log.info(
                    "alert sink",
                    sink=sink.name,
                    events=report.events,
                    messages=report.messages,
                    delivered=report.delivered,
                    failed=report.failed,
                    expired=report.expired,
                )
            reports.append(report)
    return reports


def _expire(session: Session, sink: str, targets: list[str], cutoff: dt.datetime, now: dt.datetime) -> int:
    """Failed deliveries of events older than `max_age` are given up on, loudly."""
    stale = (
        session.execute(
            sa.select(DriftDelivery)
            .join(DriftEvent, DriftEvent.id == DriftDelivery.event_id)
            .where(
                DriftDelivery.sink == sink,
                DriftDelivery.status == DeliveryStatus.FAILED,
                DriftEvent.created_at < cutoff,
                DriftEvent.target.in_(targets),
            )
        )
        .scalars()
        .all()
    )
    for row in stale:
        row.status = DeliveryStatus.EXPIRED
        row.last_attempt_at = now
    if stale:
        log.error("alert deliveries expired undelivered", sink=sink, events=len(stale))
    return len(stale)


def log_digest(run_id: int, records: list[dict[str, Any]]) -> None:
    """The structured-log sink: always on, one line per run with the counts and each event's essentials.

    `records`: the run's events as `event_record` shapes them."""
    if not records:
        return
    log.info(
        "drift digest",
        run_id=run_id,
        counts=dict(sorted(Counter(r["type"] for r in records).items())),
        events=[
            {
                "id": r["id"],
                "type": r["type"],
                "check": r["check_id"],
                "target": r["target"],
                "resource": r["resource_id"],
                "region": r["region"],
                "severity": r["severity"],
                "alert_state": r["alert_state"],
                "reason": r["reason"],
            }
            for r in records
        ],
    )


def after_run(
    engine: sa.Engine,
    run_id: int,
    targets: list[str],
    catalog: Any,
    alerts: AlertsConfig,
    now: dt.datetime,
    sleep: Sleep = time.sleep,
) -> list[dict[str, Any]]:
    """Drift of this run (and of any earlier run of these targets whose drift was never computed), the log
    digest, then delivery to every sink. Returns this run's events."""
    from collector.drift import compute_run, undrifted_runs

    for earlier in undrifted_runs(engine, targets):
        if earlier != run_id:
            compute_run(engine, earlier, catalog, alerts.confirm_runs, now)
    compute_run(engine, run_id, catalog, alerts.confirm_runs, now)
    # Streamed: a first run over a large account can raise tens of thousands of events, and only their
    # records are kept (the ORM rows are let go as each batch is read).
    query = sa.select(DriftEvent).where(DriftEvent.run_id == run_id).order_by(DriftEvent.id)
    with Session(engine) as session:
        records = [event_record(e) for e in session.execute(query.execution_options(yield_per=STREAM_BATCH)).scalars()]
    log_digest(run_id, records)
    deliver(engine, targets, alerts, now, sleep)
    return records
