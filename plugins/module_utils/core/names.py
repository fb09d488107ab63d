# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names and descriptions the collection gives the objects it makes for itself, in one place: the code that
makes them and the code that recognises them later (a teardown, the role's input checks) read the same values."""

from __future__ import annotations

# the description of a model group the collection registers for a model that names none
MANAGED_GROUP_DESCRIPTION = "Model group managed by polardb.polarsearch"

# the name of a connector set aside during a replace (made, then not used): ``SET_ASIDE_NAME % connector name``
SET_ASIDE_NAME = "%s (unused replacement)"


def set_aside_for(name):
    """The name of the connector a connector named ``name`` was set aside for (``name`` itself otherwise)."""
    suffix = SET_ASIDE_NAME % ""
    return name[:-len(suffix)] if name.endswith(suffix) else name


# the name of a connector a delete set aside because the server counted models of other connectors as its users
# (their IDs share an analyzed term with its ID): a later delete run removes it once the server allows
PENDING_DELETE_NAME = "%s (unused, deleted once the server allows)"
