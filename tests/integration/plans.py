# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the structured ``plan`` a module returned, in the integration tests."""

from __future__ import annotations


def plan_text(result):
    """The structured plan a module returned, as text: "operation kind name (ID): fields"."""
    texts = []
    for step in result["plan"]:
        text = "%s %s %s" % (step["operation"], step["kind"].replace("_", " "), step["name"])
        text += " (%s)" % step["id"] if step["id"] else ""
        texts.append(text + (": " + ", ".join(step["fields"]) if step["fields"] else ""))
    return texts
