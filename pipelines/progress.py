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


def step_failure_message(event) -> str:
    """`<step> failed: <error>` for a Dagster STEP_FAILURE event.

    Dagster wraps an asset's exception in its own errors; the first non-Dagster error in
    the chain is the one that tells an operator what happened (source, file, reason).
    """
    data = getattr(event, "step_failure_data", None)
    error = data.error if data else None
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    if error is None:
        reason = "unknown error"
    elif error.cls_name == "FileLoadError":
        reason = error.message.strip()  # already names the source, the file and the error
    else:
        reason = f"{error.cls_name}: {error.message.strip()}"
    return f"{getattr(event, 'step_key', None) or 'a step'} failed: {reason}"
