# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging a connector, which may change the models that use it: ensure_connector (connector),
replacing a connector under its models and setting aside or deleting the old one (connector_replace),
and the server's in-use checks that decide whether a connector may be updated or deleted (in_use).

It may import model and connector (it moves, undeploys and redeploys the models of a connector), core
and transport; nothing below imports it.
"""
