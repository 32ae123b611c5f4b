"""A run of a few minutes on 2 CPU cores: checks the pipeline, not learning.

Cartpole swingup (action repeat 8) with a small batch and budget: 4000 env
steps = 500 agent steps, the first 100 random, evaluated (2 episodes) at 0,
2000 and 4000 env steps.

Run: python main.py --config=configs/smoke.py --workdir=/tmp/curl_smoke
"""

import os
import runpy

# config_flags loads this file by path, where `configs` is no package; load
# default.py by path too, so this works from any directory and entry point.
_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'default.py')


def get_config():
  """Returns the default (cartpole swingup) config on a tiny budget."""
  config = runpy.run_path(_DEFAULT)['get_config']()
  config.batch_size = 32
  config.num_random_agent_steps = 100
  config.num_env_steps = 4000
  config.eval_every_env_steps = 2000
  config.checkpoint_every_env_steps = 2000
  config.num_eval_episodes = 2
  config.log_every_env_steps = 400
  config.replay_capacity = 10_000
  return config
