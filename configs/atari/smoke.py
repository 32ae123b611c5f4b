"""CURL-Rainbow on Pong for a few hundred agent steps: does the path run?

Every piece of a real run (environment, prioritised n-step replay, updates,
target copies, evaluation, export, checkpoints) on a tiny budget, for tests
and for trying an install. Learns nothing.

Run: python main.py --config=configs/atari/smoke.py --workdir=/tmp/atari_smoke
"""

import os
import runpy

_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'default.py')


def get_config():
  """Returns 300 agent steps of Pong, learning from step 100, batch 8."""
  config = runpy.run_path(_DEFAULT)['get_config']()
  config.game = 'pong'
  config.num_env_steps = 1_200
  config.learning_starts_agent_steps = 100
  config.eval_every_env_steps = 600
  # One whole evaluation game: Pong's last until a side scores 21.
  config.num_eval_episodes = 1
  config.log_every_env_steps = 400
  config.checkpoint_every_env_steps = 600
  config.replay_capacity = 1_000
  config.batch_size = 8
  config.multi_step = 3
  config.target_update_period = 50
  return config
