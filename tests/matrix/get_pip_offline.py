# polarsearch offline get-pip stand-in
# Copyright: polardb.polarsearch maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install pip (and setuptools and wheel, when asked) from local wheels.

ansible-test bootstraps pip in each virtual environment it makes by running
``~/.ansible/test/cache/get_pip_<pip version>.py``, which it downloads unless the
file is there. tests/matrix/core-matrix places a copy of this file there, next to
a ``pip-wheels`` directory holding the exact wheels asked for, so that no bootstrap
script has to be downloaded. It is run as ``python get_pip_X.py
--disable-pip-version-check pip==X [setuptools==Y wheel==Z] [--no-setuptools
--no-wheel]`` inside a new virtual environment without pip.
"""

from __future__ import annotations

import glob
import os
import sys

WHEELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-wheels")


def find_wheel(version):
    """The local pip wheel of ``version`` and True, else the interpreter's bundled one and False."""
    if version:
        found = sorted(glob.glob(os.path.join(WHEELS, "pip-%s-*.whl" % version)))
        if found:
            return found[-1], True
    import ensurepip  # pylint: disable=import-outside-toplevel
    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    found = sorted(glob.glob(os.path.join(bundled, "pip-*.whl")))
    if not found:
        sys.exit("pip is unavailable: no local pip wheel found")
    return found[-1], False


def main():
    """Run pip from its wheel to install the requested packages from ``WHEELS``."""
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel", "--no-pip")]
    version = None
    for arg in args:
        if arg.startswith("pip=="):
            version = arg[len("pip=="):]
    wheel, exact = find_wheel(version)
    if not exact:
        # fall back to whatever pip version the bundled wheel has
        args = ["pip" if a.startswith("pip==") else a for a in args]
    sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel
    return pip_main(["install", "--no-index", "--find-links", WHEELS, "--find-links", os.path.dirname(wheel),
                     "--upgrade", "--force-reinstall", "--no-cache-dir"] + args)


if __name__ == "__main__":
    sys.exit(main())
