"""The layering rules of ARCHITECTURE.md, checked statically (every .py parsed with ast).

- domain/, engine/, geo/ (those that exist) import neither boto3, botocore nor chalice;
- only chalicelib/adapters imports boto3/botocore, anywhere in chalicelib (imports inside
  functions count), and app.py does not import it at module level, directly or through the
  chalicelib modules it imports at module level;
- use_cases/ and contracts/ never import chalice.

The checker itself is tested on a synthetic module, so a rule cannot pass by seeing nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
APP = ROOT / "app.py"
AWS_SDK = {"boto3", "botocore"}
PURE_BANNED = AWS_SDK | {"chalice"}
PURE_PACKAGES = [name for name in ("domain", "engine", "geo") if (CHALICELIB / name).is_dir()]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, path: Path) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against ``path``)."""
    if node.level == 0:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_function(node: ast.AST) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))


def imports_of(path: Path, *, module_level_only: bool = False) -> set[str]:
    """Every module ``path`` imports: ``import x.y`` -> ``x.y``; ``from x import y`` -> ``x`` and
    ``x.y``; ``importlib.import_module("x")`` / ``__import__("x")`` -> ``x``. With
    ``module_level_only``, imports inside function bodies are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, path)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
        for child in ast.iter_child_nodes(node):
            if module_level_only and _is_function(child):
                continue
            pending.append(child)
    return found


def banned_imports(path: Path, banned: set[str], *, module_level_only: bool = False) -> set[str]:
    return {m for m in imports_of(path, module_level_only=module_level_only) if m.split(".")[0] in banned}


def violations(files: list[Path], banned: set[str]) -> dict[str, set[str]]:
    found = {str(f.relative_to(ROOT)): banned_imports(f, banned) for f in files}
    return {f: mods for f, mods in found.items() if mods}


def python_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.py") if "__pycache__" not in p.parts)


# --- The checker sees what it must see ------------------------------------------------------


def test_given_imports_hidden_in_functions_and_conditionals_when_checked_then_each_is_found(tmp_path):
    module = tmp_path / "sneaky.py"
    module.write_text(
        "import os\n"
        "if os.environ.get('X'):\n"
        "    from botocore.config import Config\n"
        "def client():\n"
        "    import boto3.session\n"
        "    return boto3\n"
        "class Handler:\n"
        "    async def run(self):\n"
        "        from chalice import Response\n"
        "def dynamic():\n"
        "    import importlib\n"
        "    return importlib.import_module('boto3')\n",
        encoding="utf-8",
    )

    found = banned_imports(module, PURE_BANNED)

    assert {"boto3", "boto3.session", "botocore.config", "chalice"} <= found


def test_given_imports_inside_a_function_when_only_module_level_is_checked_then_they_are_ignored(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("import json\ndef client():\n    import boto3\n", encoding="utf-8")

    assert banned_imports(module, AWS_SDK, module_level_only=True) == set()
    assert banned_imports(module, AWS_SDK) == {"boto3"}


def test_given_the_real_adapters_when_checked_then_their_boto3_imports_are_seen():
    # If the checker went blind (wrong root, wrong parsing) the rules below would pass vacuously.
    adapters = python_files(CHALICELIB / "adapters")

    assert violations(adapters, AWS_SDK), "no boto3/botocore import found in chalicelib/adapters"


# --- The rules --------------------------------------------------------------------------------


def test_the_pure_packages_exist():
    assert "domain" in PURE_PACKAGES


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_never_import_boto3_botocore_or_chalice(package):
    files = python_files(CHALICELIB / package)
    assert files, f"no Python files found under chalicelib/{package}"

    assert violations(files, PURE_BANNED) == {}


def test_only_adapters_import_boto3_or_botocore_anywhere_under_chalicelib():
    files = [
        p
        for p in python_files(CHALICELIB)
        if "adapters" not in p.relative_to(CHALICELIB).parts and p != CHALICELIB / "wiring.py"
    ]
    assert len(files) > 10, "expected to check most of chalicelib"

    assert violations(files, AWS_SDK) == {}


def test_the_composition_root_does_not_import_boto3_itself():
    assert banned_imports(CHALICELIB / "wiring.py", AWS_SDK) == set()


def test_app_does_not_import_boto3_at_module_level():
    assert APP.is_file()

    assert banned_imports(APP, AWS_SDK, module_level_only=True) == set()


def test_app_does_not_reach_boto3_through_the_chalicelib_modules_it_imports_at_module_level():
    """Follows module-level imports of our own modules from app.py (what `chalice deploy` and
    every cold start execute) and collects the third-party modules they reach."""
    seen: set[Path] = set()
    reached: set[str] = set()
    pending = [APP]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imports_of(path, module_level_only=True):
            if module.split(".")[0] != "chalicelib":
                reached.add(module)
                continue
            candidate = ROOT.joinpath(*module.split("."))
            for own in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                if own.is_file():
                    pending.append(own)
    assert len(seen) > 3, "expected app.py to import several chalicelib modules"

    assert {m for m in reached if m.split(".")[0] in AWS_SDK} == set()


@pytest.mark.parametrize("package", ["use_cases", "contracts"])
def test_use_cases_and_contracts_never_import_chalice(package):
    files = python_files(CHALICELIB / package)
    assert files, f"no Python files found under chalicelib/{package}"

    assert violations(files, {"chalice"}) == {}


def test_the_unit_tier_itself_imports_no_aws_sdk_moto_or_chalice():
    files = python_files(Path(__file__).parent)
    assert Path(__file__) in files

    assert violations(files, AWS_SDK | {"moto", "chalice"}) == {}
