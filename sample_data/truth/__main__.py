"""docs/GENERATOR.md's table of planted scenarios, generated from `sample_data/truth/*.py`.

python -m caseflags.sample_data.truth            # rewrite the generated region
python -m caseflags.sample_data.truth --check    # exit 1 when it is stale (tests run this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from caseflags.checking.docs import DOCS_DIR, DocsError, replace_region

from . import SCENARIOS, Scenario

COMMAND = "python -m caseflags.sample_data.truth"
REGION = "scenarios"
COHORT_NAMES = {"ehcp_only": "EHCP-only", "closed": "closed-case"}


def rate(scenario: Scenario) -> str:
    if scenario.rate == 0:
        return "1 child"  # the floor of one
    share = f"{scenario.rate * 100:.1f}%"
    return share if scenario.cohort == "cin" else f"{share} of {COHORT_NAMES.get(scenario.cohort, scenario.cohort)}"


def scenarios_table(scenarios: list[Scenario] = SCENARIOS) -> str:
    rows = ["| check_id | scenario | kind | rate | what is planted |", "|---|---|---|---|---|"]
    rows += [
        f"| `{s.check_id}` | `{s.name}` | {'near-miss' if s.near_miss else 'exception'} | {rate(s)} | {s.description} |"
        for s in scenarios
    ]
    return "\n".join(rows)


def rendered(docs_dir: Path = DOCS_DIR, scenarios: list[Scenario] = SCENARIOS) -> tuple[Path, str]:
    path = docs_dir / "GENERATOR.md"
    return path, replace_region(
        path.read_text(encoding="utf-8"), REGION, scenarios_table(scenarios), "docs/GENERATOR.md"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report a stale file (exit 1)")
    parser.add_argument("--docs", type=Path, default=DOCS_DIR, help="the docs/ folder (default: the repository's)")
    args = parser.parse_args(argv)
    try:
        path, text = rendered(args.docs)
        if path.read_text(encoding="utf-8") == text:
            return 0
        if args.check:
            print(f"{path}: stale; regenerate with `{COMMAND}`")
            return 1
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    except (OSError, DocsError) as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
