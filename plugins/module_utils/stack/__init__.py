# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack, the top layer: one call for a whole ML stack (ml_stack), its teardown (ml_stack_teardown),
export of what a cluster holds (export), the read-only info of connectors and models (info) and the
check of predict answers (verify).

It may import every package below it; nothing in module_utils imports it.
"""
