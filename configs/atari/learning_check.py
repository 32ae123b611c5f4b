"""CURL-Rainbow on Road Runner for 10k agent steps: learning within CI's budget.

tests/atari_learning_test.py trains this config from main.py and checks that
the mean of its evaluations over the second half (5k to 10k agent steps)
clearly beats a uniform random policy's score.

Why Road Runner. 100k-step agents are far above random there (Table 2:
Data-Efficient Rainbow 9,600, its best human-normalised score of the 26 at
1.22, and CURL 6,786.7, against random's 11.5), and the reward comes at
once: each seed picked up running left is 100 points.
Measured here at this budget (2026-12-07, 3 evaluation games every 1,250
agent steps): seed 2 scored 0, 0, 967, 967, 1,000, 1,000, 900, 933, 1,167
(second-half mean 1,000); seed 1 0, 0, 0, 900, 1,200, 967, 700, 1,033, 933
(967) and, in the test, 0, 0, 833, 900, 200, 0, 300, 1,167, 200 (373).
Uniform random scores 0 in each of 10 evaluation games. Tried and not
chosen: Ms. Pac-Man (70 to 213 by 6,250 agent steps, below random's 307) and
Q*bert (stuck at 150, the best constant action's score, below random's 280).

What it does not show: at this budget the agents have learned to run left,
which holding LEFT does as well (1,400 points in one game; LEFTFIRE 1,500).
Beating the best fixed action takes dodging the coyote, and longer runs.

Run: python main.py --config=configs/atari/learning_check.py \
    --workdir=/tmp/atari_check
"""

import os
import runpy

_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'default.py')


def get_config():
  """Road Runner, 10k agent steps (40k frames), learning from step 1,600."""
  config = runpy.run_path(_DEFAULT)['get_config']('road_runner')
  config.num_env_steps = 40_000
  # Evaluations every 1,250 agent steps, 3 whole games each (Table 2's
  # protocol otherwise): the test averages the five from 5k agent steps on.
  config.eval_every_env_steps = 5_000
  config.num_eval_episodes = 3
  config.checkpoint_every_env_steps = 20_000
  config.log_every_env_steps = 2_000
  return config
