# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Core, what every kind of object uses: the module wrapper, Context and ModuleFailure (common), planned
steps (plan), reserved names (names), the per-run read cache (snapshot), read-after-write visibility
(visibility), cluster settings (settings), version-dependent server rules (server_rules), the choice
among same-named objects (identity), credential fingerprints (fingerprint) and the option specs of the
modules (specs).

It may import transport only; never a kind package or the stack.
"""
