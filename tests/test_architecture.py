"""Dependencies point one way (docs/ARCHITECTURE.md, issue 29): the import contracts of
pyproject.toml are kept, and neither the packages nor the modules of caseflags import in a cycle.

lint-imports sees the folder `caseflags/` only; `flows/` and `sample_data/` are installed inside the
package from folders of their own (caseflags.flows, caseflags.sample_data), so they are added here
to grimp's graph from their source, and the same layers are checked over the whole package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
OUTSIDE_FOLDERS = {"caseflags.flows": ROOT / "flows", "caseflags.sample_data": ROOT / "sample_data"}


def _contracts() -> dict[str, dict]:
    with PYPROJECT.open("rb") as handle:
        return {c["id"]: c for c in tomllib.load(handle)["tool"]["importlinter"]["contracts"]}


def _imports(path: Path, module: str, is_package: bool) -> list[tuple[str, int, str]]:
    """(imported name, line, line text) of every caseflags import in the file, at any depth (an
    import inside a function counts: it may not hide a cycle either)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found += [(name, node.lineno, lines[node.lineno - 1].strip()) for name in names if name.startswith("caseflags")]
    return found


def whole_graph() -> grimp.ImportGraph:
    """grimp's graph of caseflags/, with flows/ and sample_data/ and every import to or from them."""
    graph = grimp.build_graph("caseflags", cache_dir=None)
    sources: dict[str, tuple[Path, bool]] = {}
    for package, folder in OUTSIDE_FOLDERS.items():
        for path in sorted(folder.glob("*.py")):
            is_package = path.name == "__init__.py"
            module = package if is_package else f"{package}.{path.stem}"
            graph.add_module(module)
            sources[module] = (path, is_package)
    for module in graph.modules:  # caseflags/ itself: only its imports of the outside folders
        if module not in sources:
            spec_path = ROOT / Path(*module.split("."))
            path = spec_path / "__init__.py" if spec_path.is_dir() else spec_path.with_suffix(".py")
            sources.setdefault(module, (path, path.name == "__init__.py"))
    outside = tuple(OUTSIDE_FOLDERS)
    for importer, (path, is_package) in sources.items():
        from_outside = importer.startswith(outside)
        for name, line, text in _imports(path, importer, is_package):
            # `from a.b import c`: the module a.b.c when there is one, else a.b
            if name not in graph.modules:
                continue
            if from_outside or name.startswith(outside):
                if name != importer:
                    graph.add_import(importer=importer, imported=name, line_number=line, line_contents=text)
    return graph


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def _edges(graph: grimp.ImportGraph, depth: int | None) -> dict[str, set[str]]:
    """Imports between modules, or between packages `depth` names deep (2: caseflags.<package>)."""

    def node(module: str) -> str:
        return module if depth is None else ".".join(module.split(".")[:depth])

    edges: dict[str, set[str]] = {}
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if node(importer) != node(imported):
                edges.setdefault(node(importer), set()).add(node(imported))
    return edges


def test_the_import_contracts_of_pyproject_are_kept():
    """`make lint`'s check: the layers and no cycle between sibling packages (lint-imports)."""
    assert set(_contracts()) == {"layers", "acyclic"}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--no-cache",
            "--no-logo",
            "--config",
            str(PYPROJECT),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert "2 kept, 0 broken" in completed.stdout, completed.stdout[-4000:]


def test_no_cycle_between_packages_nor_between_modules():
    graph = whole_graph()
    assert {"caseflags.flows.nightly", "caseflags.sample_data.generator", "caseflags.workspace.carry"} <= graph.modules
    assert graph.direct_import_exists(importer="caseflags.cli", imported="caseflags.flows.nightly")
    assert graph.direct_import_exists(importer="caseflags.flows.nightly", imported="caseflags.runbook")
    for depth in (2, 3):  # caseflags.<package>, and the sub-packages within each package
        assert _cycles(_edges(graph, depth)) == [], f"package cycles at depth {depth}"
    assert _cycles(_edges(graph, None)) == [], "module cycles"


def test_flows_and_sample_data_keep_the_same_layers():
    """The layers contract over the whole package, flows/ and sample_data/ included."""
    contract = _contracts()["layers"]
    layers = []
    for raw in contract["layers"]:
        independent = "|" in raw
        names = [name.strip().strip("()") for name in raw.replace(":", "|").split("|")]
        layers.append(grimp.Layer(*names, independent=independent))
    graph = whole_graph()
    illegal = graph.find_illegal_dependencies_for_layers(layers=layers, containers=set(contract["containers"]))
    assert not illegal, sorted((d.importer, d.imported) for d in illegal)
