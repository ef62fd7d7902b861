"""structlog: JSON lines on stderr when not attached to a terminal (the CronJob case), readable otherwise."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(fmt: str | None = None, level: int = logging.INFO) -> None:
    fmt = fmt or ("console" if sys.stderr.isatty() else "json")
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks if fmt == "json" else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries' own logging (botocore, moto) stays quiet unless it is a warning.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
