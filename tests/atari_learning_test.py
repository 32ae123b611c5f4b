"""End to end: CURL-Rainbow learns Road Runner within CI's budget.

configs/atari/learning_check.py (its docstring says why Road Runner, and what
was measured) trains from main.py for 10k agent steps, evaluating 3 games
every 1,250 agent steps. The learned score is the mean of the five
evaluations from 5k agent steps on: several checkpoints, so that one greedy
policy that stands still does not decide. It must clearly beat a uniform
random policy's mean on the same evaluation games.

At this budget the agent learns to run left, and holding LEFT scores about
as much (see the config), so beating every fixed action is not asked.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np
import pytest

from curl_tf import config_lib
from curl_tf import results
from curl_tf import train_lib

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CONFIG = os.path.join(_REPO, 'configs', 'atari', 'learning_check.py')
# 9 minutes 12 s with two other training runs sharing the 2 cores of an AMD
# EPYC (2026-12-07); past this the run is stopped and the test fails.
TIMEOUT_S = 20 * 60
RANDOM_EPISODES = 10
# "Clearly beats": at least RANDOM_MULTIPLE times random's mean and MIN_MARGIN
# points above it. Uniform random scores 0 in all 10 of these games (11.5 in
# Table 2), as does the untrained agent; 150 over 15 games is 23 seeds picked
# up. Second-half means measured (2026-12-07, AMD EPYC, shared cores): 1,000
# (seed 2), 967 and 373 (seed 1, two runs: Reverb's sampling is not seeded,
# so runs do not repeat), and 400 in a seed-1 run evaluated every 2,500 agent
# steps (200, 0, 1,000). The greedy policy of a checkpoint sometimes stands
# still and scores 0, hence the mean over five checkpoints.
RANDOM_MULTIPLE = 2.0
MIN_MARGIN = 150.0


@pytest.mark.slow
class AtariLearningTest(absltest.TestCase):

  def test_learned_policy_clearly_beats_a_random_policy(self):
    config = config_lib.load_config_file(_CONFIG)
    config_lib.validate_config(config)
    workdir = os.path.join(tempfile.mkdtemp(), 'run')
    self.addCleanup(shutil.rmtree, os.path.dirname(workdir),
                    ignore_errors=True)
    try:
      result = subprocess.run(
          [sys.executable, os.path.join(_REPO, 'main.py'),
           f'--config={_CONFIG}', f'--workdir={workdir}'],
          cwd=_REPO, capture_output=True, text=True, timeout=TIMEOUT_S,
          check=False)
    except subprocess.TimeoutExpired:
      self.fail(f'the run took over {TIMEOUT_S} s')
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])

    run = results.read_run(workdir, 'atari', config.seed)
    frames_per_eval = config.eval_every_env_steps
    self.assertEqual([row.env_step for row in run.rows],
                     list(range(0, config.num_env_steps + 1,
                                frames_per_eval)))
    second_half = [row.return_mean for row in run.rows
                   if row.env_step >= config.num_env_steps // 2]
    learned = float(np.mean(second_half))
    random_mean = float(np.mean(train_lib.random_policy_returns(
        config, RANDOM_EPISODES)))
    summary = (f'{config.game}: learned {learned:.1f} (evaluations '
               f'{", ".join(f"{r.return_mean:.0f}" for r in run.rows)}); '
               f'random {random_mean:.1f}')
    print(summary)  # Shown with pytest -s.
    self.assertGreaterEqual(learned, RANDOM_MULTIPLE * random_mean, summary)
    self.assertGreaterEqual(learned - random_mean, MIN_MARGIN, summary)


if __name__ == '__main__':
  absltest.main()
