"""Checking one record (a CIN child, a SEN2 person) against its year's rules.

Each problem is (line, element path, reason, raw value). A problem on a strict element (one a
check, linkage or a key depends on) quarantines the record; any other is a data-quality
warning and the record loads.
"""

from __future__ import annotations

import re
from datetime import date

from caseflags.ingest.returns.rules import Rule, RuleSet
from caseflags.ingest.returns.xmltree import Node

XS_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")
RAW_VALUE_CHARS = 80  # a bounded prefix of a value as delivered

Problem = tuple[int, str, str, str | None]


def parse_xs_date(value: str | None) -> str | None:
    if not value:
        return None
    match = XS_DATE.fullmatch(value)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


def raw(value: str | None) -> str | None:
    if value is None:
        return None
    return value if len(value) <= RAW_VALUE_CHARS else value[:RAW_VALUE_CHARS] + "…"


_RECORD_RULE = Rule("group", strict=True)


def validate_record(record: Node, ruleset: RuleSet, record_path: str) -> tuple[list[Problem], list[Problem]]:
    """(quarantine problems, warnings) for one record; both empty when it is clean."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    rules = ruleset.rules

    def full(relative: str, name: str | None = None) -> str:
        return "/".join(p for p in (record_path, relative, name) if p)

    def report(strict: bool, item: Problem) -> None:
        (problems if strict else warnings).append(item)

    def walk(node: Node, relative: str) -> None:
        children = node.children
        rule = rules.get(relative) if relative else _RECORD_RULE
        if rule is None:  # an element the schema does not list: ignored with all inside it
            if children and node.value():
                warnings.append(
                    (node.text_line or node.line, full(relative), "unexpected text between elements", raw(node.value()))
                )
            return
        if rule.kind == "group":
            if node.text and node.value():
                warnings.append(
                    (node.text_line or node.line, full(relative), "unexpected text between elements", raw(node.value()))
                )
        elif children:
            report(rule.strict, (node.line, full(relative), f"{node.tag} must hold a value, not elements", None))
        else:
            reason = value_problem(node.value(), rule, ruleset)
            if reason:
                report(rule.strict, (node.line, full(relative), reason, raw(node.value())))
        expected = ruleset.by_parent.get(relative)
        if expected is None:
            return
        counts: dict[str, int] = {}
        for child in children:
            counts[child.tag] = counts.get(child.tag, 0) + 1
        for name, child_rule in expected:
            seen = counts.get(name, 0)
            if seen < child_rule.min:
                report(child_rule.strict, (node.line, full(relative, name), f"mandatory element {name} missing", None))
            elif child_rule.max is not None and seen > child_rule.max:
                report(
                    child_rule.strict,
                    (node.line, full(relative, name), f"{name} given {seen} times (at most {child_rule.max})", None),
                )
        names = ruleset.one_of.get(relative)
        if names and sum(counts.get(n, 0) for n in names) != 1:
            warnings.append(
                (node.line, full(relative, names[0]), f"exactly one of {' or '.join(names)} is required", None)
            )
        for child in children:
            walk(child, f"{relative}/{child.tag}" if relative else child.tag)

    walk(record, "")
    return problems, warnings


def value_problem(value: str, rule: Rule, ruleset: RuleSet) -> str | None:
    if not value:
        return "mandatory element is empty" if rule.min else None
    if rule.kind == "date":
        if not XS_DATE.fullmatch(value):
            return "not a date in YYYY-MM-DD form"
        if parse_xs_date(value) is None:
            return "impossible date"
    elif rule.kind in ("code", "bool"):
        if value not in rule.codes:
            return "unknown code"
    elif rule.kind == "pattern":
        if not ruleset.patterns[rule.pattern].fullmatch(value):
            return "wrong format"
    return None
