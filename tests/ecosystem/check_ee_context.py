# Copyright: polardb.polarsearch maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the build context that ``ansible-builder create`` made of docs/execution-environment.yml.

    python tests/ecosystem/check_ee_context.py CONTEXT TARBALL

No image is built. Instead, the galaxy stage of the Containerfile (or Dockerfile) is replayed on this
machine: its ``COPY _build/...`` and ``RUN`` steps before the galaxy check run in a scratch directory
that stands in for the image's root, then ``ansible-galaxy collection install`` installs the stage's
requirements.yml from there, offline. The check passes when that installs polardb.polarsearch
from TARBALL (the tarball just built, copied into the context unchanged), at the version of that tarball.
Exits 1 naming what is wrong.
"""

from __future__ import annotations

import filecmp
import json
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml


def fail(message):
    print("check_ee_context: %s" % message)
    return 1


def galaxy_stage(context):
    """The instruction lines of the galaxy stage, up to its check of the ansible-galaxy command."""
    for name in ("Containerfile", "Dockerfile"):
        if (context / name).is_file():
            lines = (context / name).read_text().splitlines()
            break
    else:
        raise SystemExit("check_ee_context: %s holds no Containerfile or Dockerfile" % context)
    stage, inside = [], False
    for line in lines:
        if line.startswith("FROM "):
            if inside:
                break
            inside = line.rstrip().endswith(" AS galaxy")
            continue
        if inside:
            if "/output/scripts/check_galaxy" in line:
                break
            stage.append(line)
    if not inside:
        raise SystemExit("check_ee_context: the build has no galaxy stage (no collections to install?)")
    return stage


def tarball_info(tarball):
    with tarfile.open(tarball) as tar:
        info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    return "%s.%s" % (info["namespace"], info["name"]), info["version"]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit("usage: check_ee_context.py CONTEXT TARBALL")
    context, tarball = Path(argv[0]), Path(argv[1])
    fqcn, version = tarball_info(tarball)

    copied = context / "_build" / "polarsearch" / tarball.name
    if not copied.is_file() or not filecmp.cmp(copied, tarball, shallow=False):
        return fail("the build context does not hold %s as built (looked for %s)" % (tarball.name, copied))

    root = Path(tempfile.mkdtemp(prefix="ee-galaxy-stage-"))
    try:
        prefixes = []
        for line in galaxy_stage(context):
            words = shlex.split(line)
            if not words:
                continue
            if words[0] == "COPY" and len(words) == 3 and words[1].startswith("_build/"):
                dest = words[2]
                prefixes.append(dest.rstrip("/"))
                shutil.copytree(context / words[1], root / dest.lstrip("/"), dirs_exist_ok=True)
            elif words[0] == "RUN":
                command = line.split(None, 1)[1]
                for prefix in prefixes:
                    command = command.replace(prefix, str(root) + prefix)
                print("check_ee_context: RUN %s" % command)
                subprocess.run(["bash", "-euo", "pipefail", "-c", command], check=True)
            elif words[0] not in ("ARG",):
                return fail("unexpected step in the galaxy stage: %s" % line)

        requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
        for entry in requirements.get("collections") or []:
            for prefix in prefixes:
                if isinstance(entry, dict) and str(entry.get("name", "")).startswith(prefix + "/"):
                    entry["name"] = str(root) + entry["name"]
        replayed = root / "requirements.yml"
        replayed.write_text(yaml.safe_dump(requirements))
        galaxy = shutil.which("ansible-galaxy") or str(Path(sys.executable).parent / "ansible-galaxy")
        installed = root / "collections"
        done = subprocess.run([galaxy, "collection", "install", "--offline", "-r", str(replayed), "-p", str(installed)],
                              capture_output=True, text=True, check=False)
        print(done.stdout.rstrip())
        if done.returncode != 0:
            return fail("ansible-galaxy collection install -r requirements.yml failed:\n%s" % done.stderr)
        manifest = installed.joinpath("ansible_collections", *fqcn.split(".")) / "MANIFEST.json"
        if not manifest.is_file():
            return fail("the galaxy stage did not install %s" % fqcn)
        got = json.loads(manifest.read_text())["collection_info"]["version"]
        if got != version:
            return fail("the galaxy stage installed %s %s, not the built %s" % (fqcn, got, version))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("check_ee_context: the galaxy stage installs %s %s from the built tarball" % (fqcn, version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
