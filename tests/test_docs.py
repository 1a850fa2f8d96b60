"""The docs as reference: generated parts current, no history in prose, the version in the changelog."""

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import spherecode

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("docs_script", ROOT / "benchmarks" / "docs.py")
docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs)

#: Words that speak of who worked when, not of what the project is (CI's reviewers grep for the same).
HISTORY = re.compile(r"\bsessions?\b|\bengineers?\b|\bissues? #?[0-9]+|this commit|\bseeds? 00[0-4]\b", re.I)
#: "session" in its operating-system sense, and pytest's (a fixture made once for the whole test run).
ALLOWED = re.compile(
    r"port session|process group|own session|start_new_session|setsid|session of its own|scope=\"session\"", re.I
)
#: A commit hash in prose: 7 to 40 hex digits with at least one digit and one letter.
HASH = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")


def _texts():
    """(path, prose lines) of the README, the changelog, docs/ and the code's comments and docstrings."""
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml", *sorted((ROOT / "docs").rglob("*.md"))]
    for folder in ("hw", "host", "sim", "boards", "benchmarks", "spherecode", "tests"):
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".cpp"))
    for path in files:
        if path == Path(__file__).resolve():
            continue
        yield path, path.read_text(encoding="utf-8").splitlines()


def _holds_code(path: Path) -> bool:
    """Whether the module at ``path`` defines anything (a function, a class or a table), not only imports."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in body) or any(
        isinstance(node, ast.Assign) and not (isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__")
        for node in body
    )


def test_no_history_in_docs_code_or_comments():
    found = []
    for path, lines in _texts():
        for number, line in enumerate(lines, 1):
            if HISTORY.search(ALLOWED.sub("", line)):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "history in prose:\n" + "\n".join(found)


#: Generated results, whose header names the commit they were made at.
GENERATED = ("docs/report", "docs/results")


def test_no_commit_hash_in_prose():
    found = []
    for path, lines in _texts():
        if path.relative_to(ROOT).as_posix().startswith(GENERATED):
            continue
        for number, line in enumerate(lines, 1):
            prose = line if path.suffix == ".md" else line.partition("#")[2] if path.suffix == ".py" else ""
            if HASH.search(prose):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "commit hashes in prose:\n" + "\n".join(found)


def test_the_patterns_catch_what_they_must():
    for text in ("the next session", "five other engineers", "issue 10 item 8", "as in this commit", "seed 003's"):
        assert HISTORY.search(ALLOWED.sub("", text)), text
    assert not HISTORY.search(ALLOWED.sub("", "a process group and its own session (setsid)"))
    assert HASH.search("reverted (93617c6)") and not HASH.search("a decade, 1234567 cycles, 0xffff")


def test_generated_docs_are_current():
    assert docs.stale() == [], "run: python benchmarks/docs.py --write"


def test_cli_reference_is_the_help_text():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    # Every section is the parser's help (test_generated_docs_are_current); one is checked as printed.
    out = subprocess.run(
        [sys.executable, "-m", "spherecode", "run", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(docs.COLUMNS)},
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert f"## `spherecode run`\n\n```\n{out.stdout.rstrip()}\n```\n" in text
    assert set(re.findall(r"^## `(spherecode[^`]*)`", text, re.M)) == set(docs.commands())


def test_render_refuses_a_file_without_its_markers():
    with pytest.raises(ValueError, match="no <!-- generated: board list --> … <!-- end: board list --> block"):
        docs.render("README.md", "# no markers\n")


def test_changelog_names_this_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(spherecode.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)


def test_boards_doc_is_short():
    assert (ROOT / "docs" / "boards.md").stat().st_size <= 15_000


def test_the_architecture_lists_every_module():
    """docs/architecture.md's "Folders" table names every module of the package once, and nothing else."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("## Folders") :].split("\n## ")[0]
    listed = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[0].endswith("/`"):
            folder = cells[0].strip("`")
            listed += [folder + name for name in re.findall(r"`([\w.]+\.py)`", cells[2])]
    actual = [
        str(p.relative_to(ROOT))
        for folder in ("hw", "sim", "boards", "host")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "__init__.py" or _holds_code(p)  # a package's own module where it holds more than imports
    ]
    assert sorted(listed) == sorted(set(listed)), "listed twice"
    assert sorted(listed) == sorted(actual)
