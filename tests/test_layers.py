"""The package's layers: hw ← sim ← boards ← host. Each layer imports only the layers below it (lazy imports
inside functions included), so that nothing below host depends on the command line, the methods or the link."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Each layer and the layers it may import (itself included).
ALLOWED = {
    "hw": {"hw"},
    "sim": {"hw", "sim"},
    "boards": {"hw", "sim", "boards"},
    "host": {"hw", "sim", "boards", "host"},
}


def imported_layers(path: Path, layer: str) -> set[tuple[str, int]]:
    """(layer, line) of each import of a spherecode layer in the module at ``path`` of ``layer``."""
    parts = path.relative_to(ROOT).with_suffix("").parts  # ("host", "backends", "sim")
    package = ["spherecode", layer, *parts[1:-1]]  # the module's package (an __init__'s own)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names = [".".join([*base, node.module] if node.module else base)]
                if not node.module:  # from .. import x: x may be a layer
                    names = [".".join([*base, alias.name]) for alias in node.names]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            dotted = name.split(".")
            if dotted[0] == "spherecode" and len(dotted) > 1 and dotted[1] in ALLOWED:
                found.add((dotted[1], node.lineno))
    return found


def modules():
    return [(layer, path) for layer in ALLOWED for path in sorted((ROOT / layer).rglob("*.py"))]


@pytest.mark.parametrize("layer, path", modules(), ids=lambda x: str(x.relative_to(ROOT)) if isinstance(x, Path) else x)
def test_a_layer_imports_only_the_layers_below_it(layer, path):
    wrong = sorted((line, other) for other, line in imported_layers(path, layer) if other not in ALLOWED[layer])
    assert not wrong, f"{path.relative_to(ROOT)} imports " + ", ".join(f"{o} (line {n})" for n, o in wrong)


def test_the_check_sees_relative_absolute_and_lazy_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    module = tmp_path / "sim" / "sub" / "mod.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from ...host import cli\nfrom ... import boards\nimport spherecode.hw.fixed\n\n"
        "def f():\n    from spherecode.host.link import Link\n"
    )
    assert imported_layers(module, "sim") == {("host", 1), ("boards", 2), ("hw", 3), ("host", 6)}
