# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run leaves what it wrote visible to the next run's searches.

The collection finds connectors, models and model groups by name with a search, and searches are
near-real-time: they see a write once the index has refreshed. Not every write of ML Commons asks for
that refresh. On 2.19.1 an update of a model group (and of a connector or a model) and the state a
deploy or undeploy writes reach searches only with the next periodic refresh (about a second, longer on a
busy node), while 3.6.0 answered the same searches with the new document at once (docs/local-cluster.md,
"Searches right after a write"). A run that starts right after another one, as a pipeline's drift check
after its provision does, would otherwise compare against the old document and report (or make) a
change that is already there.

So before a run that changed such objects in place ends, :func:`settle` waits until a search shows each of
them as a GET (which is real time) does: the same document, or none for a deleted one. It costs nothing
on a run that wrote nothing, one GET per changed object and one search per kind where searches already
see the writes, and it never fails a run: after ``timeout`` seconds it warns and lets the run end.
Creates are not settled here: a run waits for its own new object in the search of its name when it
decides whether it keeps it (identity.settled_view).
"""

from __future__ import annotations

import functools

ML = "_plugins/_ml"
# the kinds found by a search of their name, and their REST paths
PATHS = {"connector": "connectors", "model": "models", "model_group": "model_groups"}
# the writes that change an existing object in place (or remove it)
IN_PLACE = ("update", "rename", "deploy", "undeploy", "delete")
TIMEOUT = 20.0


def touches(step):
    """True when ``step`` changes (or deletes) an existing object that later runs look up by a search."""
    return step.kind in PATHS and step.operation in IN_PLACE and bool(step.id)


def settle(context, timeout=TIMEOUT):
    """Wait until the searches of each kind show what the run changed as it now is; True when they do."""
    for kind, ids in sorted(context.touched.items()):
        if not ids:
            continue
        path = PATHS[kind]
        ids = sorted(ids)
        try:
            wanted = {oid: context.client.get("%s/%s/%s" % (ML, path, oid), missing_ok=True) for oid in ids}
            probe = functools.partial(_shown, context.client, path, wanted)
            context.wait_for("the searches of %ss to show this run's changes to %s" % (kind, ", ".join(ids)),
                             probe, timeout, initial=0.1, factor=1.5, max_interval=1.0)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a late refresh never fails the run
            warn = getattr(context.client, "_warn", None)
            if warn is not None:
                warn("the searches of %ss did not show this run's changes to %s (%s); a run started at once may "
                     "still see them as they were" % (kind, ", ".join(ids), exc))
            return False
    return True


def _shown(client, path, wanted):
    """True when a search by ID shows every object of ``wanted`` (ID -> its GET answer) as it is, else None."""
    ids = sorted(wanted)
    hits = client.search("%s/%s/_search" % (ML, path), {"terms": {"_id": ids}}, size=len(ids))
    shown = {hit["_id"]: hit["_source"] for hit in hits}
    return True if all(_same(wanted[oid], shown.get(oid)) for oid in ids) else None


def _same(document, source):
    """A search's ``_source`` shows ``document`` (a GET's answer, None when it is gone): every field both have is
    equal (a GET of a connector or a model answers the stored document, as the search does; compared field by
    field so that a field one of them leaves out plays no part)."""
    if not isinstance(document, dict):
        return source is None
    if not isinstance(source, dict):
        return False
    return all(source[key] == value for key, value in document.items() if key in source)
