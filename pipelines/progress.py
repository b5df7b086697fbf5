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
    elif error.cls_name in ("FileLoadError", "PublishRefused"):
        reason = _without_class(error)  # already names the source or the path, and the reason
    else:
        reason = f"{error.cls_name}: {error.message.strip()}"
    return f"{getattr(event, 'step_key', None) or 'a step'} failed: {reason}"


def run_failure_reason(event) -> str | None:
    """The reason a run failed outside any step (a resource that could not start), or None.

    Dagster reports it as `DagsterResourceFunctionError`; the first error in the chain that
    is not Dagster's own names the path and the cause (e.g. a read-only warehouse folder).
    """
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    if error is None:
        return None
    if error.cls_name in ("BuildStartError", "BuildLocked"):
        return _without_class(error)
    return f"{error.cls_name}: {_without_class(error)}"


def _without_class(error) -> str:
    """The error's message on one line, without the `module.Class: ` prefix Dagster keeps."""
    message = " ".join((error.message or "").split())
    head, found, rest = message.partition(f"{error.cls_name}: ")
    return rest if found and " " not in head else message
