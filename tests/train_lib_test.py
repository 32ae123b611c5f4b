"""Integration: the real entry point on a tiny budget, and what it wrote."""

import collections
from concurrent import futures
import csv
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy
from tf_agents.trajectories import time_step as ts

from configs import default
from curl_tf import augmentations
from curl_tf import collector as collector_lib
from curl_tf import run_logs
from curl_tf import train_lib

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scalar_tags(workdir):
  tags = set()
  for path in glob.glob(os.path.join(workdir, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.add(value.tag)
  return tags


@pytest.mark.slow
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


class _InlineExecutor:
  """Runs each submitted call at once, on the calling thread.

  Stands in for the loop's one-thread collector pool so that the order of
  env steps and updates is fixed: the collector step of agent step k is done
  when update k starts. (With the thread, it may or may not be.)
  """

  def __init__(self, *unused_args, **unused_kwargs):
    pass

  def submit(self, fn, *args):
    future = futures.Future()
    future.set_result(fn(*args))
    return future

  def shutdown(self, wait=True):
    del wait


class LoopScheduleTest(tf.test.TestCase):
  """Counts what train_and_evaluate calls, and when."""

  def test_updates_after_random_steps_one_per_agent_step_greedy_eval(self):
    config = default.get_config()  # cartpole swingup, 100x100, repeat 8.
    # The greedy action is compared with tanh(mean) to float32 round-off.
    config.precision = 'float32'
    config.num_env_steps = 480  # 60 agent steps.
    config.num_random_agent_steps = 20
    config.eval_every_env_steps = 240  # At env steps 0, 240 and 480.
    config.num_eval_episodes = 1
    config.log_every_env_steps = 240
    config.batch_size = 8
    config.replay_capacity = 1000
    num_agent_steps, num_random = 60, 20
    episode_agent_steps = 1000 // 8

    collectors, agents = [], []
    train_calls = []  # Collector steps done when each update starts.
    evaluations = []  # (policy, collect-policy calls before, after).

    class CountingCollector(collector_lib.Collector):

      def __init__(self, *args):
        super().__init__(*args)
        self.num_steps = 0
        collectors.append(self)

      def step(self, action):
        self.num_steps += 1
        return super().step(action)

    policy_calls = collections.Counter()  # Wrapped TF policy -> calls.
    real_action = py_tf_eager_policy.PyTFEagerPolicy._action

    def counting_action(py_policy, *args, **kwargs):
      # PyTFEagerPolicy keeps the TF policy it runs as `_policy`.
      policy_calls[py_policy._policy] += 1
      return real_action(py_policy, *args, **kwargs)

    def make_agent(*args):
      agent = real_make_agent(*args)
      real_train = agent.train

      def train(batch):
        train_calls.append(collectors[0].num_steps)
        return real_train(batch)

      agent.train = train
      agents.append(agent)
      return agent

    def evaluate(env, policy, num_episodes):
      collect_policy = agents[0].collect_policy
      before = policy_calls[collect_policy]
      returns = real_evaluate(env, policy, num_episodes)
      evaluations.append((policy._policy, before,
                          policy_calls[collect_policy]))
      return returns

    real_make_agent, real_evaluate = train_lib.make_agent, train_lib.evaluate
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    with mock.patch.object(train_lib, 'make_agent', make_agent), \
        mock.patch.object(train_lib, 'evaluate', evaluate), \
        mock.patch.object(train_lib.collector_lib, 'Collector',
                          CountingCollector), \
        mock.patch.object(py_tf_eager_policy.PyTFEagerPolicy, '_action',
                          counting_action), \
        mock.patch.object(train_lib.futures, 'ThreadPoolExecutor',
                          _InlineExecutor):
      train_lib.train_and_evaluate(config, workdir)

    # No update during the random steps, then one per agent step, each
    # after that step's env step.
    self.assertEqual(train_calls,
                     list(range(num_random + 1, num_agent_steps + 1)))
    self.assertEqual(collectors[0].num_steps, num_agent_steps)
    agent = agents[0]
    self.assertEqual(int(agent.train_step_counter),
                     num_agent_steps - num_random)
    # The collect policy acts once per non-random agent step, never in an
    # evaluation; the greedy policy acts in every evaluation step.
    self.assertEqual(policy_calls[agent.collect_policy],
                     num_agent_steps - num_random)
    self.assertLen(evaluations, 3)
    for policy, before, after in evaluations:
      self.assertIs(policy, agent.eval_policy)
      self.assertEqual(before, after)
    self.assertEqual(policy_calls[agent.eval_policy], 3 * episode_agent_steps)

    # The greedy action on a full 100x100 frame: tanh of the mean on the
    # centre 84x84 crop (official code: centre crop at evaluation).
    frame = np.random.default_rng(0).integers(0, 256, (100, 100, 9),
                                              np.uint8)
    # As the loop wraps it: one unbatched time step in, one action out.
    action = py_tf_eager_policy.PyTFEagerPolicy(agent.eval_policy).action(
        ts.restart(frame)).action
    nets = agent.networks
    mean, _ = nets.actor.mean_and_log_std(nets.actor.conv_features(
        augmentations.center_crop(tf.constant(frame[None]), 84)))
    self.assertAllClose(action, np.tanh(mean.numpy()[0]), atol=1e-6)
    with open(os.path.join(workdir, 'eval.csv')) as f:
      self.assertEqual([int(r['env_step']) for r in csv.DictReader(f)],
                       [0, 240, 480])


class RandomPolicyReturnsTest(tf.test.TestCase):
  """The learning tests' baseline: seeded, on the evaluation env."""

  def _config(self, seed):
    config = default.get_config()
    config.image_size, config.crop_size = 32, 28
    config.seed = seed
    return config

  def test_repeats_with_its_seed_and_acts_at_random(self):
    first = train_lib.random_policy_returns(self._config(1), 2)
    self.assertLen(first, 2)
    self.assertEqual(train_lib.random_policy_returns(self._config(1), 2),
                     first)
    # Another seed draws other actions: cartpole's returns are continuous.
    self.assertNotEqual(train_lib.random_policy_returns(self._config(2), 2),
                        first)
    # Two episodes of one random policy differ too.
    self.assertNotEqual(first[0], first[1])


class ProgressTest(tf.test.TestCase):

  def test_line_reports_rate_eta_and_last_eval(self):
    progress = run_logs.Progress(num_env_steps=10_000)
    progress.last_eval = '123.4 @ 2000'
    # 2,500 env steps left at 50 env steps/s: 50 s.
    self.assertEqual(
        progress.line(7500, 50.0),
        'env_step 7500/10000 (75.0%) | 50.0 env steps/s | ETA 00:00:50 | '
        'last eval 123.4 @ 2000')


if __name__ == '__main__':
  tf.test.main()
