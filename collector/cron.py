"""Cron expressions with crontab meaning, evaluated by APScheduler 3.x's cron trigger.

A target's `schedule:` and the chart's CronJob `schedule` are read the way crontab and Kubernetes
read them: five fields (minute, hour, day of month, month, day of week), weekdays numbered from
Sunday = 0 to Saturday = 6 (or named sun-sat), all times UTC. APScheduler 3.x differs in two ways,
both bridged here:

- it numbers weekdays from Monday = 0, so the day-of-week field is rewritten as weekday names;
- it requires day of month AND day of week to match, while crontab runs when EITHER matches if both
  are restricted (`0 0 1 * mon`: the 1st and every Monday), so that case becomes an OrTrigger of two.
"""

from __future__ import annotations

import datetime as dt
import re

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

CRONTAB_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: sun = 0
ELEMENT = re.compile(r"^(?P<start>\*|[0-6]|[a-z]{3})(?:-(?P<end>[0-6]|[a-z]{3}))?(?:/(?P<step>[1-9]\d*))?$")


def _weekday(token: str, field: str) -> int:
    if token.isdigit():
        return int(token)
    if token not in CRONTAB_WEEKDAYS:
        raise ValueError(f"day of week {field!r}: {token!r} is not a weekday (0-6 from Sunday, or sun-sat)")
    return CRONTAB_WEEKDAYS.index(token)


def crontab_weekdays(field: str) -> set[int]:
    """The weekdays (0 = Sunday) a crontab day-of-week field selects."""
    days: set[int] = set()
    for element in field.lower().split(","):
        match = ELEMENT.match(element)
        if not match:
            raise ValueError(f"day of week {field!r}: {element!r} is not a weekday, range or step")
        if match["start"] == "*":
            if match["end"]:
                raise ValueError(f"day of week {field!r}: '*' cannot start a range")
            first, last = 0, 6
        else:
            first = _weekday(match["start"], field)
            last = _weekday(match["end"], field) if match["end"] else (6 if match["step"] else first)
        if first > last:
            raise ValueError(f"day of week {field!r}: range {element!r} runs backwards")
        days.update(range(first, last + 1, int(match["step"] or 1)))
    return days


def _apscheduler_weekdays(field: str) -> str:
    if field == "*":
        return "*"
    # crontab 0 = Sunday; APScheduler's names are unambiguous, so name every selected day.
    return ",".join(CRONTAB_WEEKDAYS[d] for d in sorted(crontab_weekdays(field)))


def cron_trigger(expr: str, timezone: str | dt.tzinfo = "UTC") -> BaseTrigger:
    """An APScheduler trigger that fires when crontab would; ValueError says what is wrong."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    weekdays = _apscheduler_weekdays(weekday)
    common = {"minute": minute, "hour": hour, "month": month, "timezone": timezone}
    if day != "*" and weekday != "*":
        return OrTrigger([CronTrigger(day=day, **common), CronTrigger(day_of_week=weekdays, **common)])
    return CronTrigger(day=day, day_of_week=weekdays, **common)


def next_fire_after(trigger: BaseTrigger, moment: dt.datetime) -> dt.datetime:
    """The first fire time strictly after `moment` (cron triggers always have one)."""
    fire = trigger.get_next_fire_time(None, moment + dt.timedelta(microseconds=1))
    assert fire is not None
    return fire
