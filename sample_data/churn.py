"""The next night's delivery, derived from a generated one: what a typical nightly extract looks like.

    python -m caseflags.sample_data.churn FIRST_NIGHT OUT --as-at 2026-11-25 [--seed 1]

Starting from a delivery (as at D), writes the delivery as at D + 1 day with realistic churn, the
same for a given seed and input:

- about `changed` (1 %) of the rows of every table have one ordinary value changed (a date or a
  code moved to a value another row of that column holds, so the value stays valid);
- about `added` (1 %) new rows per event table (contacts, visits, meetings, sessions, agency
  records, …): copies of existing rows under new identifiers; attendance gets the new school
  day's two sessions for every pupil who had sessions on the last day delivered;
- `new_children` (3) children new to social care, each with a referral.

Key columns (`KEYS`, the business keys of the contract tables), identifiers, NHS numbers and UPNs
are never changed, so the changed rows stay the same records. Every value is read and written as
text, so untouched rows are byte-for-byte what the first night delivered (modulo CSV quoting).
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from caseflags.contracts.keys import UNIQUE_KEYS
from caseflags.contracts.schema import load_contract

# The business key of each contract table (history tables without one are absent): the
# contract's own keys, the ones ingest enforces.
KEYS = UNIQUE_KEYS
# Tables a night adds rows to (events and records that accrue); the new-id column of each.
GROWING: dict[str, str] = {
    "ssd_cin_visits": "cinv_cin_visit_id",
    "ssd_involvements": "invo_involvements_id",
    "meetings": "meeting_id",
    "plan_actions": "action_id",
    "voice_records": "voice_id",
    "information_sharing": "share_id",
    "family_contacts": "contact_id",
    "agency_records": "agency_record_id",
}
CHANGEABLE_KINDS = ("date", "code", "flag")


def next_night(
    first: Path,
    out: Path,
    as_at: date,
    seed: int = 1,
    changed: float = 0.01,
    added: float = 0.01,
    new_children: int = 3,
) -> dict:
    """Write the delivery of the night after `first` into `out`; returns counts per file."""
    rng = random.Random(f"{seed}/next-night/{as_at.isoformat()}")
    contract = load_contract()
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    frames: dict[str, pl.DataFrame] = {}
    for path in sorted(first.glob("*.csv")):
        table = path.stem
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
        if table not in contract or frame.height == 0:
            frames[table] = frame
            counts[path.name] = {"rows": frame.height, "changed": 0, "added": 0}
            continue
        frame, n_changed = _change_values(frame, table, contract[table], rng, changed)
        before = frame.height
        if table == "attendance_sessions":
            frame = _next_school_day(frame)
        elif table in GROWING:
            frame = _add_rows(frame, GROWING[table], rng, added, as_at)
        frames[table] = frame
        counts[path.name] = {"rows": frame.height, "changed": n_changed, "added": frame.height - before}
    if new_children and "ssd_person" in frames:
        _add_children(frames, rng, new_children, as_at, counts)
    for table, frame in frames.items():
        frame.write_csv(out / f"{table}.csv")
    manifest_path = first / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.update(
        {
            "as_at": as_at.isoformat(),
            "derived_from": str(first),
            "churn_seed": seed,
            "churn": counts,
            "row_counts": {name: c["rows"] for name, c in counts.items()},
        }
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return counts


def _change_values(frame: pl.DataFrame, table: str, spec, rng: random.Random, fraction: float):
    """About `fraction` of the rows get one value (date, code or flag, outside the key) replaced
    by the value of another row of the same column."""
    key = set(KEYS.get(table, ()))
    columns = [
        c.name for c in spec.columns if c.kind in CHANGEABLE_KINDS and c.name not in key and c.name in frame.columns
    ]
    if not columns or frame.height < 2:
        return frame, 0
    n = max(1, round(frame.height * fraction))
    rows = rng.sample(range(frame.height), min(n, frame.height))
    by_column: dict[str, tuple[list[int], list[int]]] = {}
    for row in rows:
        column = rng.choice(columns)
        donors = by_column.setdefault(column, ([], []))
        donors[0].append(row)
        donors[1].append(rng.randrange(frame.height))
    updates = []
    for column, (targets, donors) in by_column.items():
        values = frame.get_column(column)
        new = values.scatter(targets, values.gather(donors))
        updates.append(new.alias(column))
    return frame.with_columns(updates), len(rows)


def _add_rows(frame: pl.DataFrame, id_column: str, rng: random.Random, fraction: float, as_at: date) -> pl.DataFrame:
    """New records: copies of existing rows under new identifiers (`<id>N<yyyymmdd><k>`)."""
    n = max(1, round(frame.height * fraction))
    picks = [rng.randrange(frame.height) for _ in range(n)]
    stamp = as_at.strftime("%Y%m%d")
    copies = frame[picks].with_columns(
        (pl.col(id_column) + pl.lit(f"N{stamp}") + pl.Series([str(k) for k in range(n)])).alias(id_column)
    )
    return pl.concat([frame, copies])


def _next_school_day(frame: pl.DataFrame) -> pl.DataFrame:
    """The next weekday's AM and PM sessions for every pupil who had a session on the last day."""
    last = max(frame.get_column("session_date").to_list())
    day = date.fromisoformat(last) + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    pupils = frame.filter(pl.col("session_date") == last).unique(subset=["upn"], keep="first", maintain_order=True)
    new = pl.concat(
        [
            pupils.with_columns(pl.lit(day.isoformat()).alias("session_date"), pl.lit(half).alias("session"))
            for half in ("AM", "PM")
        ]
    ).sort(["upn", "session"], maintain_order=True)
    return pl.concat([frame, new])


def _add_children(frames: dict[str, pl.DataFrame], rng: random.Random, n: int, as_at: date, counts: dict) -> None:
    """Children new to social care: a person row (no UPN yet) and a referral dated the day before."""
    people = frames["ssd_person"]
    stamp = as_at.strftime("%Y%m%d")
    picks = rng.sample(range(people.height), min(n, people.height))
    new_ids = [f"N{stamp}{k:03d}" for k in range(len(picks))]
    children = people[picks].with_columns(
        pl.Series("pers_person_id", new_ids),
        pl.lit(None, dtype=pl.Utf8).alias("pers_upn"),
        pl.lit(None, dtype=pl.Utf8).alias("pers_single_unique_id"),
    )
    frames["ssd_person"] = pl.concat([people, children])
    counts["ssd_person.csv"]["added"] += len(picks)
    counts["ssd_person.csv"]["rows"] += len(picks)
    episodes = frames.get("ssd_cin_episodes")
    if episodes is not None and episodes.height:
        template = episodes[[rng.randrange(episodes.height) for _ in new_ids]]
        referral = (as_at - timedelta(days=1)).isoformat()
        new = template.with_columns(
            pl.Series("cine_referral_id", [f"R{i}" for i in new_ids]),
            pl.Series("cine_person_id", new_ids),
            pl.lit(referral).alias("cine_referral_date"),
            pl.lit(None, dtype=pl.Utf8).alias("cine_close_date"),
            pl.lit(None, dtype=pl.Utf8).alias("cine_close_reason"),
        )
        frames["ssd_cin_episodes"] = pl.concat([episodes, new])
        counts["ssd_cin_episodes.csv"]["added"] += len(new_ids)
        counts["ssd_cin_episodes.csv"]["rows"] += len(new_ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--as-at", type=date.fromisoformat, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    counts = next_night(args.first, args.out, args.as_at, args.seed)
    changed = sum(c["changed"] for c in counts.values())
    added = sum(c["added"] for c in counts.values())
    print(f"{args.out}: {changed} rows changed, {added} rows added")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
