"""The check catalogue's documentation, generated from `checks/*.toml`.

    python -m caseflags.checking.docs            # rewrite the generated regions
    python -m caseflags.checking.docs --check    # exit 1 naming each stale file (tests run this)

Two regions are generated, each between `<!-- BEGIN GENERATED ... -->` and `<!-- END GENERATED
... -->` lines; everything else in those files is written by hand: docs/CHECKS.md's "Checks"
(one section per check) and docs/ARCHITECTURE.md's "Exception keys per check" table.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from caseflags.checking.registry import Check, load_registry

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"  # the repository's docs/ (not installed)
COMMAND = "python -m caseflags.checking.docs"
CHECKS_REGION = "checks"
KEYS_REGION = "exception-keys"


class DocsError(ValueError):
    """A generated region is missing, or a check lacks what its documentation needs."""


def _code_list(value: str) -> str:
    return " / ".join(f"`{part.strip()}`" for part in value.split(" / "))


def _need(check: Check, key: str) -> str:
    if key not in check.doc:
        raise DocsError(f"checks/{check.id}.toml: {key} is missing (its documentation needs it)")
    return check.doc[key]


def entity_type(check: Check) -> str:
    return check.doc.get("key_entity_type") or _code_list(check.entity_type)


def check_section(check: Check, interpreted: bool) -> str:
    lines = [f"### `{check.id}`", ""]
    if check.scope != "authority":
        lines.append(
            f'- **Scope**: `{check.scope}` (catalogue key `scope = "{check.scope}"`): run by `caseflags region run` '
            "on the regional store, never by an authority's own run (docs/SCALE.md)"
        )
    lines.append(f"- **Audit concern**: {check.concern}")
    if "contract_rule" in check.doc:
        lines.append(f"- **CHECKS.md rule**: {check.doc['contract_rule']}")
    if "contract_row" in check.doc:
        lines.append(f"- **One row per / owner (CHECKS.md)**: {check.doc['contract_row']}")
    lines += [
        f"- **As implemented**: {check.rule}",
        f"- **Owner**: {check.owner_rule}",
        f"- **Entity key**: entity_type {entity_type(check)}; entity_id {_need(check, 'key_entity_id')}; "
        f"agency {_need(check, 'key_agency')}",
        f"- **Severity**: {check.severity_rule}",
        f"- **Inputs**: {', '.join(f'`{table}`' for table in check.inputs)}",
    ]
    if check.action and check.action_by:
        lines.append(f"- **Action**: {check.action_by}: {check.action}")
    if check.thresholds:
        lines.append("- **Thresholds**:")
        lines += [
            f"  - `{name}` = {t.default} ({t.unit}): {t.description}. Source: {t.source}"
            for name, t in check.thresholds.items()
        ]
    else:
        lines.append("- **Thresholds**: none")
    if interpreted:
        lines.append('- **Notes**: see "Interpretations" below.')
    return "\n".join(lines)


def checks_region(registry: dict[str, Check], hand_written: str) -> str:
    """Authority checks first, then the regional ones; each in id order."""
    ordered = sorted(registry.values(), key=lambda check: (check.scope != "authority", check.id))
    # "Notes" points to the hand-written interpretations when a bold heading there names the check.
    interpreted = {
        check_id
        for heading in re.findall(r"\*\*([^*]+)\*\*", hand_written)
        for check_id in re.findall(r"\b[A-Z][A-Z0-9_]+\b", heading)
    }
    return "\n\n".join(check_section(check, check.id in interpreted) for check in ordered)


def keys_region(registry: dict[str, Check]) -> str:
    rows = ["| check_id | entity_type | entity_id | person_id | agency (owner) |", "|---|---|---|---|---|"]
    for check in sorted(registry.values(), key=lambda check: (check.scope != "authority", check.id)):
        rows.append(
            f"| `{check.id}` | {entity_type(check)} | {_need(check, 'key_entity_id')} | "
            f"{check.doc.get('key_person_id', 'child')} | {_need(check, 'key_agency')} |"
        )
    return "\n".join(rows)


def _pattern(region: str) -> re.Pattern:
    return re.compile(rf"(<!-- BEGIN GENERATED {region} .*?-->\n)(.*?)(<!-- END GENERATED {region} -->)", re.S)


def replace_region(text: str, region: str, body: str, where: str) -> str:
    pattern = _pattern(region)
    if not pattern.search(text):
        raise DocsError(
            f"{where}: no generated region {region!r} (<!-- BEGIN GENERATED {region} ... --> ... <!-- END GENERATED {region} -->)"
        )
    return pattern.sub(lambda m: m.group(1) + "\n" + body + "\n\n" + m.group(3), text, count=1)


def rendered(docs_dir: Path = DOCS_DIR, registry: dict[str, Check] | None = None) -> dict[Path, str]:
    """Each generated file's full text as the catalogue makes it."""
    registry = registry if registry is not None else load_registry()
    checks_md, architecture_md = docs_dir / "CHECKS.md", docs_dir / "ARCHITECTURE.md"
    text = checks_md.read_text(encoding="utf-8")
    hand_written = _pattern(CHECKS_REGION).sub("", text)
    return {
        checks_md: replace_region(text, CHECKS_REGION, checks_region(registry, hand_written), "docs/CHECKS.md"),
        architecture_md: replace_region(
            architecture_md.read_text(encoding="utf-8"), KEYS_REGION, keys_region(registry), "docs/ARCHITECTURE.md"
        ),
    }


def stale(docs_dir: Path = DOCS_DIR, registry: dict[str, Check] | None = None) -> list[Path]:
    """The generated files whose committed text differs from the catalogue's."""
    return [path for path, text in rendered(docs_dir, registry).items() if path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 when any)")
    parser.add_argument("--docs", type=Path, default=DOCS_DIR, help="the docs/ folder (default: the repository's)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            outdated = stale(args.docs)
            for path in outdated:
                print(f"{path}: stale; regenerate with `{COMMAND}`")
            return 1 if outdated else 0
        for path, text in rendered(args.docs).items():
            if path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
    except (OSError, DocsError) as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
