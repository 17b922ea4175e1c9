"""The `caseflags` command (interface: ../shared/contract/OUTPUTS.md, restated in README.md).

Exit status 0 when the run completed (exceptions found and rows quarantined included); 2 with a
one-line reason, naming the path, for every foreseen failure (bad configuration, missing or
wrong paths, a store locked by another run, disk full, read-only folder); an unforeseen error
is one line and exit 1. A traceback is printed only with `--debug`.

Commands are plain typer functions grouped in sub-apps (`review`, `sample`, `links`); a new
command wraps its body in `with foreseen_failures():` and reports with `_fail`
(caseflags/failures.py). Modules that are
slow to import (Prefect, splink) are imported inside the commands that need them, so `caseflags
--help` and the small commands stay fast.

Over 500 lines on purpose: every command is a thin wrapper (parse, validate, call a stage or
flow, print one summary), and keeping them in one module keeps the exit-status and one-line
failure rules, shared options and `--help` in one place an operator can read.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from caseflags.audit.model import children_text
from caseflags.audit.outcomes import import_audit_outcomes, mark_audited
from caseflags.audit.sampling import choose_sample
from caseflags.audit.workbook import write_sample
from caseflags.checking.registry import load_registry
from caseflags.environment import prepare_process, quiet_environment
from caseflags.failures import check_writable_folder, fail_each, foreseen_failures
from caseflags.failures import debug as debug_mode
from caseflags.failures import fail as _fail  # (the name commands use)
from caseflags.ingest.database_source import parse_source_url
from caseflags.outputs.review_import import ReviewImportError, import_review
from caseflags.outputs.snapshot import SnapshotUnavailable, publish_snapshot
from caseflags.settings import load_config
from caseflags.store.database import check_store_path, connect, ensure_store
from caseflags.store.locking import store_lock
from caseflags.store.retention import archived_deliveries
from caseflags.web.accounts import AccountError, add_user, disable_user, list_users, set_password
from caseflags.workspace.carry_audit import carry_web_audit
from caseflags.workspace.database import connect_workspace, utc_now, workspace_path

quiet_environment()  # also when the app is driven without main() (tests, typer's runner)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Nightly multi-agency checks for children in need with an EHCP.",
)
review_app = typer.Typer(no_args_is_help=True, help="Officers' review of exceptions.")
app.add_typer(review_app, name="review")
sample_app = typer.Typer(help="The next audit sample, chosen from the findings.")
links_app = typer.Typer(
    no_args_is_help=True, help="Possible matches between agency records and children, for officers to decide."
)
app.add_typer(links_app, name="links")
app.add_typer(sample_app, name="sample")
region_app = typer.Typer(no_args_is_help=True, help="Several authorities at once, with children who cross the border.")
app.add_typer(region_app, name="region")

console = Console()
err = Console(stderr=True)

DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store (must exist; see `run --new-store`).")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="A caseflags TOML file overriding the defaults.")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Print tracebacks and library logs (for a developer).")]


@app.callback()
def _options(debug: DebugOption = False) -> None:
    """Nightly multi-agency checks for children in need with an EHCP."""
    if debug:
        debug_mode["on"] = True


def _load_config(path: Path | None):
    """The validated configuration; every problem one line, exit 2."""
    with foreseen_failures():
        return load_config(path)


# --- run ---------------------------------------------------------------------------------------

SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="The authority's database: postgresql://HOST[:PORT]/DATABASE?schema=SCHEMA (no password: "
        "libpq's PGPASSFILE/.pgpass, PGPASSWORD or PGSERVICE; docs/EXTRACTS.md). Tables it lacks "
        "come from --extracts.",
    ),
]


def _check_source(source: str | None, extracts: Path | None) -> None:
    """--source or --extracts (or both); a source URL holding a password is refused unread."""
    if source is None and extracts is None:
        _fail("give --extracts FOLDER, --source URL, or both")
    if source is not None:
        parse_source_url(source)  # SourceRefused: one line, exit 2 (a RunAborted)


@app.command()
def run(
    extracts: Annotated[
        Path | None,
        typer.Option(
            "--extracts",
            help="Delivery folder (required unless --source); with --from/--to, the archive of dated delivery folders.",
        ),
    ] = None,
    source: SourceOption = None,
    as_at: Annotated[str | None, typer.Option("--as-at", help="As-at date YYYY-MM-DD (default: today).")] = None,
    db: DbOption = Path("caseflags.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="Reports folder; the run writes <out>/<as-at>/.")] = Path(
        "reports"
    ),
    config: ConfigOption = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Backfill: first as-at date (archive folders named YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Backfill: last as-at date.")] = None,
    new_store: Annotated[
        bool,
        typer.Option(
            "--new-store",
            help="Create the store at --db when it does not exist (otherwise a missing store is an error).",
        ),
    ] = False,
    retrain_linkage: Annotated[
        bool,
        typer.Option(
            "--retrain-linkage",
            help="Train the linkage model again tonight (otherwise only when linkage.retrain_changed_share of its rows changed).",
        ),
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Load a delivery, check it and write the night's exception lists (or backfill a date range)."""
    debug_mode["on"] = debug_mode["on"] or debug
    settings = _load_config(config)  # a bad config fails here, before anything else
    with foreseen_failures():
        _check_source(source, extracts)
        if extracts is not None and not extracts.is_dir():
            _fail(f"extracts folder not found: {extracts}")
        if source is not None and date_from is not None:
            _fail("--source reads the database as it is now: it cannot backfill with --from/--to")
        if (date_from is None) != (date_to is None):
            _fail("--from and --to go together")
        if date_from is not None:
            if as_at:
                _fail("--as-at and --from/--to cannot be used together")
            runs = archived_deliveries(extracts, _parse_date(date_from), _parse_date(date_to))
            if not runs:
                _fail(f"no delivery folders named YYYY-MM-DD between {date_from} and {date_to} in {extracts}")
        else:
            runs = [(_parse_date(as_at) if as_at else date.today(), extracts)]
        check_store_path(db, create=new_store)
        check_writable_folder(db.resolve().parent, "store folder")
        check_writable_folder(out, "reports folder --out")
        if settings.retention["archive_dir"]:
            check_writable_folder(Path(settings.retention["archive_dir"]), "archive folder retention.archive_dir")
        _refuse_if_locked(db)  # fail fast, before Prefect starts; the flow holds the lock itself
        _configure_logging()
        from caseflags.flows.nightly import nightly  # Prefect: slow to import

        _mute_console_logs()  # again: importing Prefect may install its own console handler
        for run_date, folder in runs:
            with _progress(f"caseflags run {run_date}"):
                run_dir = nightly(
                    extracts=str(folder) if folder is not None else None,
                    as_at=run_date,
                    db=str(db),
                    out=str(out),
                    config_path=str(config) if config else None,
                    new_store=new_store,
                    source=source,
                    retrain_linkage=retrain_linkage,
                )
            _print_run_summary(Path(run_dir))


def _configure_logging() -> None:
    """With --debug: caseflags' progress and every library's logs on stderr. Otherwise nothing:
    the summary, the progress line (in a terminal) and the one-line failures say what happened."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("caseflags").setLevel(logging.INFO if debug_mode["on"] else logging.WARNING)
    _mute_console_logs()


def _mute_console_logs() -> None:
    """Mute the console handlers (ours and those Prefect installs on import), so Prefect's run
    logs, notices and the traceback of a failed task are not printed before the CLI's one line.
    Prefect's handlers that send run logs to its API (on its own loggers) are left as they are."""
    if debug_mode["on"]:
        return
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.CRITICAL + 1)


class _StatusHandler(logging.Handler):
    def __init__(self, status, label: str):
        super().__init__(logging.INFO)
        self.status, self.label = status, label

    def emit(self, record: logging.LogRecord) -> None:
        self.status.update(f"{self.label}: {record.getMessage()}")


@contextmanager
def _progress(label: str) -> Iterator[None]:
    """A stage progress line (rich) in a terminal; nothing at all when not a terminal."""
    if not err.is_terminal:
        yield
        return
    logger = logging.getLogger("caseflags.progress")
    with err.status(f"{label}: starting") as status:
        handler = _StatusHandler(status, label)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            logger.removeHandler(handler)


def _refuse_if_locked(db: Path) -> None:
    with store_lock(db):
        pass


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"--as-at must be a date YYYY-MM-DD, got {text!r}")


def _print_run_summary(run_dir: Path) -> None:
    record = json.loads((run_dir / "run.json").read_text())
    table = Table(title=f"caseflags run {record['run_id']}", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("exceptions", justify="right")
    for check_id, result in record["checks"].items():
        table.add_row(check_id, result["status"], "" if result["exceptions"] is None else str(result["exceptions"]))
    console.print(table)
    _print_ledger(record)
    for unused in record.get("unused_files") or []:
        console.print(f"not used {unused['file']}: {unused['reason']}", highlight=False)
    for loaded in record.get("returns") or []:
        console.print(
            f"return {loaded['file']} ({loaded['collection']} {loaded['census_year']}): "
            f"{loaded['records_read']} read, {loaded['records_loaded']} loaded, "
            f"{loaded['records_quarantined']} quarantined, {loaded['warnings']} warnings"
            + (
                f" ({loaded['records_merged']} merged with the same child from another source)"
                if loaded.get("records_merged")
                else ""
            ),
            highlight=False,
        )
    _print_ssd_notes(record)
    quarantined = sum(e["rows_quarantined"] for e in record["extracts"].values())
    delivery = record.get("delivery") or {}
    if delivery:
        console.print(
            f"delivery {delivery['folder']} ({delivery['files']} files, sha256 {delivery['digest'][:12]})",
            highlight=False,
        )
    console.print(f"{quarantined} rows quarantined; reports in {run_dir}", highlight=False)
    reused = record.get("reused_results")
    if reused:
        console.print(
            f"[yellow]kept[/] checks and report files of the run completed at {reused['from_run_completed_at']}: "
            f"{reused['reason']}",
            markup=True,
            highlight=False,
        )


def _print_ssd_notes(record: dict) -> None:
    """Loud when a table was refused as untrustworthy; one line per file whose NULL literals or SSD
    placeholders were loaded as missing, and per file with columns caseflags does not read."""
    from rich.markup import escape

    not_evaluated = sum(1 for c in record["checks"].values() if c["status"] != "EVALUATED")
    for table, extract in record["extracts"].items():
        if extract["status"] == "REFUSED" and str(extract.get("reason") or "").startswith("untrustworthy"):
            kept = "previous data kept (stale)" if extract.get("stale") else "no earlier data"
            console.print(
                f"[bold red]NOT A GOOD NIGHT[/] {table} refused: {escape(extract['reason'])}; {kept}; "
                f"{not_evaluated} checks not evaluated",
                markup=True,
                highlight=False,
            )
    for entry in record.get("ledger", []):
        for literal, columns in (entry.get("missing_literals") or {}).items():
            counts = ", ".join(f"{c} {n}" for c, n in columns.items())
            console.print(
                f"{escape(entry['file'])}: {sum(columns.values())} {literal} values loaded as missing ({counts})",
                highlight=False,
            )
        for column, n in (entry.get("worker_names") or {}).items():
            console.print(
                f"[yellow]{escape(entry['file'])}[/]: {column} holds {n} worker names, not ids: loaded as missing",
                markup=True,
                highlight=False,
            )
        if entry.get("not_used_columns"):
            console.print(
                f"{escape(entry['file'])}: not used: {escape(', '.join(entry['not_used_columns']))}", highlight=False
            )


def _print_ledger(record: dict) -> None:
    """The ledger per delivered file (read = loaded + quarantined [+ withheld]), then one line per
    refused file and per table refused or kept stale, with the reason; loud when it does not balance."""
    from rich.markup import escape

    from caseflags.store.ledger import describe_unbalanced

    entries = [e for e in record.get("ledger", []) if e["read"] is not None]
    if entries:
        ledger = Table(title="ledger: records read = loaded + quarantined (+ withheld)", show_lines=False)
        for column in ("file", "table", "status", "read", "loaded", "quarantined", "withheld"):
            ledger.add_column(
                column, justify="right" if column in ("read", "loaded", "quarantined", "withheld") else "left"
            )
        for e in entries:
            mark = "" if e["balanced"] else " [bold red]UNBALANCED[/]"
            ledger.add_row(
                escape(e["file"]),
                e["table"],
                e["status"] + mark,
                str(e["read"]),
                str(e["loaded"]),
                str(e["quarantined"]),
                str(e["withheld"] or 0),
            )
        console.print(ledger)
    for problem in record.get("refused_files") or []:
        console.print(
            f"[yellow]refused[/] {escape(problem['file'])}: {escape(problem['reason'])}", markup=True, highlight=False
        )
    for table, extract in record["extracts"].items():
        if extract["status"] == "FAILED_CONTRACT":
            kept = "previous data kept (stale)" if extract["stale"] else "no earlier data"
            console.print(
                f"[yellow]failed its data contract[/] {table} ({escape(extract['file'])}): "
                f"{escape(extract['reason'])}; {kept}",
                markup=True,
                highlight=False,
            )
        elif extract["status"] == "REFUSED" and extract["stale"]:
            console.print(
                f"[yellow]stale[/] {table}: previous data kept ({escape(extract['file'])} refused: "
                f"{escape(extract['reason'])})",
                markup=True,
                highlight=False,
            )
        elif extract["status"] == "NOT_DELIVERED" and extract["stale"]:
            console.print(f"[yellow]stale[/] {table}: not delivered; previous data kept", markup=True, highlight=False)
    for e in record.get("ledger", []):
        if e["balanced"] is False:
            console.print(f"[bold red]{escape(describe_unbalanced(e))}[/]", markup=True, highlight=False)


@app.command()
def inspect(
    extracts: Annotated[Path, typer.Option("--extracts", help="The delivery folder to inspect.")],
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Say what each file of a delivery would become, without loading anything (no store, no files).

    Exit 0 when the delivery would load, 2 when an extract would be refused or ssd_person is missing."""
    debug_mode["on"] = debug_mode["on"] or debug
    settings = _load_config(config)
    with foreseen_failures():
        if not extracts.is_dir():
            _fail(f"extracts folder not found: {extracts}")
        from caseflags.ingest.inspect import inspect_delivery

        _mute_console_logs()
        result = inspect_delivery(extracts, settings)
    _print_inspection(result)
    if not result.would_load:
        raise typer.Exit(2)


def _print_inspection(result) -> None:
    from rich.markup import escape

    from caseflags.ingest.inspect import describe_coverage

    table = Table(title=f"caseflags inspect {escape(result.folder)}", show_lines=True)
    for column in ("file", "recognised as", "verdict", "read", "would load", "quarantined", "dates", "details"):
        table.add_column(
            column, justify="right" if column in ("read", "would load", "quarantined") else "left", overflow="fold"
        )
    for f in result.files:
        details = []
        if f.reason:
            details.append(f"reason: {f.reason}")
        if f.used:
            details.append(f"used: {', '.join(f.used)}")
        if f.ignored:
            details.append(f"ignored: {', '.join(f.ignored)}")
        if f.missing:
            details.append(f"missing (optional): {', '.join(f.missing)}")
        details += [f"quarantined {n}: {reason}" for reason, n in f.top_reasons]
        details += [describe_coverage(i) for i in f.identifiers]
        details += f.notes
        colour = {"WOULD LOAD": "green", "WOULD BE REFUSED": "bold red", "NOT USED": "dim"}[f.verdict]
        counted = f.verdict != "NOT USED" and (f.rows_read or f.verdict == "WOULD LOAD")
        table.add_row(
            escape(f.file),
            escape(f.recognised_as),
            f"[{colour}]{f.verdict}[/]",
            str(f.rows_read) if counted else "",
            str(f.would_load) if counted else "",
            str(f.would_quarantine) if counted else "",
            " to ".join(f.date_range) if f.date_range else "",
            escape("\n".join(details)),
        )
    console.print(table)
    for name in result.missing_required:
        console.print(f"[bold red]missing[/] {name}: no file or return delivers it", markup=True, highlight=False)
    verdict = (
        "[green]the delivery would load[/]"
        if result.would_load
        else "[bold red]the delivery would not load as it is[/]"
    )
    console.print(verdict + " (nothing was loaded or written)", markup=True, highlight=False)


@app.command()
def generate(
    profile: Annotated[str, typer.Option("--profile", help="small | la | large")] = "small",
    seed: Annotated[int, typer.Option("--seed")] = 1,
    out: Annotated[Path, typer.Option("--out", help="Folder for the synthetic delivery.")] = Path("extracts/synthetic"),
    bad: Annotated[
        bool, typer.Option("--bad", help="Also plant malformed rows, a Windows-1252 file and UK dates.")
    ] = False,
    returns: Annotated[
        bool,
        typer.Option("--returns", help="Also write the authority as a CIN census and SEN2 return (<out>/as_returns/)."),
    ] = False,
    as_at: Annotated[
        str, typer.Option("--as-at", help="As-at date the planted exceptions are relative to.")
    ] = "2026-11-24",
    config: ConfigOption = None,
    region: Annotated[
        int | None,
        typer.Option(
            "--region",
            help="Write N neighbouring authorities under <out>/<LA code>/ with cross-border children, regional truth and <out>/region.toml.",
        ),
    ] = None,
) -> None:
    """Write a synthetic local authority's extracts with planted exceptions and ground truth."""
    from caseflags.sample_data.generator import generate as generate_authority

    if profile not in {"small", "la", "large"}:
        _fail(f"--profile must be small, la or large, got {profile!r}")
    if region is not None:
        from caseflags.sample_data.region import generate_region

        if bad or returns:
            _fail("--region cannot be combined with --bad or --returns")
        try:
            summary = generate_region(region, profile, seed, out, as_at=_parse_date(as_at))
        except ValueError as exc:
            _fail(str(exc))
        console.print(
            f"wrote a region of {region} {profile} authorities {summary['authorities']} (seed {seed}) to {out}; "
            f"manifest {out / 'region.toml'}",
            highlight=False,
        )
        return
    generate_authority(profile, seed, out, variant="bad" if bad else "clean", as_at=_parse_date(as_at))
    console.print(f"wrote {profile} authority (seed {seed}) to {out}", highlight=False)
    if returns:
        from caseflags.sample_data.returns_writer import write_returns

        written = write_returns(out, out / "as_returns", collection_year=_parse_date(as_at).year)
        console.print(
            f"wrote the CIN census ({written['cin_children']} children) and SEN2 ({written['sen2_persons']} persons) returns to {out / 'as_returns'}",
            highlight=False,
        )


@region_app.command("run")
def region_run(
    manifest: Annotated[
        Path, typer.Option("--manifest", help="The region manifest (TOML): authorities, stores, outputs, sharing.")
    ],
    as_at: Annotated[str | None, typer.Option("--as-at", help="As-at date YYYY-MM-DD (default: today).")] = None,
    new_store: Annotated[
        bool,
        typer.Option("--new-store", help="Create the regional store and any authority store that does not exist yet."),
    ] = False,
) -> None:
    """Run every authority's night on Dask, link children across borders and write the regional outputs.

    Exit 0 when every authority and the regional stage completed; 1 when an authority failed (the
    others and the regional outputs are still complete); 2 when it could not start."""
    from caseflags.region.manifest import ManifestError, load_manifest

    with foreseen_failures():
        try:
            loaded = load_manifest(manifest)
        except ManifestError as exc:
            fail_each(str(exc).splitlines())
        for config_path in [loaded.config, *(a.config for a in loaded.authorities)]:
            if config_path is not None:
                _load_config(config_path)
        check_store_path(loaded.store, create=new_store)
        _refuse_if_locked(loaded.store)
        run_date = _parse_date(as_at) if as_at else date.today()
        _configure_logging()
        from caseflags.flows.region import run_region  # Prefect and Dask: slow to import

        _mute_console_logs()
        record = run_region(loaded.path, run_date, new_store=new_store, quiet_console=not debug_mode["on"])
    table = Table(title=f"caseflags region {record['run_id']}")
    for column in ("LA", "run", "reason"):
        table.add_column(column)
    for la_code, outcome in record["authorities"].items():
        table.add_row(la_code, outcome["status"], outcome["reason"] or "")
    console.print(table)
    for check_id, result in record["checks"].items():
        console.print(f"{check_id}: {result['status']} {result['exceptions']}", highlight=False)
    console.print(f"regional outputs in {record['run_dir']}", highlight=False)
    if any(o["status"] != "COMPLETED" for o in record["authorities"].values()):
        raise typer.Exit(code=1)


@app.command("checks")
def list_checks(config: ConfigOption = None) -> None:
    """The check catalogue with the thresholds in force and their sources."""
    settings = _load_config(config)
    table = Table(title="caseflags check catalogue", show_lines=True)
    for column in ("check_id", "concern", "owner", "severity", "thresholds in force (source)"):
        table.add_column(column, overflow="fold")
    for check in load_registry().values():
        values = check.threshold_values(settings.thresholds_for(check.id))
        thresholds = (
            "\n".join(f"{name} = {values[name]} {t.unit} ({t.source})" for name, t in check.thresholds.items()) or "—"
        )
        table.add_row(check.id, check.concern, check.owner, check.severity_rule, thresholds)
    console.print(table)


@review_app.command("import")
def review_import(
    file: Annotated[Path, typer.Argument(help="An exceptions.xlsx with the officer's review columns filled in.")],
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Read officers' review_status / review_note edits back into the store (all or nothing)."""
    settings = _load_config(config)
    if not file.is_file():
        _fail(f"review file not found: {file}")
    with _open_store(db) as con:
        try:
            summary = import_review(
                con, file, now=utc_now(), expiry_days=settings.outputs["annotation_expiry_days"], limits=settings.limits
            )
        except ReviewImportError as exc:
            for problem in exc.problems:  # every problem, one line each; nothing was applied
                typer.echo(f"caseflags: {' '.join(problem.split())}", err=True)
            _fail(f"{file.name}: {len(exc.problems)} problem(s); nothing was imported")
        publish_snapshot(con)  # the web workspace shows the imported reviews at once
    console.print(f"imported {summary}", highlight=False)


@app.command()
def serve(
    extracts: Annotated[
        Path | None,
        typer.Option("--extracts", help="The folder each night's delivery arrives in (required unless --source)."),
    ] = None,
    source: SourceOption = None,
    db: DbOption = Path("caseflags.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="Reports folder.")] = Path("reports"),
    config: ConfigOption = None,
    new_store: Annotated[
        bool, typer.Option("--new-store", help="Let the first scheduled run create the store at --db.")
    ] = False,
) -> None:
    """Serve the `nightly` deployment on a Prefect server, on the cron of the configuration's schedule section (default 02:00 Europe/London).

    Each night runs in a process forked from a warm worker that loaded the libraries once at start."""
    settings = _load_config(config)  # the cron expression and timezone are checked here
    with foreseen_failures():
        _check_source(source, extracts)
        check_store_path(db, create=new_store)
        check_writable_folder(out, "reports folder --out")
        if not os.environ.get("PREFECT_API_URL"):
            _fail("PREFECT_API_URL is not set: start `prefect server start` and export its API URL (see README)")
        from caseflags.flows.warm import WarmWorkerUnavailable, start_warm_worker

        try:  # every night then starts with its libraries loaded (flows/warm.py)
            warm_seconds = start_warm_worker()
        except WarmWorkerUnavailable as exc:
            _fail(str(exc))
        from caseflags.flows.nightly import serve_nightly  # Prefect: slow to import

        console.print(
            f"caseflags serve: warm worker ready (libraries loaded in {warm_seconds:.1f} s); serving the "
            f"nightly deployment on {settings.schedule['cron']} {settings.schedule['timezone']}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        console.file.flush()
        serve_nightly(
            extracts=str(extracts.resolve()) if extracts is not None else None,
            source=source,
            db=str(db.resolve()),
            out=str(out.resolve()),
            config_path=str(config.resolve()) if config else None,
            cron=settings.schedule["cron"],
            timezone=settings.schedule["timezone"],
            new_store=new_store,
        )


@sample_app.callback(invoke_without_command=True)
def sample(
    ctx: typer.Context,
    size: Annotated[
        int | None,
        typer.Option(
            "--size", min=1, help="How many children (default: size in the sample section of the configuration)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for a reproducible draw.")] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Reports folder; the sample goes to <out>/samples/<sample_id>/.")
    ] = Path("reports"),
    as_at: Annotated[
        str | None, typer.Option("--as-at", help="Sample from the latest run on or before this date (default: today).")
    ] = None,
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Choose the next audit sample from the latest run's exceptions and write audit_sample.xlsx and packs."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _load_config(config)
    run_date = _parse_date(as_at) if as_at else date.today()
    check_writable_folder(out, "reports folder --out")
    with _open_store(db) as con:
        carry_web_audit(con)  # samples and audit dates recorded in the web workspace count here too
        result = choose_sample(
            con,
            run_date,
            size=size or settings.sample["size"],
            seed=seed,
            controls=settings.sample["controls"],
            exclude_audited_within_days=settings.sample["exclude_audited_within_days"],
            cohort=settings.sample["cohort"],
        )
        path = write_sample(con, result, out)
        publish_snapshot(con)  # the workspace's Audit sample page shows it at once
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    console.print(
        f"sample {result.sample_id} (seed {result.seed}): {children_text(len(result.children))} -> {path}",
        highlight=False,
    )


@sample_app.command("mark-audited")
def sample_mark_audited(
    sample_id: Annotated[str, typer.Argument(help="The sample id printed by `caseflags sample`.")],
    on: Annotated[str | None, typer.Option("--on", help="Audit date (default: today).")] = None,
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Record that a sample's children were audited (later samples exclude them)."""
    _load_config(config)
    with _open_store(db) as con:
        carry_web_audit(con)  # a sample drawn in the web workspace can be marked here too
        marked = mark_audited(con, sample_id, _parse_date(on) if on else date.today())
        _republish(con)
    console.print(f"marked {children_text(marked)} of sample {sample_id} as audited", highlight=False)


@sample_app.command("import-outcomes")
def sample_import_outcomes(
    file: Annotated[Path, typer.Argument(help="The audit_sample.xlsx with auditors' outcomes filled in.")],
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Read auditors' outcomes per concern (CONFIRMED / NOT_A_CONCERN) back into the store."""
    settings = _load_config(config)
    if not file.is_file():
        _fail(f"outcome file not found: {file}")
    with _open_store(db) as con:
        carry_web_audit(con)  # web outcomes first: the file's rows then replace those it contains
        summary = import_audit_outcomes(con, file, recorded_at=utc_now(), limits=settings.limits)
        _republish(con)
    console.print(str(summary), highlight=False)


@links_app.command("list")
def links_list(db: DbOption = Path("caseflags.duckdb"), config: ConfigOption = None) -> None:
    """Possible matches awaiting a decision (between the review and match thresholds)."""
    from caseflags.linkage.people import possible_matches

    _load_config(config)
    with _open_store(db) as con:
        rows = possible_matches(con)
    table = Table(title=f"{len(rows)} possible matches")
    for column in ("agency", "agency record", "LA child", "kind", "probability", "evidence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        kind = (
            "possible sibling (probably a different child)" if row["kind"] == "POSSIBLE_SIBLING" else "possible match"
        )
        table.add_row(
            row["agency"],
            row["agency_record_id"],
            row["person_id"],
            kind,
            f"{row['match_probability']:.3f}",
            row["evidence"] or "",
        )
    console.print(table)


@links_app.command("why")
def links_why(
    agency: Annotated[str, typer.Argument(help="Agency code of the record, e.g. GP.")],
    record: Annotated[str, typer.Argument(help="The agency's record id.")],
    person: Annotated[str, typer.Argument(help="The LA child id (pers_person_id).")],
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Why a record is linked to (or offered for) a child: each field's match weight, and the
    records the child already has."""
    from caseflags.linkage.people import why_linked

    _load_config(config)
    with _open_store(db) as con:
        why = why_linked(con, agency, record, person)
    if why["link"]:
        console.print(
            f"linked by {why['link']['method']}, probability {why['link']['match_probability']:.3f}", highlight=False
        )
    elif why["candidate"]:
        kind = why["candidate"]["kind"]
        console.print(
            f"{'possible sibling (probably a different child)' if kind == 'POSSIBLE_SIBLING' else 'possible match'}, "
            f"probability {why['candidate']['match_probability']:.3f}",
            highlight=False,
        )
    else:
        _fail("that record is neither linked to nor offered for that child")
    if why["weights"]:
        table = Table(title="match weight by field (they add up to the total)")
        for column in ("field", "found", "match weight"):
            table.add_column(column)
        for w in why["weights"]:
            table.add_row(w["comparison"], w["level"] or "", f"{w['match_weight']:+.1f}")
        table.add_row("total", "", f"{sum(w['match_weight'] for w in why['weights']):+.1f}")
        console.print(table)
    records = ", ".join(f"{o['agency']} {o['agency_record_id']} ({o['method']})" for o in why["child_records"])
    console.print(f"the child's other records: {records or 'none'}", highlight=False)


def _decide(
    decision: str, agency: str, record: str, person: str, note: str | None, db: Path, config: Path | None
) -> None:
    import getpass

    from caseflags.linkage.people import record_link_decision

    _load_config(config)
    with _open_store(db) as con:
        try:
            record_link_decision(con, agency, record, person, decision, note=note, decided_by=getpass.getuser())
        except ValueError as exc:
            _fail(str(exc))
    console.print(f"{decision.lower()}: {agency} {record} ~ {person}; links change on the next run", highlight=False)


AgencyArg = Annotated[str, typer.Argument(help="Agency code of the record, e.g. GP.")]
RecordArg = Annotated[str, typer.Argument(help="The agency's record id.")]
PersonArg = Annotated[str, typer.Argument(help="The LA child id (pers_person_id).")]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why (kept with the decision).")]


@links_app.command("confirm")
def links_confirm(
    agency: AgencyArg,
    record: RecordArg,
    person: PersonArg,
    note: NoteOption = None,
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Confirm that an agency record is this child (wins over the model on later runs)."""
    _decide("CONFIRMED", agency, record, person, note, db, config)


@links_app.command("reject")
def links_reject(
    agency: AgencyArg,
    record: RecordArg,
    person: PersonArg,
    note: NoteOption = None,
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Reject a proposed match: the pair is never linked or proposed again."""
    _decide("REJECTED", agency, record, person, note, db, config)


# -- the officers' workspace (issue 18) -----------------------------------------------------

users_app = typer.Typer(no_args_is_help=True, help="Accounts of the officers' workspace (`caseflags web`).")
app.add_typer(users_app, name="users")


@app.command()
def web(
    db: DbOption = Path("caseflags.duckdb"),
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default: web.port, 8080).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the officers' workspace: Today, Exceptions, Child, reviews, possible matches."""
    import uvicorn  # (slow to import: only this command needs it)

    from caseflags.web.app import Settings, create_app

    settings = _load_config(config)
    with foreseen_failures():
        if not db.is_file():
            _fail(f"store not found: {db}")
        web_settings = settings.web
        app_ = create_app(
            Settings(
                db_path=db.resolve(),
                review_due_days=web_settings["review_due_days"],
                page_size=web_settings["page_size"],
                session_hours=web_settings["session_hours"],
                secure_cookies=web_settings["secure_cookies"],
                annotation_expiry_days=settings.outputs["annotation_expiry_days"],
                sample=dict(settings.sample),
                trusted_proxies=tuple(web_settings.get("trusted_proxies", ())),
                confirm_note_below=float(settings.linkage["confirm_note_below"]),
            )
        )
    if app_.state.ctx.startup_problem:
        err.print(f"warning: {app_.state.ctx.startup_problem}", markup=False, highlight=False)
    bind_host, bind_port = host or web_settings["host"], port or web_settings["port"]
    shown_host = f"[{bind_host}]" if ":" in bind_host else bind_host
    console.print(
        f"caseflags web: serving {db} at http://{shown_host}:{bind_port}/ (Ctrl+C stops it)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    console.file.flush()  # seen at once even when standard output is a pipe (a service manager's log)
    # proxy_headers off: uvicorn would believe X-Forwarded-For from loopback; the workspace reads it
    # itself, only from web.trusted_proxies (caseflags.web.pages.client_address).
    uvicorn.run(
        app_, host=bind_host, port=bind_port, log_level="warning", proxy_headers=False, access_log=False
    )  # the workspace keeps its own access log, without ids or search text


def _password_from_input(prompt: str) -> str:
    """From the terminal (asked twice, hidden), else one line of standard input (for scripts)."""
    import sys

    if sys.stdin.isatty():
        first = typer.prompt(prompt, hide_input=True)
        if typer.prompt("Repeat it", hide_input=True) != first:
            _fail("the two passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        _fail("no password on standard input")
    return line


@contextmanager
def _workspace(db: Path):
    with foreseen_failures():
        con = connect_workspace(workspace_path(db))
        try:
            yield con
        except AccountError as exc:
            _fail(str(exc))
        finally:
            con.close()


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option("--role", help="officer (sees everything) or agency (its own rows only).")],
    agency: Annotated[str | None, typer.Option("--agency", help="Agency code, e.g. GP or EDUCATION.")] = None,
    org: Annotated[
        str | None, typer.Option("--org", help="Only this organisation: a GP practice code or a school URN.")
    ] = None,
    professional: Annotated[
        str | None,
        typer.Option(
            "--professional",
            help="The worker this login is (a professional id such as PRF00142): the 'mine' and 'my team' filters.",
        ),
    ] = None,
    db: DbOption = Path("caseflags.duckdb"),
) -> None:
    """Add a user; the password is asked (or read from standard input when it is not a terminal)."""
    from caseflags.web.snapshot import find_professional
    from caseflags.web.user_scope import check_scope

    with _workspace(db):  # (refusals as one line, exit 2)
        if role in ("officer", "agency"):
            agency, org = check_scope(db, role, agency, org)

    worker_name = None
    if professional:
        professional = professional.strip().upper()
        found = find_professional(db, professional)
        if found is None:
            err.print(
                f"warning: {professional} not checked: the store {db} cannot be read now", markup=False, highlight=False
            )
        elif not found[0]:
            _fail(f"no professional {professional} in the store {db}")
        else:
            worker_name = found[1]
    password = _password_from_input("Password")
    with _workspace(db) as con:
        user = add_user(con, name, password, role, agency, org, professional)
    linked = f", worker {user.professional}" + (f" ({worker_name})" if worker_name else "") if user.professional else ""
    console.print(f"added {user.username} ({user.scope_text}{linked})", highlight=False)


@users_app.command("edit")
def users_edit(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str | None, typer.Option("--role", help="officer or agency (default: unchanged).")] = None,
    agency: Annotated[
        str | None, typer.Option("--agency", help="New agency code (clears the organisation unless --org is given).")
    ] = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help='New organisation (GP practice code or school URN); "" for the whole agency.'),
    ] = None,
    db: DbOption = Path("caseflags.duckdb"),
) -> None:
    """Re-scope a user: role, agency or organisation, checked against the store; takes effect at once."""
    from caseflags.web.user_scope import edit_user

    with _workspace(db) as con:
        user = edit_user(con, db, name, role, agency, org)
    console.print(f"{user.username} now {user.scope_text}", highlight=False)


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument()], db: DbOption = Path("caseflags.duckdb")) -> None:
    """Re-enable a disabled user (their scope is checked against the store first)."""
    from caseflags.web.user_scope import enable_user

    with _workspace(db) as con:
        user = enable_user(con, db, name)
    console.print(f"enabled {user.username} ({user.scope_text})", highlight=False)


@users_app.command("list")
def users_list(db: DbOption = Path("caseflags.duckdb")) -> None:
    """Every user with role, scope and whether disabled."""
    with _workspace(db) as con:
        users = list_users(con)
    table = Table(title=f"{len(users)} users")
    for column in ("user", "role", "agency", "organisation", "worker", "state"):
        table.add_column(column)
    for user in users:
        table.add_row(
            user.username,
            user.role,
            user.agency or "",
            user.org or "",
            user.professional or "",
            "disabled" if user.disabled else "active",
        )
    console.print(table)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()], db: DbOption = Path("caseflags.duckdb")) -> None:
    """Disable a user: their sessions stop working at once."""
    with _workspace(db) as con:
        disable_user(con, name)
    console.print(f"disabled {name}", highlight=False)


@users_app.command("password")
def users_password(name: Annotated[str, typer.Argument()], db: DbOption = Path("caseflags.duckdb")) -> None:
    """Set a new password (asked, or read from standard input); existing sessions end."""
    password = _password_from_input("New password")
    with _workspace(db) as con:
        set_password(con, name, password)
    console.print(f"password of {name} changed", highlight=False)


@links_app.command("model")
def links_model(db: DbOption = Path("caseflags.duckdb"), config: ConfigOption = None) -> None:
    """The linkage model in use: training method and date, parameters, expected quality."""
    from caseflags.linkage.parameters import describe_model

    _load_config(config)
    with _open_store(db) as con:
        ensure_store(con)
        model = describe_model(con)
    if model is None:
        console.print("no linkage model yet: it is trained on the first run with records to score", highlight=False)
        return
    console.print(
        f"trained {model['trained_at'] or 'at an unknown date'} by {model['training_method']} "
        f"({model['labelled_pairs']} labelled pairs, label weight {model['label_weight']}); "
        f"prior {model['probability_two_random_records_match']:.3g}; "
        f"EM sessions: {'; '.join(model['em_sessions']) or 'none'}",
        highlight=False,
    )
    table = Table(title="comparison levels")
    for column in ("comparison", "level", "m", "u", "weight"):
        table.add_column(column, overflow="fold")
    for level in model["levels"]:
        weight = level["match_weight"]
        table.add_row(
            level["comparison"],
            level["label"] or str(level["gamma"]),
            f"{level['m_probability']:.4f}",
            f"{level['u_probability']:.6f}",
            "" if weight is None else f"{weight:+.2f}",
        )
    console.print(table)
    quality = Table(title="expected quality at the thresholds")
    for column in ("threshold", "precision", "recall", "labelled pairs", "basis"):
        quality.add_column(column, overflow="fold")
    for row in model["expected_quality"]:
        quality.add_row(
            f"{row['threshold_name']} {row['threshold']}",
            "-" if row["expected_precision"] is None else f"{row['expected_precision']:.4f}",
            "-" if row["expected_recall"] is None else f"{row['expected_recall']:.4f}",
            str(row["labelled_pairs"]),
            row["basis"],
        )
    console.print(quality)


def _republish(con: duckdb.DuckDBPyConnection) -> None:
    """Publish the web snapshot so the workspace's Audit sample page shows the change at once; a
    store without a nightly run yet has no snapshot to publish (said, not fatal: the change is kept)."""
    try:
        publish_snapshot(con)
    except SnapshotUnavailable as exc:
        err.print(f"warning: web snapshot not published: {exc}", markup=False, highlight=False)


@contextmanager
def _open_store(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An existing store, under the run lock, for commands that change it outside a run; every
    foreseen failure inside the block is one line and exit 2."""
    with foreseen_failures():
        check_store_path(db, create=False)
        with store_lock(db):
            con = connect(db, create=False)
            try:
                yield con
            finally:
                con.close()


def main() -> None:
    """The console entry point: owner-only files and a quiet environment for the whole process."""
    prepare_process()
    with foreseen_failures():
        app(standalone_mode=True)


if __name__ == "__main__":
    main()
