"""CURL-Rainbow through main.py: train, resume, export and evaluate Pong.

configs/atari/smoke.py's 300 agent steps, run as a user runs them. Slow (a
minute or two): it trains, compiles and plays whole evaluation games.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(REPO_ROOT, 'main.py')
SMOKE = os.path.join(REPO_ROOT, 'configs', 'atari', 'smoke.py')


@pytest.mark.slow
class AtariMainTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.root)
    self.workdir = os.path.join(self.root, 'pong')

  def _main(self, *args):
    result = subprocess.run(
        [sys.executable, MAIN, *args], cwd=self.root, capture_output=True,
        text=True, check=False, timeout=900)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    return result

  def _eval_rows(self):
    with open(os.path.join(self.workdir, 'eval.csv')) as f:
      return list(csv.DictReader(f))

  def test_train_resume_export_and_evaluate(self):
    result = self._main(f'--config={SMOKE}', f'--workdir={self.workdir}')
    # The budget line names frames and agent steps.
    self.assertStartsWith(result.stdout.splitlines()[0],
                          'Atari pong: 1200 frames = 300 agent steps')
    rows = self._eval_rows()
    self.assertEqual([(r['env_step'], r['agent_step']) for r in rows],
                     [('0', '0'), ('600', '150'), ('1200', '300')])
    for row in rows:
      # Whole games of Pong end at 21 points: scores in [-21, 21], raw.
      self.assertBetween(float(row['return_mean']), -21.0, 21.0)
    with open(os.path.join(self.workdir, 'policy', 'policy_info.json')) as f:
      info = json.load(f)
    self.assertEqual((info['agent'], info['game'], info['env_step']),
                     ('rainbow', 'pong', 1200))
    self.assertEqual(info['observation_shape'], [84, 84, 4])
    # 200 updates from agent step 100.
    self.assertEqual(info['train_step'], 200)

    # Extending the budget resumes from the checkpoint at 1200 frames.
    result = self._main(f'--config={SMOKE}', f'--workdir={self.workdir}',
                        '--config.num_env_steps=2400')
    self.assertIn('resuming from env step 1200', result.stderr)
    self.assertRegex(result.stderr, r'replay: \d+ transitions restored')
    rows = self._eval_rows()
    self.assertEqual([r['env_step'] for r in rows],
                     ['0', '600', '1200', '1800', '2400'])
    with open(os.path.join(self.workdir, 'policy', 'policy_info.json')) as f:
      self.assertEqual(json.load(f)['train_step'], 500)

    # The exported greedy policy plays whole games through --mode=eval.
    result = self._main('--mode=eval', f'--workdir={self.workdir}',
                        '--num_episodes=1')
    self.assertIn('policy @ env_step 2400: return', result.stdout)
    self.assertTrue(os.path.exists(
        os.path.join(self.workdir, 'videos', 'eval_2400.mp4')))


if __name__ == '__main__':
  absltest.main()
