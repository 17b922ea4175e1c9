"""Safe, streaming XML for the national returns: an expat parser that refuses any DOCTYPE, and
a small element tree built for one record (a child, a person) at a time.

Refusing the DOCTYPE as it opens means no entity can ever be declared, so no expansion bomb and
no external entity; an entity reference the file did not declare is a well-formedness error.
No namespace processing (DfE returns carry none): a prefix on a tag is ignored.
"""

from __future__ import annotations

from xml.parsers import expat

CHUNK_BYTES = 1 << 16


class Node:
    __slots__ = ("tag", "line", "text", "children", "text_line")

    def __init__(self, tag: str, line: int):
        self.tag = tag
        self.line = line
        self.text: list[str] = []
        self.children: list[Node] = []
        self.text_line: int | None = None  # where non-blank text first appeared

    def value(self) -> str:
        return "".join(self.text).strip()

    def all(self, tag: str) -> list[Node]:
        return [c for c in self.children if c.tag == tag]

    def first(self, tag: str) -> Node | None:
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def node(self, path: str) -> Node | None:
        node: Node | None = self
        for part in path.split("/"):
            node = node.first(part) if node is not None else None
        return node

    def get(self, path: str) -> str | None:
        """Text of the first element at `path` (a/b/c) below this one; None if absent or empty."""
        node = self.node(path)
        if node is None:
            return None
        return node.value() or None


class StopReading(Exception):
    """Detection has what it needs; stop parsing."""


class Forbidden(Exception):
    """A DOCTYPE / entity declaration / external entity: the file is refused."""


def new_parser(on_start, on_end, on_text) -> expat.XMLParserType:
    parser = expat.ParserCreate()  # no namespace processing: DfE returns carry none
    parser.buffer_text = True
    parser.buffer_size = CHUNK_BYTES
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_args):
        raise Forbidden("a DOCTYPE or entity declaration is not allowed in a return")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.CharacterDataHandler = on_text
    return parser


def local(tag: str) -> str:
    return tag.rpartition(":")[2]
