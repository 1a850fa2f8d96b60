"""Every file the package reads beside its modules is package data (CI also installs the built wheel and
runs the main job from it), and the tests' own code — the cocotb testbenches — is not part of the package."""

import ast
import fnmatch
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_files_read_beside_the_modules_are_package_data():
    data = SETUPTOOLS["package-data"]
    for package, folder in SETUPTOOLS["package-dir"].items():
        for module in (ROOT / folder).glob("*.py"):
            for name in re.findall(r"""with_name\(["']([^"']+)["']\)""", module.read_text(encoding="utf-8")):
                folder_of_files = (ROOT / folder / name).is_dir()  # then its files: "name/*.json"
                assert any(
                    p.startswith(f"{name}/") if folder_of_files else fnmatch.fnmatch(name, p)
                    for p in data.get(package, [])
                ), f"{module.relative_to(ROOT)} reads {name}, which is not package data of {package}"


def test_every_package_data_pattern_matches_a_file():
    folders = SETUPTOOLS["package-dir"]
    for package, patterns in SETUPTOOLS["package-data"].items():
        for pattern in patterns:
            assert list((ROOT / folders[package]).glob(pattern)), f"{package}: {pattern} matches nothing"


def imports_cocotb(module: Path) -> bool:
    """Whether ``module`` imports cocotb (what a testbench does; a build needs only ``cocotb_tools``)."""
    names = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module or "")
    return any(name.split(".")[0] == "cocotb" for name in names)


def test_no_testbench_is_package_code():
    """The modules the wheel ships (every package folder's) include no cocotb testbench: those are the
    tests', in tests/benches/, which the check recognises."""
    benches = sorted((ROOT / "tests" / "benches").glob("tb_*.py"))
    assert benches and all(imports_cocotb(module) for module in benches)
    shipped = [module for folder in SETUPTOOLS["package-dir"].values() for module in (ROOT / folder).glob("*.py")]
    testbenches = [str(m.relative_to(ROOT)) for m in shipped if m.name.startswith("tb_") or imports_cocotb(m)]
    assert not testbenches, f"testbenches in the package: {testbenches}"
