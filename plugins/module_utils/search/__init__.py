# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Search objects: indices (index) and ingest and search pipelines (pipeline).

It may import model (one way: a pipeline names its models), core and transport.
"""
