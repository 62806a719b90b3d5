"""The documentation site (mkdocs.yml, docs/) as a reader finds it: it builds with every page in
the nav and every link and anchor resolving, and what the README, SECURITY.md, the code and the
config point to exists."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: Files whose comments and messages point readers to a page of docs/ ("docs/config.md: Settings").
POINTING = [
    "Dockerfile",
    "compose.yaml",
    "config/hotline.yaml",
    *(str(p.relative_to(ROOT)) for p in (ROOT / "config/prometheus").glob("*.yml")),
    *(str(p.relative_to(ROOT)) for p in (ROOT / "hotline").rglob("*.py")),
    *(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")),
]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link or anchor, or a page left out of the nav, fails."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail(
            "mkdocs is not installed: .venv/bin/pip install -c .ci/constraints.txt -e '.[docs]' "
            "(bash .ci/setup installs it with the tests)"
        )
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        # (Material's banner about its successor, printed on every build, says nothing here)
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "operations" / "index.html").exists()


def test_every_page_is_in_the_nav() -> None:
    """(mkdocs only says so at INFO level for a page missing from an explicit nav)"""
    nav = (ROOT / "mkdocs.yml").read_text().split("\nnav:\n")[1]
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", nav, re.M))
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert listed == pages | GENERATED


#: The pages docs/hooks/reference.py writes at each build.
GENERATED = {"reference/api.md", "reference/config.md"}


def test_the_references_say_every_route_and_every_config_key() -> None:
    """The generated pages follow the code: a route or a key added shows up without an edit."""
    spec = importlib.util.spec_from_file_location("reference", ROOT / "docs/hooks/reference.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert {hook.API_PAGE, hook.CONFIG_PAGE} == GENERATED
    api, document = hook.api_page(), hook.openapi()
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"## {method.upper()} `{path}`" in api
    for name in document["components"]["schemas"]:
        assert f"### {name}\n" in api
    config = hook.config_page()
    sections = (
        "trunk",
        "trunk.callbacks",
        "sip",
        "organisations.<id>",
        "organisations.<id>.lines.<id>",
    )
    for section in sections:
        assert f"## `{section}`" in config, section
    assert "| `per_caller_per_hour` | int | `5` | Callback requests one calling number" in config


@pytest.mark.parametrize("name", ["README.md", "SECURITY.md"])
def test_the_top_level_files_link_to_pages_that_exist(name: str) -> None:
    text = (ROOT / name).read_text()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert links, name
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing


def test_the_readme_gives_the_two_commands_and_where_the_docs_are() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)```", readme, re.S)
    assert "bash .ci/setup --run && .venv/bin/hotline up\n" in commands
    assert "bash .ci/test\n" in commands
    assert "mkdocs serve" in readme and "docs/" in readme
    assert len(readme.splitlines()) < 80  # a screen or two; the rest is in docs/


def test_pointers_to_the_docs_name_pages_that_exist() -> None:
    """A comment or a message saying "docs/config.md: Settings" sends its reader somewhere."""
    pointers = {
        (name, page)
        for name in POINTING
        for page in re.findall(r"docs/([a-z-]+\.md)", (ROOT / name).read_text())
    }
    assert pointers
    missing = [(name, page) for name, page in pointers if not (ROOT / "docs" / page).exists()]
    assert not missing, missing


def test_nothing_points_to_the_readmes_old_sections() -> None:
    """The README's sections and OPERATIONS.md moved to docs/: a pointer to them is stale."""
    stale = re.compile(r"README: |README's (first )?(section|figure)|OPERATIONS\.md")
    found = [
        name
        for name in POINTING
        if name != "tests/unit/test_docs.py" and stale.search((ROOT / name).read_text())
    ]
    assert not found, found
