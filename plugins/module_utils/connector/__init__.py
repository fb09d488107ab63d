# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connector on its own: the server's rules for its fields (connector_rules), the record the
collection reads (connector_record), lookups by ID and name (connector_lookup), drift against the
options (connector_drift), create, update, rename and delete (connector_writes), and what a task asks
of one connector, read once from its options (connector_request).

It may import core and transport. Converging a connector (which may move, undeploy and redeploy its
models) is the converge package, one layer up.
"""
