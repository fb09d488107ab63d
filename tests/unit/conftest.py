# Copyright: polardb.polarsearch maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the collection importable as ``ansible_collections.polardb.polarsearch``.

Unit tests run with plain pytest from the repository root (``pytest tests/unit``).
The repository is exposed through a symlink at
``build/dev_collections/ansible_collections/polardb/polarsearch`` and that
collections root is put first on ``sys.path``, so that

    from ansible_collections.polardb.polarsearch.plugins.module_utils.x import y

works in tests and in the plugins under test. When the repository already lives
at ``.../ansible_collections/polardb/polarsearch`` (as in the copy that
ansible-test uses), that location is used directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTION_PARTS = ("ansible_collections", "polardb", "polarsearch")


def _collections_root() -> Path:
    if REPO_ROOT.parts[-3:] == COLLECTION_PARTS:
        return REPO_ROOT.parents[2]

    root = REPO_ROOT / "build" / "dev_collections"
    link = root.joinpath(*COLLECTION_PARTS)
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and Path(os.readlink(link)) == REPO_ROOT):
        # create the link under a temporary name and rename it into place, so
        # that concurrent runs never see a missing or half-made link
        tmp = link.with_name(".polarsearch.%d" % os.getpid())
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(REPO_ROOT, target_is_directory=True)
        os.replace(tmp, link)
    return root


COLLECTIONS_ROOT = str(_collections_root())
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
