"""One progress line per pipeline step, on the `opvalue` logger.

`make pipeline` prints these lines; inside the Dagster UI the same steps report through
Dagster's own event log, so nothing here depends on how a run was launched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("opvalue")


@contextmanager
def step(name: str) -> Iterator[None]:
    """Log the start and the end (with elapsed seconds) of a named step."""
    started = time.perf_counter()
    log.info("-> %s", name)
    try:
        yield
    except BaseException:
        log.error("!! %s failed after %.1fs", name, time.perf_counter() - started)
        raise
    log.info("ok %s (%.1fs)", name, time.perf_counter() - started)
