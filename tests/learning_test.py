"""End to end: CURL-SAC learns cartpole swingup from pixels, over two seeds.

configs/learning_check.py trains for 80k env steps (9,000 updates at batch
128) on 32x32 renders, in the default precision ('auto': bfloat16 on a CPU
with AMX, float32 elsewhere). Seeds 1 and 2 run at once through the sweep,
each pinned to a core of its own (`--cpus`): about 20 minutes for both on 2
cores of an Intel Xeon with AMX, against about 14 for one seed with both
cores; about 43 minutes on an AMD EPYC, in float32.

A learned policy's score is the mean of its evaluations at 64k and 80k env
steps (mean action, 10 episodes each), so that one unlucky evaluation does
not decide. The mean of the two seeds' scores must clearly beat the mean
return of a uniform random policy on the same evaluation envs' episodes.

Why two seeds. Reverb's sampler is not seeded, so no run repeats exactly,
and one seed-1 run in the eight on record failed: CI's run of 2026-11-23 scored
98 (evaluations 26, 145, 29, 95, 20, 177 at 0, 16k, ..., 80k) against a bar
of 215, while every other seed-1 run on record scored 216 to 501 (THRESHOLDS
below). A broken agent fails on both seeds; an unlucky one is averaged with
the other.
"""

import os
import shutil
import signal
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
_CONFIG = os.path.join(_REPO, 'configs', 'learning_check.py')
SEEDS = (1, 2)
# Both seeds at once take about 20 minutes on 2 cores of an Intel Xeon with
# AMX (bfloat16), one after the other about 28. On an AMD EPYC (AVX2, so
# float32) the pinned pair runs at about 32 env steps/s each while learning:
# about 43 minutes (measured 2026-12-07). Past this the runs are stopped and
# the test fails.
TIMEOUT_S = 60 * 60

# "Clearly beats": at least RANDOM_MULTIPLE times the random policy's mean
# return and at least MIN_MARGIN above it. The random policy scores 153.8 +-
# 57.9 on seed 1's evaluation episodes and 125.2 on seed 2's (10 episodes
# each), so the bar is 1.4 x 139.5 = 195.
#
# THRESHOLDS: learned scores (mean of the 64k and 80k evaluations) on record.
#   seed 1: 387, 501 (float32, 2026-11-21); 339 (bf16), 278 (float32);
#     in CI's full suite 236 (passed), then 98 (failed, 2026-11-23)
#   seed 2: 365 (bf16), 434 (float32)
#   seed 3: 350 (bf16), 256 (float32)
#   Pinned one core each (this test's setting, bf16, 2026-11-23): seed 1
#     235.5 (26, 74, 177, 246, 219, 252), seed 2 351.7 (1, 75, 180, 247,
#     305, 398): mean 293.6, 1.5x the bar.
# (The paper's CURL scores 582 +- 146 at 100k env steps, at 84x84.)
RANDOM_MULTIPLE = 1.4
MIN_MARGIN = 50.0


def _random_policy_mean(config, seed: int) -> float:
  """Mean return of a uniform random policy on `seed`'s evaluation env."""
  config = config.copy_and_resolve_references()
  config.seed = seed
  return float(np.mean(train_lib.random_policy_returns(
      config, config.num_eval_episodes)))


def _sweep_args(root: str):
  args = [sys.executable, '-m', 'curl_tf.sweep', f'--configs={_CONFIG}',
          f'--seeds={",".join(map(str, SEEDS))}', f'--root={root}']
  cpus = sorted(os.sched_getaffinity(0))
  if len(cpus) >= len(SEEDS):
    args.append(f'--cpus={",".join(map(str, cpus[:len(SEEDS)]))}')
  return args


@pytest.mark.slow
class LearningTest(absltest.TestCase):

  def test_learned_policies_clearly_beat_a_random_policy(self):
    config = config_lib.load_config_file(_CONFIG)
    config_lib.validate_config(config)
    root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, root, ignore_errors=True)
    sweep = subprocess.Popen(_sweep_args(root), cwd=_REPO,
                             env=dict(os.environ, MUJOCO_GL='egl'),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
      output, _ = sweep.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
      # The sweep passes SIGTERM on; the runs checkpoint and stop.
      sweep.send_signal(signal.SIGTERM)
      output, _ = sweep.communicate(timeout=300)
      self.fail(f'the runs took over {TIMEOUT_S} s:\n{output[-2000:]}')
    self.assertEqual(sweep.returncode, 0, output[-3000:])

    runs = results.find_runs(root)['learning_check']
    self.assertEqual([run.seed for run in runs], list(SEEDS))
    learned, random_means, lines = [], [], []
    for run in runs:
      self.assertEqual([row.env_step for row in run.rows],
                       list(range(0, 80_001, 16_000)), run.workdir)
      learned.append(np.mean([row.return_mean for row in run.rows[-2:]]))
      random_means.append(_random_policy_mean(config, run.seed))
      lines.append(
          f'seed {run.seed}: learned {learned[-1]:.1f} (evaluations at 0, '
          f'16k, ..., 80k: '
          f'{", ".join(f"{row.return_mean:.0f}" for row in run.rows)}); '
          f'random {random_means[-1]:.1f}')
    summary = '; '.join(lines)
    print(summary)  # Shown with pytest -s.
    learned_mean, random_mean = np.mean(learned), np.mean(random_means)
    self.assertGreaterEqual(learned_mean, RANDOM_MULTIPLE * random_mean,
                            summary)
    self.assertGreaterEqual(learned_mean - random_mean, MIN_MARGIN, summary)


if __name__ == '__main__':
  absltest.main()
