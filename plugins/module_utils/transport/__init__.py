# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transport, the bottom layer: the connection options (connection_spec), TLS, proxies and
authentication (connection), and the HTTP client with its retry policy and errors (client).

It imports nothing else of this collection; every other layer may import it.
"""
