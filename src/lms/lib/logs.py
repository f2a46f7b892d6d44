"""Logging for every process (API, worker, beat): one JSON object per line, level from LOG_LEVEL.

structlog loggers and the standard library's (Celery, uvicorn, SQLAlchemy, third-party code) go
through the same renderer, so a process never mixes JSON with plain text. `LOG_FORMAT=console`
renders the same events for humans.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from lms.config import Settings


def _process_name(name: str) -> Processor:
    def add_process(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("process", name)
        return event

    return add_process


def _shared_processors(process: str) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _process_name(process),
    ]


def configure_logging(
    settings: Settings, *, process: str = "api", filters: Iterable[logging.Filter] = ()
) -> logging.Handler:
    """Route structlog and the standard library through one renderer on stderr; returns the handler
    (a caller may add filters to it later). Safe to call again (the previous handler is replaced)."""
    level = logging.getLevelName(settings.log_level)
    if not isinstance(level, int):
        level = logging.INFO
    renderer: Processor = (
        structlog.processors.JSONRenderer() if settings.log_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = _shared_processors(process)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Standard-library records (Celery's own, uvicorn's, warnings from libraries) get the same shape.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _positional_args_to_message],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("lms")
    for log_filter in filters:
        handler.addFilter(log_filter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "lms" or type(h) is logging.StreamHandler]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Python warnings (a library's SecurityWarning, deprecations) become log lines of the same shape.
    logging.captureWarnings(True)
    # uvicorn and Celery configure their own loggers with their own handlers: send them to the root one.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "celery.redirected"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler


def _positional_args_to_message(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A standard-library record's message is already formatted by ProcessorFormatter; drop the
    record's leftovers that JSON cannot hold."""
    event.pop("positional_args", None)
    return event


def bind_log_context(**values: Any) -> None:
    """Add fields (task, tenant_id) to every line this context logs next."""
    structlog.contextvars.bind_contextvars(**values)
