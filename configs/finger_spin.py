"""CURL on finger spin, a Table 1 environment, with Table 3's settings.

Run: python main.py --config=configs/finger_spin.py --workdir=/tmp/curl
"""

import os
import runpy

# config_flags loads this file by path, where `configs` is no package; load
# default.py by path too, so this works from any directory and entry point.
_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'default.py')


def get_config():
  """Returns the default config with Table 3 settings for finger spin."""
  config = runpy.run_path(_DEFAULT)['get_config']()
  config.domain_name = 'finger'
  config.task_name = 'spin'
  # Table 3: action repeat 2 for finger spin.
  config.action_repeat = 2
  # The paper's 500k column; its 100k column is the same run's evaluation
  # at 100k env steps.
  config.num_env_steps = 500_000
  return config
