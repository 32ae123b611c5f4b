"""Tests for curl_tf.envs and its dmc module.

Specs, frame stacking, action repeat, time steps.
"""

import os
import re
import subprocess
import sys
import textwrap
from unittest import mock

os.environ.setdefault('MUJOCO_GL', 'egl')

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl.testing import absltest
from dm_control import suite
import dm_env
from dm_env import specs
import ml_collections
import numpy as np
import pytest
from tf_agents.trajectories import time_step as ts

from curl_tf import envs
from curl_tf.envs import dmc
# pylint: enable=g-import-not-at-top,wrong-import-position

SEED = 3


def _cartpole(action_repeat=4, frame_stack=3, image_size=100, seed=SEED):
  return dmc.DmControlPixelEnv(
      'cartpole', 'swingup', seed=seed, action_repeat=action_repeat,
      frame_stack=frame_stack, image_size=image_size, camera_id=0)


class NewestFrameTest(absltest.TestCase):

  def test_returns_last_three_channels(self):
    # Frames 0, 1, 2 filled with their index: the newest frame is all 2s.
    observation = np.repeat(np.arange(3, dtype=np.uint8), 3)[None, None, :]
    np.testing.assert_array_equal(dmc.newest_frame(observation), [[[2, 2, 2]]])


class SpecsTest(absltest.TestCase):

  def test_specs_and_time_step_dtypes(self):
    env = _cartpole()
    self.assertEqual(env.observation_spec().shape, (100, 100, 9))
    self.assertEqual(env.observation_spec().dtype, np.uint8)
    self.assertEqual(env.action_spec().shape, (1,))
    self.assertEqual(env.action_spec().dtype, np.float32)
    np.testing.assert_array_equal(env.action_spec().minimum, [-1.0])
    np.testing.assert_array_equal(env.action_spec().maximum, [1.0])
    first = env.reset()
    self.assertEqual(first.step_type, ts.StepType.FIRST)
    self.assertEqual(first.observation.dtype, np.uint8)
    self.assertEqual(first.observation.shape, (100, 100, 9))
    step = env.step(np.array([0.5], np.float32))
    self.assertEqual(step.step_type, ts.StepType.MID)
    self.assertEqual(step.reward.dtype, np.float32)
    self.assertEqual(step.discount.dtype, np.float32)
    self.assertEqual(step.discount, 1.0)

  def test_make_environment_reads_config(self):
    config = ml_collections.ConfigDict(dict(
        observation='pixels', domain_name='ball_in_cup', task_name='catch',
        action_repeat=2,
        frame_stack=2, image_size=64, camera_id=1))
    env = envs.make_environment(config, seed=SEED)
    self.assertEqual(env.observation_spec().shape, (64, 64, 6))
    self.assertEqual(env.action_spec().shape, (2,))
    self.assertEqual(env.action_repeat, 2)
    raw = suite.load('ball_in_cup', 'catch', task_kwargs={'random': SEED})
    raw.reset()
    np.testing.assert_array_equal(
        dmc.newest_frame(env.reset().observation),
        raw.physics.render(height=64, width=64, camera_id=1))

  def test_rejects_zero_action_repeat(self):
    with self.assertRaisesRegex(ValueError, 'action_repeat'):
      _cartpole(action_repeat=0)


class FrameStackTest(absltest.TestCase):

  def test_reset_repeats_first_frame(self):
    observation = _cartpole().reset().observation
    for i in (1, 2):
      np.testing.assert_array_equal(observation[..., 3 * i:3 * i + 3],
                                    observation[..., :3])

  def test_stack_shifts_oldest_first(self):
    env = _cartpole()
    previous = env.reset().observation
    for _ in range(3):
      current = env.step(np.array([1.0], np.float32)).observation
      # Frame i of step t+1 is frame i+1 of step t.
      np.testing.assert_array_equal(current[..., 0:6], previous[..., 3:9])
      # The cart moved, so the new frame is a new picture.
      self.assertFalse(np.array_equal(current[..., 6:9], previous[..., 6:9]))
      previous = current


class ActionRepeatTest(absltest.TestCase):

  def test_matches_raw_dm_control(self):
    action_repeat = 4
    env = _cartpole(action_repeat=action_repeat)
    raw = suite.load('cartpole', 'swingup', task_kwargs={'random': SEED})
    env.reset()
    raw.reset()
    actions = [0.9, -0.4, 0.1, 1.0, -1.0]
    for a in actions:
      step = env.step(np.array([a], np.float32))
      expected_reward = sum(
          raw.step(np.array([a])).reward for _ in range(action_repeat))
      np.testing.assert_allclose(step.reward, expected_reward, rtol=1e-6)
      # One frame, rendered after the last repeated physics step.
      np.testing.assert_array_equal(
          dmc.newest_frame(step.observation),
          raw.physics.render(height=100, width=100, camera_id=0))

  def test_episode_length_and_time_limit(self):
    env = _cartpole(action_repeat=4, image_size=16)
    step = env.reset()
    steps = 0
    while not step.is_last():
      step = env.step(np.array([0.0], np.float32))
      steps += 1
      if not step.is_last():
        self.assertEqual(step.step_type, ts.StepType.MID)
    # dm_control's cartpole episode: 1000 env steps = 250 agent steps of 4.
    self.assertEqual(steps, 250)
    self.assertEqual(step.step_type, ts.StepType.LAST)
    # The time limit is a truncation: discount 1, so the learner bootstraps.
    self.assertEqual(step.discount, 1.0)
    # Stepping after LAST starts a new episode.
    self.assertEqual(env.step(np.array([0.0], np.float32)).step_type,
                     ts.StepType.FIRST)


class SeedTest(absltest.TestCase):

  def test_same_seed_same_start_other_seed_other_start(self):
    first = _cartpole(seed=7).reset().observation
    np.testing.assert_array_equal(_cartpole(seed=7).reset().observation, first)
    self.assertFalse(
        np.array_equal(_cartpole(seed=8).reset().observation, first))


class _ScriptedDmEnv:
  """Replays scripted dm_env time steps; renders the step count as a frame."""

  def __init__(self, steps):
    self._steps = steps
    self.num_steps = 0
    self.physics = mock.Mock()
    self.physics.render.side_effect = lambda **kw: np.full(
        (kw['height'], kw['width'], 3), self.num_steps, np.uint8)

  def action_spec(self):
    return specs.BoundedArray((1,), np.float64, -1.0, 1.0)

  def reset(self):
    self.num_steps = 0
    return dm_env.restart(None)

  def step(self, action):
    del action
    self.num_steps += 1
    return self._steps[self.num_steps - 1]

  def close(self):
    pass


class TimeStepMappingTest(absltest.TestCase):
  """dm_control's own tasks never terminate; scripted steps cover the rest."""

  def _env(self, dm_steps, action_repeat):
    scripted = _ScriptedDmEnv(dm_steps)
    with mock.patch.object(dmc.suite, 'load', return_value=scripted):
      env = dmc.DmControlPixelEnv(
          'fake', 'task', seed=0, action_repeat=action_repeat, frame_stack=2,
          image_size=4)
    return env, scripted

  def test_termination_inside_a_repeat(self):
    env, scripted = self._env(
        [dm_env.transition(1.0, None), dm_env.transition(2.0, None),
         dm_env.termination(4.0, None)], action_repeat=4)
    env.reset()
    step = env.step(np.zeros(1, np.float32))
    self.assertEqual(step.step_type, ts.StepType.LAST)
    self.assertEqual(step.discount, 0.0)
    self.assertEqual(step.reward, 7.0)  # 1 + 2 + 4: the repeat stops at 3.
    self.assertEqual(scripted.num_steps, 3)
    # Newest frame rendered after 3 physics steps, the older one at reset.
    np.testing.assert_array_equal(step.observation[0, 0], [0, 0, 0, 3, 3, 3])

  def test_truncation_keeps_dm_discount(self):
    env, _ = self._env(
        [dm_env.transition(1.0, None), dm_env.truncation(1.0, None)],
        action_repeat=1)
    env.reset()
    self.assertEqual(env.step(np.zeros(1, np.float32)).step_type,
                     ts.StepType.MID)
    step = env.step(np.zeros(1, np.float32))
    self.assertEqual(step.step_type, ts.StepType.LAST)
    self.assertEqual(step.discount, 1.0)


@pytest.mark.slow
class CloseTest(absltest.TestCase):
  """An env that rendered on a worker thread must be closed on that thread."""

  _SCRIPT = textwrap.dedent("""
      import os, sys
      os.environ['MUJOCO_GL'] = 'egl'
      from concurrent import futures
      from curl_tf.envs import dmc
      env = dmc.DmControlPixelEnv('cartpole', 'swingup', seed=0,
                                   action_repeat=8, frame_stack=3,
                                   image_size=100)
      worker = futures.ThreadPoolExecutor(1)
      worker.submit(env.reset).result()
      if sys.argv[1] == 'close':
        worker.submit(env.close).result()
      worker.shutdown()
      """)

  def _exit_stderr_lines(self, mode):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, '-c', self._SCRIPT, mode], cwd=repo,
        env=dict(os.environ, PYTHONPATH=repo), capture_output=True, text=True,
        check=False, timeout=120)
    self.assertEqual(result.returncode, 0, result.stderr)
    # Without TensorFlow's timestamps, so that the two runs compare.
    return [re.sub(r'^\d{4}-\d\d-\d\d [\d:.]+: ', '', line)
            for line in result.stderr.splitlines() if line.strip()]

  def test_close_on_the_rendering_thread_leaves_nothing_to_fail_at_exit(self):
    closed = self._exit_stderr_lines('close')
    leaked = self._exit_stderr_lines('leak')
    # Both print the same import-time lines (TensorFlow, gym). Left to the
    # garbage collector, the context is freed at exit from the wrong thread,
    # which prints errors (their wording is MuJoCo's and CPython's, so it is
    # not tested); close() on the rendering thread adds no line at all.
    self.assertNotEmpty(set(leaked) - set(closed))
    self.assertEmpty(set(closed) - set(leaked))

if __name__ == '__main__':
  absltest.main()
