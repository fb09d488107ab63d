# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Models: the model itself (model), its fields (model_fields), model groups (model_group), the pipelines
and agents that reference a model (references), same-named copies made by runs of one stack
(stack_twins) and predict calls (predict).

It may import connector (one way: a model names its connector, so resolving that name and listing a
connector's models are connector lookups), core and transport.
"""
