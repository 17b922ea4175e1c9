"""The `caseflags` command (interface: ../shared/contract/OUTPUTS.md, restated in README.md).

Exit status 0 when the run completed (exceptions found and rows quarantined included);
2 with a one-line reason when it could not run.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from caseflags.sample_data import SAMPLE_DELIVERY

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Nightly multi-agency checks for children in need with an EHCP.")
review_app = typer.Typer(no_args_is_help=True, help="Officers' review of exceptions.")
app.add_typer(review_app, name="review")
sample_app = typer.Typer(help="The next audit sample, chosen from the findings.")
links_app = typer.Typer(no_args_is_help=True, help="Possible matches between agency records and children, for officers to decide.")
app.add_typer(links_app, name="links")
app.add_typer(sample_app, name="sample")

console = Console()
err = Console(stderr=True)

DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store.")]
ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="A caseflags TOML file overriding the defaults.")]


def _fail(message: str) -> None:
    # Plain text on one line: schedulers and log scrapers read it, so no wrapping or markup.
    typer.echo(f"caseflags: {' '.join(message.split())}", err=True)
    raise typer.Exit(code=2)


def _load_config(path: Path | None):
    from caseflags.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(str(exc))


@app.command()
def run(
    extracts: Annotated[Optional[Path], typer.Option("--extracts", help="Delivery folder (default: the bundled sample); with --from/--to, the archive of dated delivery folders.")] = None,
    as_at: Annotated[Optional[str], typer.Option("--as-at", help="As-at date YYYY-MM-DD (default: today).")] = None,
    db: DbOption = Path("caseflags.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="Reports folder; the run writes <out>/<as-at>/.")] = Path("reports"),
    config: ConfigOption = None,
    date_from: Annotated[Optional[str], typer.Option("--from", help="Backfill: first as-at date (archive folders named YYYY-MM-DD).")] = None,
    date_to: Annotated[Optional[str], typer.Option("--to", help="Backfill: last as-at date.")] = None,
) -> None:
    """Load a delivery, check it and write the night's exception lists (or backfill a date range)."""
    from caseflags.store.locking import StoreLocked
    from caseflags.runbook import RunAborted, archived_deliveries

    _load_config(config)  # a bad config fails here, before Prefect starts
    extracts_dir = extracts or SAMPLE_DELIVERY
    if not extracts_dir.is_dir():
        _fail(f"extracts folder not found: {extracts_dir}")
    if (date_from is None) != (date_to is None):
        _fail("--from and --to go together")
    if date_from is not None:
        if as_at:
            _fail("--as-at and --from/--to cannot be used together")
        runs = archived_deliveries(extracts_dir, _parse_date(date_from), _parse_date(date_to))
        if not runs:
            _fail(f"no delivery folders named YYYY-MM-DD between {date_from} and {date_to} in {extracts_dir}")
    else:
        runs = [(_parse_date(as_at) if as_at else date.today(), extracts_dir)]
    _refuse_if_locked(db)  # fail fast, before Prefect starts; the flow holds the lock itself
    _configure_logging()
    from caseflags.flows.nightly import nightly

    for run_date, folder in runs:
        try:
            run_dir = nightly(
                extracts=str(folder), as_at=run_date, db=str(db), out=str(out),
                config_path=str(config) if config else None,
            )
        except (RunAborted, StoreLocked) as exc:
            _fail(str(exc))
        _print_run_summary(Path(run_dir))


def _configure_logging() -> None:
    """caseflags' own progress at INFO; libraries (GX, httpx, splink) only when they warn."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("caseflags").setLevel(logging.INFO)


def _refuse_if_locked(db: Path) -> None:
    from caseflags.store.locking import StoreLocked, store_lock

    try:
        with store_lock(db):
            pass
    except StoreLocked as exc:
        _fail(str(exc))


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"--as-at must be a date YYYY-MM-DD, got {text!r}")


def _print_run_summary(run_dir: Path) -> None:
    import json

    record = json.loads((run_dir / "run.json").read_text())
    table = Table(title=f"caseflags run {record['run_id']}", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("exceptions", justify="right")
    for check_id, result in record["checks"].items():
        table.add_row(check_id, result["status"], "" if result["exceptions"] is None else str(result["exceptions"]))
    console.print(table)
    refused = record.get("refused_files") or []
    for problem in refused:
        console.print(f"[yellow]refused[/] {problem['file']}: {problem['reason']}", markup=True, highlight=False)
    quarantined = sum(e["rows_quarantined"] for e in record["extracts"].values())
    console.print(f"{quarantined} rows quarantined; reports in {run_dir}", highlight=False)


@app.command()
def generate(
    profile: Annotated[str, typer.Option("--profile", help="small | la | large")] = "small",
    seed: Annotated[int, typer.Option("--seed")] = 1,
    out: Annotated[Path, typer.Option("--out", help="Folder for the synthetic delivery.")] = Path("extracts/synthetic"),
    bad: Annotated[bool, typer.Option("--bad", help="Also plant malformed rows, a Windows-1252 file and UK dates.")] = False,
    returns: Annotated[bool, typer.Option("--returns", help="Also write the authority as a CIN census and SEN2 return (<out>/as_returns/).")] = False,
    as_at: Annotated[str, typer.Option("--as-at", help="As-at date the planted exceptions are relative to.")] = "2026-11-24",
    config: ConfigOption = None,
) -> None:
    """Write a synthetic local authority's extracts with planted exceptions and ground truth."""
    from caseflags.sample_data.generator import generate as generate_authority

    if profile not in {"small", "la", "large"}:
        _fail(f"--profile must be small, la or large, got {profile!r}")
    generate_authority(profile, seed, out, variant="bad" if bad else "clean", as_at=_parse_date(as_at))
    console.print(f"wrote {profile} authority (seed {seed}) to {out}", highlight=False)
    if returns:
        from caseflags.sample_data.returns_writer import write_returns

        written = write_returns(out, out / "as_returns", collection_year=_parse_date(as_at).year)
        console.print(f"wrote the CIN census ({written['cin_children']} children) and SEN2 ({written['sen2_persons']} persons) returns to {out / 'as_returns'}", highlight=False)


@app.command("checks")
def list_checks(config: ConfigOption = None) -> None:
    """The check catalogue with the thresholds in force and their sources."""
    from caseflags.checking.registry import load_registry

    settings = _load_config(config)
    table = Table(title="caseflags check catalogue", show_lines=True)
    for column in ("check_id", "concern", "owner", "severity", "thresholds in force (source)"):
        table.add_column(column, overflow="fold")
    for check in load_registry().values():
        values = check.threshold_values(settings.thresholds_for(check.id))
        thresholds = "\n".join(
            f"{name} = {values[name]} {t.unit} ({t.source})" for name, t in check.thresholds.items()
        ) or "—"
        table.add_row(check.id, check.concern, check.owner, check.severity_rule, thresholds)
    console.print(table)


@review_app.command("import")
def review_import(
    file: Annotated[Path, typer.Argument(help="An exceptions.xlsx with the officer's review columns filled in.")],
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Read officers' review_status / review_note edits back into the store."""
    from datetime import datetime

    from caseflags.outputs.review_import import ReviewImportError, import_review

    settings = _load_config(config)
    if not file.is_file():
        _fail(f"review file not found: {file}")
    with _open_store(db) as con:
        try:
            summary = import_review(con, file, now=datetime.now(), expiry_days=settings.outputs["annotation_expiry_days"])
        except ReviewImportError as exc:
            _fail(str(exc))
    console.print(f"imported {summary}", highlight=False)


@app.command()
def serve(
    extracts: Annotated[Path, typer.Option("--extracts", help="The folder each night's delivery arrives in.")],
    db: DbOption = Path("caseflags.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="Reports folder.")] = Path("reports"),
    config: ConfigOption = None,
) -> None:
    """Serve the `nightly` deployment on a Prefect server, on the cron of the configuration's schedule section (default 02:00 Europe/London)."""
    import os

    settings = _load_config(config)
    if not os.environ.get("PREFECT_API_URL"):
        _fail("PREFECT_API_URL is not set: start `prefect server start` and export its API URL (see README)")
    from caseflags.flows.nightly import serve_nightly

    serve_nightly(
        extracts=str(extracts.resolve()), db=str(db.resolve()), out=str(out.resolve()),
        config_path=str(config.resolve()) if config else None,
        cron=settings.schedule["cron"], timezone=settings.schedule["timezone"],
    )


@sample_app.callback(invoke_without_command=True)
def sample(
    ctx: typer.Context,
    size: Annotated[Optional[int], typer.Option("--size", help="How many children (default: size in the sample section of the configuration).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for a reproducible draw.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Reports folder; the sample goes to <out>/samples/<sample_id>/.")] = Path("reports"),
    as_at: Annotated[Optional[str], typer.Option("--as-at", help="Sample from the latest run on or before this date (default: today).")] = None,
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Choose the next audit sample from the latest run's exceptions and write audit_sample.xlsx and packs."""
    if ctx.invoked_subcommand is not None:
        return
    from caseflags.audit.model import SampleError
    from caseflags.audit.sampling import choose_sample
    from caseflags.audit.workbook import write_sample

    settings = _load_config(config)
    run_date = _parse_date(as_at) if as_at else date.today()
    with _open_store(db) as con:
        try:
            result = choose_sample(
                con, run_date, size=size or settings.sample["size"], seed=seed,
                controls=settings.sample["controls"],
                exclude_audited_within_days=settings.sample["exclude_audited_within_days"],
                cohort=settings.sample["cohort"],
            )
        except SampleError as exc:
            _fail(str(exc))
        path = write_sample(con, result, out)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    console.print(f"sample {result.sample_id} (seed {result.seed}): {len(result.children)} children -> {path}", highlight=False)


@sample_app.command("mark-audited")
def sample_mark_audited(
    sample_id: Annotated[str, typer.Argument(help="The sample id printed by `caseflags sample`.")],
    on: Annotated[Optional[str], typer.Option("--on", help="Audit date (default: today).")] = None,
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Record that a sample's children were audited (later samples exclude them)."""
    from caseflags.audit.model import SampleError
    from caseflags.audit.outcomes import mark_audited

    _load_config(config)
    with _open_store(db) as con:
        try:
            marked = mark_audited(con, sample_id, _parse_date(on) if on else date.today())
        except SampleError as exc:
            _fail(str(exc))
    console.print(f"marked {marked} children of sample {sample_id} as audited", highlight=False)


@sample_app.command("import-outcomes")
def sample_import_outcomes(
    file: Annotated[Path, typer.Argument(help="The audit_sample.xlsx with auditors' outcomes filled in.")],
    db: DbOption = Path("caseflags.duckdb"),
    config: ConfigOption = None,
) -> None:
    """Read auditors' outcomes per concern (CONFIRMED / NOT_A_CONCERN) back into the store."""
    from datetime import datetime

    from caseflags.audit.model import AuditImportError
    from caseflags.audit.outcomes import import_audit_outcomes

    _load_config(config)
    if not file.is_file():
        _fail(f"outcome file not found: {file}")
    with _open_store(db) as con:
        try:
            summary = import_audit_outcomes(con, file, recorded_at=datetime.now())
        except AuditImportError as exc:
            _fail(str(exc))
    console.print(str(summary), highlight=False)


@links_app.command("list")
def links_list(db: DbOption = Path("caseflags.duckdb"), config: ConfigOption = None) -> None:
    """Possible matches awaiting a decision (between the review and match thresholds)."""
    from caseflags.linkage.people import possible_matches

    _load_config(config)
    with _open_store(db) as con:
        rows = possible_matches(con)
    table = Table(title=f"{len(rows)} possible matches")
    for column in ("agency", "agency record", "LA child", "probability", "evidence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["agency"], row["agency_record_id"], row["person_id"], f"{row['match_probability']:.3f}",
                      row["evidence"] or "")
    console.print(table)


def _decide(decision: str, agency: str, record: str, person: str, note: str | None, db: Path, config: Path | None) -> None:
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
NoteOption = Annotated[Optional[str], typer.Option("--note", help="Why (kept with the decision).")]


@links_app.command("confirm")
def links_confirm(agency: AgencyArg, record: RecordArg, person: PersonArg, note: NoteOption = None,
                  db: DbOption = Path("caseflags.duckdb"), config: ConfigOption = None) -> None:
    """Confirm that an agency record is this child (wins over the model on later runs)."""
    _decide("CONFIRMED", agency, record, person, note, db, config)


@links_app.command("reject")
def links_reject(agency: AgencyArg, record: RecordArg, person: PersonArg, note: NoteOption = None,
                 db: DbOption = Path("caseflags.duckdb"), config: ConfigOption = None) -> None:
    """Reject a proposed match: the pair is never linked or proposed again."""
    _decide("REJECTED", agency, record, person, note, db, config)


@contextmanager
def _open_store(db: Path):
    """The store, under the run lock, for commands that change it outside a run."""
    from caseflags.store.locking import StoreLocked, store_lock
    from caseflags.store.database import connect

    if not db.is_file():
        _fail(f"store not found: {db}")
    try:
        with store_lock(db):
            con = connect(db)
            try:
                yield con
            finally:
                con.close()
    except StoreLocked as exc:
        _fail(str(exc))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
