"""CURL on cheetah run, a Table 1 environment, with Table 3's settings.

Run: python main.py --config=configs/cheetah_run.py --workdir=/tmp/curl
"""

import os
import runpy

# config_flags loads this file by path, where `configs` is no package; load
# default.py by path too, so this works from any directory and entry point.
_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'default.py')


def get_config():
  """Returns the default config with Table 3 settings for cheetah run."""
  config = runpy.run_path(_DEFAULT)['get_config']()
  config.domain_name = 'cheetah'
  config.task_name = 'run'
  # Table 3: action repeat 4 for cheetah run.
  config.action_repeat = 4
  # Table 3: learning rate 2e-4 for cheetah run (1e-3 elsewhere) for the
  # encoder, actor and critic; alpha keeps 1e-4.
  config.critic_lr = 2e-4
  config.actor_lr = 2e-4
  config.encoder_lr = 2e-4
  # The paper's 500k column; its 100k column is the same run's evaluation
  # at 100k env steps.
  config.num_env_steps = 500_000
  return config
