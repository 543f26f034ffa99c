"""No module imports from a layer above it (issue #15): pigallery on top, models at the bottom.

A lower layer that imports an upper one ties it to everything up there: index/cli.py once
imported pigallery.cli, which a Pi without Flask must never load. The rule is read from the
source with `ast`, so an import inside a function counts as much as one at the top.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each layer and the layers it may import from (itself included). capture and index sit side
# by side on models: neither imports the other.
MAY_IMPORT = {
    "models": {"models"},
    "index": {"models", "index"},
    "capture": {"models", "capture"},
    "search_web": {"models", "index", "search_web"},
    "pigallery": {"models", "index", "capture", "search_web", "pigallery"},
}


def modules() -> list[Path]:
    return sorted(path for layer in MAY_IMPORT for path in (ROOT / layer).rglob("*.py") if "__pycache__" not in path.parts)


def imported(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Every module name `path` imports, relative imports resolved, with its line."""
    # `from . import x` starts from the module's package, in a package's __init__.py too.
    package = list(path.relative_to(root).parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module
            names.append((node.lineno, module))
    return names


def upward_imports(path: Path, root: Path = ROOT) -> list[str]:
    layer = path.relative_to(root).parts[0]
    found = []
    for line, name in imported(path, root):
        target = name.partition(".")[0]
        if target in MAY_IMPORT and target not in MAY_IMPORT[layer]:
            found.append(f"{path.relative_to(root)}:{line} imports {name} (layer {target} is above {layer})")
    return found


def test_the_rule_sees_relative_and_nested_imports(tmp_path):
    # The checker itself: a relative import reaching into another layer, and one inside a function.
    (tmp_path / "index").mkdir()
    probe = tmp_path / "index" / "probe.py"
    probe.write_text("from . import schema\n\ndef f():\n    from pigallery.config import Settings\n")
    assert imported(probe, tmp_path) == [(1, "index"), (4, "pigallery.config")]
    assert upward_imports(probe, tmp_path) == ["index/probe.py:4 imports pigallery.config (layer pigallery is above index)"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_from_a_layer_above_it(path):
    found = upward_imports(path)
    assert not found, "\n".join(found)


def test_every_layer_has_modules():
    # A renamed folder would otherwise leave the test above with nothing to check.
    assert {path.relative_to(ROOT).parts[0] for path in modules()} == set(MAY_IMPORT)
