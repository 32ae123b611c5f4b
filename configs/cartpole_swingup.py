"""CURL on cartpole swingup, a Table 1 environment, with Table 3's settings.

Run: python main.py --config=configs/cartpole_swingup.py --workdir=/tmp/curl
"""

import os
import runpy

# config_flags loads this file by path, where `configs` is no package; load
# default.py by path too, so this works from any directory and entry point.
_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'default.py')


def get_config():
  """Returns the default config with Table 3 settings for cartpole swingup."""
  config = runpy.run_path(_DEFAULT)['get_config']()
  config.domain_name = 'cartpole'
  config.task_name = 'swingup'
  # Table 3: action repeat 8 for cartpole swingup.
  config.action_repeat = 8
  # The paper's 500k column; its 100k column is the same run's evaluation
  # at 100k env steps.
  config.num_env_steps = 500_000
  return config
