"""Integration: the real entry point on a tiny budget, and what it wrote."""

import csv
import glob
import os
import subprocess
import sys
import tempfile

import tensorflow as tf

from curl_tf import train_lib

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scalar_tags(workdir):
  tags = set()
  for path in glob.glob(os.path.join(workdir, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.add(value.tag)
  return tags


class MainIntegrationTest(tf.test.TestCase):

  def test_main_trains_evaluates_and_logs(self):
    workdir = os.path.join(tempfile.mkdtemp(), 'run')
    result = subprocess.run(
        [sys.executable, 'main.py', '--config=configs/smoke.py',
         f'--workdir={workdir}',
         '--config.num_env_steps=1200',
         '--config.num_random_agent_steps=40',
         '--config.eval_every_env_steps=600',
         '--config.num_eval_episodes=1',
         '--config.log_every_env_steps=200',
         '--config.batch_size=16'],
        cwd=_REPO_ROOT, capture_output=True, text=True, timeout=600,
        check=False)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])

    with open(os.path.join(workdir, 'eval.csv')) as f:
      rows = list(csv.DictReader(f))
    # Evaluations at env step 0, every 600 env steps and at the end, counted
    # in environment steps (agent steps x action repeat 8). The budget holds
    # one whole training episode (1000 env steps).
    self.assertEqual([int(r['env_step']) for r in rows], [0, 600, 1200])
    self.assertEqual([int(r['agent_step']) for r in rows], [0, 75, 150])
    for row in rows:
      self.assertEqual(int(row['num_episodes']), 1)
      # A cartpole swingup episode scores within [0, 1000].
      self.assertBetween(float(row['return_mean']), 0.0, 1000.0)

    tags = _scalar_tags(workdir)
    for tag in ('train/critic_loss', 'train/actor_loss', 'train/alpha_loss',
                'train/curl_loss', 'train/curl_accuracy', 'train/alpha',
                'train/q1_mean', 'train/batch_reward', 'eval/return_mean',
                'perf/env_steps_per_s', 'train/episode_return'):
      self.assertIn(tag, tags)
    # The console shows progress in env steps, with rate, ETA and last eval.
    self.assertRegex(result.stderr,
                     r'env_step 1200/1200 \(100\.0%\) \| [\d.]+ env steps/s '
                     r'\| ETA 00:00:00 \| last eval [\d.]+ @ 600')


class ProgressTest(tf.test.TestCase):

  def test_line_reports_rate_eta_and_last_eval(self):
    progress = train_lib.Progress(num_env_steps=10_000)
    progress.last_eval = '123.4 @ 2000'
    # 2,500 env steps left at 50 env steps/s: 50 s.
    self.assertEqual(
        progress.line(7500, 50.0),
        'env_step 7500/10000 (75.0%) | 50.0 env steps/s | ETA 00:00:50 | '
        'last eval 123.4 @ 2000')


if __name__ == '__main__':
  tf.test.main()
