# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_ml_stack_apply: the ml_stack role's steps in one task (see plugin_utils/ml_stack_apply.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_apply import (
    MODULE,
    apply,
    argument_spec,
    input_problems,
    problems_result,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # Short messages, one per bad option, naming the role's variable; then Ansible's own validation.
        problems = input_problems(self._task.args)
        if problems:
            result.update(problems_result(problems))
            return result
        _validated, args = self.validate_argument_spec(argument_spec=argument_spec())

        def execute(module_args):
            return self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)

        try:
            result.update(apply(args, execute, bool(self._play_context.check_mode)))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
