"""Page latency of the officers' workspace (`caseflags web`) on a generated authority.

    .venv/bin/python bench/bench_web.py [--profile la] [--seed 1] [--requests 20] [--out bench/out]

Generates the profile once (shared with bench/run.py: `bench/data/<profile>-seed<N>/`), runs the
nightly on it into `<out>/web-<profile>/store.duckdb` (once; the time of the snapshot publish and
of the organisation files is measured separately), then starts `caseflags web` as its own process
and times real HTTP requests to it from this process, logged in as an officer and as a GP
practice user: each page is fetched once to warm up, then `--requests` times. Results:
`<out>/web-<profile>/results.json` and a Markdown table on standard output (quoted in
bench/RESULTS.md). Nothing is asserted: the target (under 300 ms per page) is read off the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from run import DATA_DIR, DEFAULT_AS_AT, ensure_data  # noqa: E402  (bench/run.py, beside this file)

from caseflags.outputs.organisations import record_agency_rows  # noqa: E402
from caseflags.outputs.snapshot import publish_snapshot  # noqa: E402
from caseflags.runbook import run_without_prefect  # noqa: E402
from caseflags.settings import load_config  # noqa: E402
from caseflags.store.database import connect  # noqa: E402
from caseflags.web.accounts import add_user, get_user  # noqa: E402
from caseflags.workspace.database import connect_workspace, workspace_path  # noqa: E402

OFFICER = ("bench.officer", "bench-officer-pass")
GP_USER = ("bench.gp", "bench-gp-password")


def nightly(delivery: Path, folder: Path, as_at: date) -> tuple[Path, dict]:
    db = folder / "store.duckdb"
    timings = {}
    if not db.exists():
        con = connect(db)
        try:
            started = time.perf_counter()
            record = run_without_prefect(con, delivery, as_at, folder / "reports", load_config(), db_path=db)
            timings["nightly_s"] = round(time.perf_counter() - started, 2)
            timings["outputs_stage_s"] = record["stage_seconds"]["outputs"]
        finally:
            con.close()
    con = duckdb.connect(str(db))
    try:
        started = time.perf_counter()
        record_agency_rows(con, as_at.isoformat(), as_at)
        timings["agency_rows_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        publish_snapshot(con)
        timings["snapshot_publish_s"] = round(time.perf_counter() - started, 2)
    finally:
        con.close()
    timings["store_mib"] = round(db.stat().st_size / 2**20, 1)
    timings["snapshot_mib"] = round(db.with_suffix(".snapshot.duckdb").stat().st_size / 2**20, 1)
    return db, timings


def sample_ids(db: Path) -> dict:
    con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    try:
        practice, gp_child = con.execute(
            """SELECT organisation, min(person_id) FROM web_exceptions WHERE agency = 'GP' AND organisation IS NOT NULL
               AND person_id IS NOT NULL GROUP BY organisation ORDER BY count(*) DESC LIMIT 1"""
        ).fetchall()[0]
        busiest_child = con.execute(
            "SELECT person_id FROM web_exceptions WHERE person_id IS NOT NULL GROUP BY person_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()[0][0]
        exception_id, check_id = con.execute(
            "SELECT exception_id, check_id FROM web_exceptions ORDER BY exception_id LIMIT 1"
        ).fetchall()[0]
        listed = con.execute("SELECT count(*) FROM web_exceptions").fetchall()[0][0]
    finally:
        con.close()
    return {
        "practice": practice,
        "gp_child": gp_child,
        "child": busiest_child,
        "exception_id": exception_id,
        "check_id": check_id,
        "listed": listed,
    }


def users(db: Path, practice: str) -> None:
    ws = connect_workspace(workspace_path(db))
    try:
        if get_user(ws, OFFICER[0]) is None:
            add_user(ws, OFFICER[0], OFFICER[1], "officer", None, None)
        if get_user(ws, GP_USER[0]) is None:
            add_user(ws, GP_USER[0], GP_USER[1], "agency", "GP", practice)
    finally:
        ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def logged_in(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text[:300]
    return client


def draw_sample(officer: httpx.Client) -> str:
    """Draw a 20-child audit sample in the workspace (POST /audit/draw, seed 1, not timed); the URL
    of its first child's pack page."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', officer.get("/audit").text).group(1)
    drawn = officer.post("/audit/draw", data={"size": "20", "seed": "1", "csrf_token": token})
    assert drawn.status_code == 303, drawn.text[:300]
    page = officer.get(drawn.headers["location"]).text
    return re.search(r'href="(/audit/[^"/]+/children/[^"/]+)"', page).group(1)


def measure(client: httpx.Client, url: str, repeats: int) -> dict:
    first = client.get(url)
    assert first.status_code == 200, (url, first.status_code)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return {
        "url": url,
        "bytes": len(first.content),
        "min_ms": round(times[0], 1),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="la", choices=("small", "la", "large"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()

    folder = args.out / f"web-{args.profile}"
    folder.mkdir(parents=True, exist_ok=True)
    delivery = ensure_data(args.profile, args.seed, DEFAULT_AS_AT, args.data_dir)
    db, timings = nightly(delivery, folder, DEFAULT_AS_AT)
    ids = sample_ids(db)
    users(db, ids["practice"])
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "caseflags", "web", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"caseflags web did not start: {server.communicate()[0] if server.poll() is not None else ''}"
                    )
                time.sleep(0.2)
        officer = logged_in(base, *OFFICER)
        gp = logged_in(base, *GP_USER)
        sample_pack = draw_sample(officer)
        pages = [
            ("officer", officer, "/"),
            ("officer", officer, "/exceptions"),
            ("officer", officer, f"/exceptions?check={ids['check_id']}"),
            ("officer", officer, f"/exceptions?agency=GP&org={ids['practice']}"),
            ("officer", officer, "/exceptions?q=school&sort=first_seen&dir=desc&page=2"),
            ("officer", officer, f"/children/{ids['child']}"),
            ("officer", officer, f"/exceptions/{ids['exception_id']}"),
            ("officer", officer, "/matches"),
            ("officer", officer, "/audit"),
            ("officer", officer, sample_pack),
            ("officer", officer, f"/exceptions/export.csv?check={ids['check_id']}"),
            ("officer", officer, "/exceptions/export.csv"),
            ("officer", officer, "/exceptions/export.xlsx"),
            ("gp practice", gp, "/"),
            ("gp practice", gp, "/exceptions"),
            ("gp practice", gp, f"/children/{ids['gp_child']}"),
            ("gp practice", gp, "/exceptions/export.csv"),
        ]
        results = []
        load_before = os.getloadavg()
        for who, client, url in pages:
            result = measure(client, url, args.requests)
            result["user"] = who
            results.append(result)
            print(
                f"{who:12} {url[:60]:60} median {result['median_ms']:7.1f} ms  p95 {result['p95_ms']:7.1f} ms",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    load_after = os.getloadavg()
    record = {
        "load_average_1min_before_after": [round(load_before[0], 1), round(load_after[0], 1)],
        "cpus": os.cpu_count(),
        "profile": args.profile,
        "seed": args.seed,
        "requests": args.requests,
        "listed_exceptions": ids["listed"],
        "timings": timings,
        "pages": results,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    (folder / "results.json").write_text(json.dumps(record, indent=2))
    print()
    print(f"load average (1 min) before / after: {record['load_average_1min_before_after']} on {os.cpu_count()} cores")
    print("| user | page | bytes | min ms | median ms | p95 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        url = re.sub(r"^/audit/[^/]+/children/[^/]+", "/audit/<sample>/children/<child> (pack)", r["url"])
        url = re.sub(r"^/children/[^?]+", "/children/<busiest child>", url)
        url = re.sub(r"/exceptions/[0-9a-f]{16}", "/exceptions/<id>", url)
        print(
            f"| {r['user']} | `{url}` | {r['bytes']:,} | {r['min_ms']} | {r['median_ms']} | {r['p95_ms']} | {r['max_ms']} |"
        )
    print()
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
