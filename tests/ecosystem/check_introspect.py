# Copyright: polardb.polarsearch maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check what ``ansible-builder introspect`` reports for the installed collection.

    python tests/ecosystem/check_introspect.py COLLECTIONS_PATH

COLLECTIONS_PATH holds ``ansible_collections/polardb/polarsearch``, installed from the built tarball.
An execution environment gets exactly the Python and system packages that introspection reports, so
they must be the collection's runtime dependencies, no more and no fewer:

- the Python requirements are the lines of the requirements file that meta/execution-environment.yml
  names (requirements.txt), as written;
- their names are the distributions of the third-party modules that the plugins import (everything
  but the standard library, ansible and ansible_collections);
- there are no system (bindep) requirements.

Exits 1 listing each difference.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml

COLLECTION = ("ansible_collections", "polardb", "polarsearch")
OWN_TOP_LEVEL = {"__future__", "ansible", "ansible_collections"}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line):
    """The distribution name of a requirement line such as ``requests>=2.25  # comment``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return canonical(match.group(1)) if match else None


def introspect(collections_path):
    """The dependency data that ansible-builder introspect prints for ``collections_path``."""
    builder = shutil.which("ansible-builder") or str(Path(sys.executable).parent / "ansible-builder")
    done = subprocess.run([builder, "introspect", str(collections_path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit("check_introspect: ansible-builder introspect failed (exit %d):\n%s%s" % (
            done.returncode, done.stdout, done.stderr))
    print(done.stdout.rstrip())
    return yaml.safe_load(done.stdout) or {}


def declared_requirements(collection):
    """The requirement lines of the file that meta/execution-environment.yml names."""
    ee_meta = yaml.safe_load((collection / "meta" / "execution-environment.yml").read_text()) or {}
    python = (ee_meta.get("dependencies") or {}).get("python")
    if not isinstance(python, str):
        raise SystemExit("check_introspect: meta/execution-environment.yml names no Python requirements file "
                         "(dependencies.python)")
    lines = (collection / python).read_text().splitlines()
    return python, [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def imported_distributions(collection):
    """{distribution: [files]} of the third-party modules imported under plugins/."""
    stdlib = set(sys.stdlib_module_names)
    owners = metadata.packages_distributions()
    found = {}
    for path in sorted((collection / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in stdlib or top in OWN_TOP_LEVEL:
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(canonical(dist), set()).add(str(path.relative_to(collection)))
    return {dist: sorted(files) for dist, files in found.items()}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: check_introspect.py COLLECTIONS_PATH")
    collection = Path(argv[0]).joinpath(*COLLECTION)
    if not (collection / "MANIFEST.json").is_file():
        raise SystemExit("check_introspect: no installed collection at %s" % collection)

    data = introspect(argv[0])
    reported = [re.sub(r"\s*#.*$", "", line).strip() for line in data.get("python") or []]
    req_file, declared = declared_requirements(collection)
    imported = imported_distributions(collection)

    problems = []
    if sorted(reported) != sorted(declared):
        problems.append("introspection reports Python requirements %s; %s declares %s" % (reported, req_file, declared))
    reported_names = {requirement_name(line) for line in reported}
    for dist in sorted(set(imported) - reported_names):
        problems.append("the plugins import %s (%s), which introspection does not report; add it to %s" % (
            dist, ", ".join(imported[dist]), req_file))
    for dist in sorted(reported_names - set(imported)):
        problems.append("introspection reports %s, which no plugin imports; drop it from %s" % (dist, req_file))
    if data.get("system"):
        problems.append("introspection reports system requirements %s; the collection needs none" % data["system"])

    if problems:
        for problem in problems:
            print("check_introspect: %s" % problem)
        return 1
    print("check_introspect: introspection reports exactly the runtime Python dependencies (%s) and no system "
          "packages" % ", ".join(reported))
    return 0


if __name__ == "__main__":
    sys.exit(main())
