"""The service's package stands alone: nothing in hotline/ imports bench/ (the development
tools: the test calls, the benchmark), which the service's image does not have."""

from __future__ import annotations

import ast

from tests.conftest import ROOT


def imported(source: str) -> set[str]:
    """The top-level packages a module imports, lazily inside functions too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.partition(".")[0])
    return found


def test_the_service_does_not_import_the_development_tools() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "hotline").rglob("*.py"))
        if "bench" in imported(path.read_text())
    ]
    assert importers == []
