"""The IDs OpenSearch makes (core.generated_ids), checked on IDs real nodes gave."""

from __future__ import annotations

import base64
import datetime

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.generated_ids import (
    created_ms,
    node_terms,
    split_stretch_left,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import id_terms
from fake_server import FakeServer


def utc(ms):
    return datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# Connector IDs a 3.6.0 node gave in one whole test run (the plain profile), in the order it made them (CI's
# failure messages of that run named them).
STRETCH = ["vg_-SqIBGiC-XVXcC5ru", "vw_-SqIBGiC-XVXcEJpE", "wA_-SqIBGiC-XVXcFJqc", "2Q_-SqIBGiC-XVXcc5q1"]


def test_the_time_an_id_was_made_is_read_from_it():
    assert utc(created_ms("vg_-SqIBGiC-XVXcC5ru")) == "2026-12-06 10:54:52.910"
    assert utc(created_ms("Hed-SqIBviZJ-haTJGBq")) == "2026-12-06 08:35:10.570"   # 2.19.1
    assert utc(created_ms("e9GwSaIBXZM_9YTAuTN2")) == "2026-12-06 04:50:48.310"


@pytest.mark.parametrize("value", [None, "", "my-own-id", "vg_-SqIBGiC-XVXcC5r", "vg_-SqIBGiC-XVXcC5ru!"])
def test_an_id_of_another_shape_has_no_time(value):
    assert created_ms(value) is None
    assert split_stretch_left(value) is None


def test_ids_made_in_one_stretch_share_a_term_and_the_stretch_ends_with_its_65_second_step():
    terms = [id_terms(i) for i in STRETCH]
    assert set.intersection(*terms) == {"sqibgic"}
    # character 3 is '-' while bits 16-21 of the time are 62: until 10:55:55.392, whichever ID of the stretch
    ends = {created_ms(i) + round(split_stretch_left(i) * 1000) for i in STRETCH}
    assert {utc(ms) for ms in ends} == {"2026-12-06 10:55:55.392"}
    after = FakeServer.generated_id(max(ends), 1022700, "1a20be5d55dc")
    assert after[3] != "-" and not id_terms(after) & {"sqibgic"}
    before = FakeServer.generated_id(min(created_ms(i) for i in STRETCH) - 3100, 1022600, "1a20be5d55dc")
    assert not id_terms(before) & {"sqibgic"}


def test_a_dash_at_character_16_splits_for_a_second():
    # two real IDs of one node (2026-11-27) that share the term "amo" ('-' at character 16)
    assert split_stretch_left("A0zKG6IBdy9ujDy4-aMO") == pytest.approx(0.754)
    assert 0 < split_stretch_left("BUzKG6IBdy9ujDy4-aMo") <= 1.024


def test_an_id_split_by_no_character_of_the_time_has_no_stretch():
    assert split_stretch_left("e9GwSaIBXZM_9YTAuTN2") == 0


def test_the_fake_server_makes_ids_as_the_node_did():
    for real in STRETCH + ["Hed-SqIBviZJ-haTJGBq"]:
        raw = base64.urlsafe_b64decode(real + "=")
        sequence = raw[0] | (raw[13] << 8) | (raw[1] << 16)
        assert FakeServer.generated_id(created_ms(real), sequence, raw[6:12].hex()) == real


def test_a_term_between_two_dashes_of_the_node_part_is_the_nodes_own():
    # connector IDs a 3.6.0 node (its part "Hoe-cd6-") gave seconds apart: all share "cd6", at any time
    made = ["QE7DS6IBHoe-cd6-6H-v", "N07DS6IBHoe-cd6-1H9X", "SE7ES6IBHoe-cd6-BX9u"]
    assert set.intersection(*[id_terms(i) for i in made]) == {"cd6"}
    assert [node_terms(i) for i in made] == [{"cd6"}] * 3
    later = FakeServer.generated_id(created_ms(made[0]) + 3 * 3600 * 1000, 4242, "1e87be71debe")
    assert node_terms(later) == {"cd6"} and "cd6" in id_terms(later)


@pytest.mark.parametrize("value", STRETCH + ["Hed-SqIBviZJ-haTJGBq", "e9GwSaIBXZM_9YTAuTN2", "A0zKG6IBdy9ujDy4-aMO",
                                             "my-own-id", None])
def test_a_node_part_with_one_dash_or_none_has_no_term_of_its_own(value):
    assert node_terms(value) == set()
