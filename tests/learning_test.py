"""End to end: CURL-SAC learns cartpole swingup from pixels.

configs/learning_check.py trains for 80k env steps (9,000 updates at batch
128) on 32x32 renders, in the default precision: 'auto', so bfloat16 on a
CPU with AMX and float32 elsewhere; about 15 minutes either way on 2 cores
(at 28x28 crops the convolutions are a small share of the loop). The learned policy's evaluated return (mean action,
10 episodes; the mean of the evaluations at 64k and 80k env steps, so that
one unlucky evaluation does not decide) must clearly beat a uniform random
policy's on the evaluation env's own episodes. Reverb's sampler is not
seeded, so runs differ; the margin leaves room for that (see THRESHOLDS).
"""

import csv
import os
import shutil
import tempfile

from absl.testing import absltest
import numpy as np
import pytest
from tf_agents.policies import random_py_policy

from curl_tf import config_lib
from curl_tf import envs
from curl_tf import train_lib

_CONFIG = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'configs', 'learning_check.py')

# "Clearly beats": at least RANDOM_MULTIPLE times the random policy's mean
# return and at least MIN_MARGIN above it. On seed 1's evaluation episodes
# the random policy scores 153.8 +- 57.9 (10 episodes: standard error 18.3),
# so the bar is 215, 3.4 standard errors above it.
#
# Runs on 2026-11-21, evaluations every 8k env steps from 0, and [random
# policy on the same evaluation env]. At the earlier 56k budget, mean of the
# evaluations at 48k and 56k:
#   seed 1: 26, 26, 220, 7, 86, 208, 271, 263 -> 267, 1.74x [153.8]
#   seed 1 (CI run): 183 @48k, 249 @56k -> 216, 1.41x, too close to the bar,
#     hence the 80k budget
#   seed 2: 1, 1, 2, 148, 308, 228, 294, 315 -> 304, 2.43x [125.2]
#   seed 3: 1, 0, 156, 131, 223, 244, 339, 404 -> 371, 2.56x [144.8]
# At 80k, seed 1 twice (mean of the evaluations at 64k and 80k):
#   26, 26, 48, 101, 198, 293, 288, 307, 322, 362, 451 -> 387, 2.51x
#   26, 26, 58, 195, 259, 246, 319, 351, 461, 639, 541 -> 501, 3.26x
# In mixed_bfloat16 (2026-11-23), seeds 1, 2, 3: 339, 365, 350; float32
# the same day: 278, 434, 256 (README, Precision). Seed 1 in bfloat16 in the
# full suite: 25, 16, 135, 138, 236 @64k and the 80k evaluation: passed.
# (The paper's CURL scores 582 +- 146 at 100k env steps, at 84x84.)
RANDOM_MULTIPLE = 1.4
MIN_MARGIN = 50.0


@pytest.mark.slow
class LearningTest(absltest.TestCase):

  def test_learned_policy_clearly_beats_a_random_policy(self):
    config = config_lib.load_config_file(_CONFIG)
    config_lib.validate_config(config)
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    train_lib.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, 'eval.csv'), newline='') as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([int(row['env_step']) for row in rows],
                     list(range(0, 80_001, 16_000)))
    learned = np.mean([float(row['return_mean']) for row in rows[-2:]])

    # The random policy on the evaluation env's first episodes (the ones
    # the step-0 evaluation saw).
    env = envs.make_environment(config, seed=train_lib.eval_env_seed(config))
    policy = random_py_policy.RandomPyPolicy(
        env.time_step_spec(), env.action_spec(), seed=config.seed)
    random_returns = train_lib.evaluate(env, policy, config.num_eval_episodes)
    env.close()
    random_mean = float(np.mean(random_returns))
    summary = (f'learned {learned:.1f} (evaluations at 0, 16k, ..., 80k env '
               f'steps: {", ".join(row["return_mean"][:6] for row in rows)}); '
               f'random {random_mean:.1f} +- {np.std(random_returns):.1f}')
    print(summary)  # Shown with pytest -s.
    self.assertGreaterEqual(learned, RANDOM_MULTIPLE * random_mean, summary)
    self.assertGreaterEqual(learned - random_mean, MIN_MARGIN, summary)


if __name__ == '__main__':
  absltest.main()
