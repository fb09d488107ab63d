# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layers of plugins/module_utils: each package imports only the packages its row of LAYERS names.

LAYERS is the architecture. From the bottom: transport, core, the kinds of object (connector; model,
which names a connector; search, whose pipelines name models), converge (converging a connector, which
moves its models) and stack. An import of a package not in the row (a higher layer, or a sibling kind the row
does not name) fails this test; so does a file outside the packages of the table.
"""

from __future__ import annotations

import ast
from pathlib import Path

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
PREFIX = "ansible_collections.polardb.polarsearch.plugins.module_utils"

# package -> the packages it may import (besides itself)
LAYERS = {
    "transport": (),
    "core": ("transport",),
    "connector": ("core", "transport"),
    "model": ("connector", "core", "transport"),
    "search": ("model", "core", "transport"),
    "converge": ("model", "connector", "core", "transport"),
    "stack": ("converge", "search", "model", "connector", "core", "transport"),
}


def imported_packages(path, package):
    """(line, package) for every import of a module_utils package in ``path``, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import y: the same package
            names = [package]
        elif isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..pkg import y, from .. import pkg
            names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            names = ["(above module_utils)"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PREFIX):
            rest = node.module[len(PREFIX):].lstrip(".")
            names = [rest.split(".")[0]] if rest else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name[len(PREFIX):].lstrip(".").split(".")[0]
                     for alias in node.names if alias.name.startswith(PREFIX + ".")]
        else:
            continue
        for name in names:
            yield node.lineno, name


def violations(root, layers):
    """Every file outside the table's packages, and every import its package's row does not allow."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        package = relative.parts[0] if len(relative.parts) > 1 else None
        if package not in layers:
            found.append("%s: not in a package of the layer table" % relative)
            continue
        for line, target in imported_packages(path, package):
            if target != package and target not in layers[package]:
                found.append("%s:%d: %s imports %s" % (relative, line, package, target))
    return found


def test_every_import_goes_down_a_layer():
    assert violations(MODULE_UTILS, LAYERS) == []


def test_every_package_is_a_package_of_the_table():
    packages = {p.name for p in MODULE_UTILS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(LAYERS)
    assert all((MODULE_UTILS / name / "__init__.py").is_file() for name in LAYERS)
    # ansible-test sanity of ansible-core 2.16 (empty-init) wants them empty; docs/architecture.md describes them
    assert [name for name in LAYERS if (MODULE_UTILS / name / "__init__.py").read_text()] == []


def test_the_table_has_no_cycle():
    seen = []
    while len(seen) < len(LAYERS):
        ready = [name for name, below in LAYERS.items() if name not in seen and set(below) <= set(seen)]
        assert ready, "a cycle among %s" % sorted(set(LAYERS) - set(seen))
        seen.extend(ready)


def test_an_upward_or_sideways_import_is_found(tmp_path):
    for package, source in (("core", "from %s.stack.verify import problems\n" % PREFIX),
                            ("connector", "def f():\n    from %s.model import model\n" % PREFIX),
                            ("search", "import %s.converge.in_use\n" % PREFIX),
                            ("transport", "from %s import core\n" % PREFIX)):
        (tmp_path / package).mkdir()
        (tmp_path / package / "bad.py").write_text(source)
    (tmp_path / "loose.py").write_text("")
    assert violations(tmp_path, LAYERS) == [
        "connector/bad.py:2: connector imports model",
        "core/bad.py:1: core imports stack",
        "loose.py: not in a package of the layer table",
        "search/bad.py:1: search imports converge",
        "transport/bad.py:1: transport imports core",
    ]
