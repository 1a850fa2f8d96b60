"""ruff, configured in pyproject.toml: the lint rules pass and the code is formatted."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff(command):
    run = subprocess.run([sys.executable, "-m", "ruff", *command, str(ROOT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


#: A function may be longer than :data:`LIMIT` lines where its docstring says why, in these words.
LIMIT, REASON = 80, "Over 80 lines because"
SOURCES = ("hw", "sim", "boards", "host", "benchmarks", "tests")


def long_functions(source: str, limit: int = LIMIT) -> list[tuple[str, int]]:
    """(name, lines) of each function in ``source`` longer than ``limit`` lines whose docstring gives no reason."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit and REASON not in (ast.get_docstring(node) or ""):
                found.append((node.name, lines))
    return found


def test_long_functions_are_found():
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT))
    assert long_functions(f"def f():\n{body}") == [("f", LIMIT + 1)]
    assert long_functions(f'def f():\n    """{REASON} it is a table."""\n{body}') == []
    assert long_functions(f"def f():\n{body[: -len(body) // LIMIT]}") == []


def test_functions_are_short_or_say_why():
    found = {
        f"{path.relative_to(ROOT)}: {name} ({lines} lines)": lines
        for folder in SOURCES
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name, lines in long_functions(path.read_text(encoding="utf-8"))
    }
    assert not found, f"functions over {LIMIT} lines without '{REASON} …' in their docstring: {sorted(found)}"
