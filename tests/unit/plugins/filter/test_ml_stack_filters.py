# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ml_stack_* filter plugins: each file offers the filter its documentation names."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

FILTERS = sorted(p.stem for p in (Path(__file__).resolve().parents[4] / "plugins" / "filter").glob("ml_stack_*.py"))


@pytest.mark.parametrize("name", FILTERS)
def test_each_file_offers_the_documented_filter(name):
    plugin = importlib.import_module("ansible_collections.polardb.polarsearch.plugins.filter." + name)
    documentation = yaml.safe_load(plugin.DOCUMENTATION)
    assert documentation["name"] == name
    filters = plugin.FilterModule().filters()
    assert list(filters) == [name] and callable(filters[name])
    positional = [p.strip() for p in documentation["positional"].split(",")]
    assert set(positional) <= set(documentation["options"])
