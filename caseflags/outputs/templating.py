"""The Jinja2 environment of the HTML files caseflags writes: report.html and the audit packs.

(The web keeps its own environment, `caseflags.web.pages.templates`.) Templates, style sheets and
scripts are package files in a package's `templates/` folder; style and script are inlined when a
page is written (`inline_asset`), so every page stays one file that loads nothing.

Autoescape is on. Every printed value also passes through `printable` first: None prints as
nothing, a date or time as ISO 8601, and text is escaped by `files.escape` (`&quot;`, `&#x27;`),
the form these files have always had; markup (a macro's output, an inlined asset) passes as it is.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from importlib.resources import files as package_files

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from caseflags.outputs.files import escape

# An inlined file must not end its own <style> or <script> block, nor open a comment inside it.
_BREAKS_OUT = re.compile(r"</(style|script)|<!--", re.IGNORECASE)


def printable(value: object) -> object:
    """What `{{ value }}` prints: markup as it is; anything else formatted, then escaped."""
    if hasattr(value, "__html__"):
        return value
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ", timespec="seconds")
    elif isinstance(value, date):
        value = value.isoformat()
    return Markup(escape(value))


@cache
def environment(package: str) -> Environment:
    """The environment of `package`'s templates/ folder (one per package, built once)."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        finalize=printable,
        undefined=StrictUndefined,  # a misspelt name fails the render instead of printing nothing
        keep_trailing_newline=True,
    )
    # `|tojson` (a script's data block): compact, keys in the order given; it still escapes < > & '.
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":")}
    return env


@cache
def inline_asset(package: str, name: str) -> Markup:
    """The text of `package`'s templates/<name> (a style sheet or script), to inline verbatim."""
    text = package_files(package).joinpath("templates", name).read_text(encoding="utf-8")
    if _BREAKS_OUT.search(text):
        raise ValueError(f"{package} templates/{name} cannot be inlined: it contains </style, </script or <!--")
    return Markup(text)
