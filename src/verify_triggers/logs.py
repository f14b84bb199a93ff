"""Alembic's progress lines ("Running upgrade 0002 -> 0003, ..."), where the caller wants
them: the CLI prints them on stdout (stderr is kept for the one error line), the demo
indents them into its story. One setup for both."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LOGGER = "alembic.runtime.migration"
# Alembic's connection chatter, of no use to someone deploying
_CHATTER = ("Context impl", "Will assume")


class _Lines(logging.Handler):
    def __init__(self, out: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith(_CHATTER):
            self.out(message)


@contextmanager
def migration_output(out: Callable[[str], None]) -> Iterator[None]:
    """Send Alembic's progress lines to ``out`` (one call per line) while the block runs."""
    logger = logging.getLogger(LOGGER)
    handler = _Lines(out)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
