"""The warm worker of `caseflags serve`: each served night starts with its libraries loaded.

Prefect's runner starts every flow run of a served deployment in a new Python process
(`run_flow_in_subprocess`, multiprocessing's "spawn"), so every night would pay its imports
again: about 10 s of CPU for Prefect, polars, DuckDB, Great Expectations and splink, against a
few seconds of work for a small delivery.

`caseflags serve` therefore starts one long-lived template process first: multiprocessing's
fork server, a fresh interpreter that imports `caseflags.flows.warm_template` (every heavy
library, imports only) and then waits. Prefect's runner is told to start each flow run from that
context instead of "spawn": the flow run is a fresh process forked from the template, so it
starts warm and still runs exactly as Prefect's own child would (Prefect's code, the same
`nightly` flow and tasks, its own store lock and connection, its exit status and crash handling,
nothing kept between nights: memory is returned when the night's process ends). Only the way the
process is created changes. The template exits with `caseflags serve`.

The one hook into Prefect is the name `multiprocessing` in `prefect.flow_engine`, which
`run_flow_in_subprocess` asks for its "spawn" context (Prefect 3.9, pinned in constraints.txt).
`install` refuses loudly if that is not what it finds, and a test runs a served night and checks
that it ran in the warm worker, so a Prefect upgrade that moves the hook fails a test instead of
silently running cold.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import sys
import time
from types import ModuleType

TEMPLATE_MODULE = "caseflags.flows.warm_template"


class WarmWorkerUnavailable(RuntimeError):
    """The warm worker could not be started or installed; the message is one line."""


class _WarmContexts:
    """Stands for the `multiprocessing` module inside `prefect.flow_engine`: every context asked
    for (Prefect asks for "spawn") is the warm fork server's; everything else is multiprocessing's."""

    def __init__(self, context: multiprocessing.context.BaseContext):
        self._context = context

    def get_context(self, method: str | None = None) -> multiprocessing.context.BaseContext:
        return self._context

    def __getattr__(self, name: str):
        return getattr(multiprocessing, name)


def _template_ready() -> None:
    """Run in a process forked from the template: exit 0 only when the template is warm."""
    sys.exit(0 if TEMPLATE_MODULE in sys.modules else 3)


def start_template(timeout: float = 600.0) -> tuple[multiprocessing.context.BaseContext, float]:
    """Start the fork server with the warm imports and wait until it has loaded them (a first,
    empty child is forked from it). Returns the context and the seconds the warm-up took."""
    context = multiprocessing.get_context("forkserver")
    # caseflags.cli: the `caseflags` script, which a child re-runs as its main module, imports it.
    context.set_forkserver_preload([TEMPLATE_MODULE, "caseflags.cli"])
    started = time.perf_counter()
    probe = context.Process(target=_template_ready, name="caseflags-warm-probe")
    probe.start()
    probe.join(timeout)
    if probe.exitcode != 0:
        if probe.exitcode is None:
            probe.kill()
        raise WarmWorkerUnavailable(
            f"the warm worker did not load its libraries ({TEMPLATE_MODULE}; exit {probe.exitcode})"
        )
    return context, round(time.perf_counter() - started, 2)


def install(context: multiprocessing.context.BaseContext, engine: ModuleType | None = None) -> None:
    """Make Prefect start flow runs from the warm context (see the module's docstring)."""
    if engine is None:
        import prefect.flow_engine as engine
    if getattr(engine, "multiprocessing", None) is not multiprocessing or not hasattr(engine, "run_flow_in_subprocess"):
        raise WarmWorkerUnavailable(
            "this Prefect version does not start flow runs through multiprocessing as caseflags expects: "
            "the warm worker cannot be installed"
        )
    engine.multiprocessing = _WarmContexts(context)


def start_warm_worker() -> float:
    """Start the template and route Prefect's flow runs through it; the warm-up's seconds."""
    context, seconds = start_template()
    install(context)
    return seconds


def warm_origin() -> dict | None:
    """In a night forked from the warm worker: the template's pid and its import time; else None."""
    template = sys.modules.get(TEMPLATE_MODULE)
    if template is None:
        return None
    return {"template_pid": template.TEMPLATE_PID, "import_seconds": template.IMPORT_SECONDS}
