"""Tests for curl_tf.export: SavedModels that load anywhere, swapped safely.

Agents see 32x32 frames and 28x28 crops (configs/learning_check.py) where the
property does not depend on the size; the centre crop inside the saved graph
is tested at the default 100x100 frames and 84x84 crops.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.policies import policy_saver
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from configs import default
from configs import learning_check
from curl_tf.agents.sac import agent as agent_lib
from curl_tf import augmentations
from curl_tf import config_lib
from curl_tf import export
from curl_tf import train_lib

# Asymmetric bounds, so that in-bounds checks and the recorded bounds mean
# something (dm_control's are [-1, 1]).
_ACTION_MIN = [-1.0, -2.0]
_ACTION_MAX = [1.0, 0.5]

# Run in a fresh interpreter whose sys.path cannot reach curl_tf: it loads
# both exports with TensorFlow alone and saves their actions.
_CHILD = textwrap.dedent("""
    import collections
    import sys

    import numpy as np

    try:
      import curl_tf  # pylint: disable=unused-import
    except ImportError:
      pass
    else:
      raise AssertionError('curl_tf is importable: ' + curl_tf.__file__)
    import tensorflow as tf

    workdir, obs_path, out_path = sys.argv[1:]
    obs = np.load(obs_path)
    n = obs.shape[0]
    TimeStep = collections.namedtuple(
        'TimeStep', 'step_type reward discount observation')
    time_step = TimeStep(tf.zeros([n], tf.int32), tf.zeros([n]),
                         tf.ones([n]), tf.constant(obs))
    greedy = tf.saved_model.load(workdir + '/policy')
    collect = tf.saved_model.load(workdir + '/collect_policy')
    by_name = greedy.signatures['action'](**{
        '0/step_type': time_step.step_type, '0/reward': time_step.reward,
        '0/discount': time_step.discount,
        '0/observation': time_step.observation})['action']
    loaded = sorted(m.split('.')[0] for m in sys.modules
                    if m.split('.')[0] in ('tf_agents',
                                           'tensorflow_probability'))
    np.savez(out_path, greedy=greedy.action(time_step).action.numpy(),
             by_name=by_name.numpy(),
             collect_1=collect.action(time_step).action.numpy(),
             collect_2=collect.action(time_step).action.numpy(),
             loaded=np.array(sorted(set(loaded)), dtype=str))
""")


def _make_agent(config, minimum=_ACTION_MIN, maximum=_ACTION_MAX):
  train_lib.set_seeds(config.seed)
  obs_spec = tensor_spec.BoundedTensorSpec(
      [config.image_size, config.image_size, 3 * config.frame_stack],
      tf.uint8, 0, 255, 'pixels')
  action_spec = tensor_spec.BoundedTensorSpec(
      [len(minimum)], tf.float32, minimum, maximum, 'action')
  agent = agent_lib.CurlSacAgent(config, ts.time_step_spec(obs_spec),
                                 action_spec)
  agent.initialize()
  return agent


def _observations(config, batch_size=5, seed=0):
  """Smooth random frames (upsampled noise), like rendered scenes."""
  rng = np.random.default_rng(seed)
  small = rng.uniform(0, 255, (batch_size, 8, 8, 3 * config.frame_stack))
  size = config.image_size
  return tf.cast(tf.image.resize(small, (size, size)), tf.uint8).numpy()


def _actions(policy, obs):
  """Actions of a TF-Agents policy or a loaded export on a batch of obs."""
  time_step = ts.restart(tf.constant(obs), batch_size=obs.shape[0])
  return policy.action(time_step).action.numpy()


def _perturb_actor(agent):
  """Moves the actor's weights, so another export acts differently."""
  for variable in agent.networks.actor_variables():
    variable.assign_add(0.05 * tf.ones_like(variable))


def file_contents(root):
  """Relative path -> bytes of every file under `root` (eval_lib_test too)."""
  files = {}
  for directory, _, names in os.walk(root):
    for name in names:
      path = os.path.join(directory, name)
      with open(path, 'rb') as f:
        files[os.path.relpath(path, root)] = f.read()
  return files


class ExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # Cartpole swingup from 32x32 frames, 28x28 crops.
    cls.config = learning_check.get_config()
    # The export is compared with in-process actions to float32 round-off
    # (precision_test compares a bfloat16 export).
    cls.config.precision = 'float32'
    cls.agent = _make_agent(cls.config)
    cls.obs = _observations(cls.config)

  def setUp(self):
    super().setUp()
    self.workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.workdir)

  def _export(self, env_step, eval_return=None, agent=None):
    return export.export_policies(
        agent or self.agent, self.workdir,
        export.policy_info(self.config, env_step, eval_return))

  def _path(self, *names):
    return os.path.join(self.workdir, *names)

  def test_policy_info_holds_the_run_and_the_specs(self):
    self.agent.train_step_counter.assign(17)
    self.addCleanup(self.agent.train_step_counter.assign, 0)
    before = datetime.datetime.now(datetime.timezone.utc)
    path = self._export(env_step=1234, eval_return=np.float32(56.5))
    after = datetime.datetime.now(datetime.timezone.utc)
    self.assertEqual(path, self._path('policy'))
    for name, kind in (('policy', 'greedy'), ('collect_policy', 'collect')):
      with open(self._path(name, 'policy_info.json')) as f:
        info = json.load(f)
      export_time = datetime.datetime.fromisoformat(info.pop('export_time'))
      # Written with whole seconds.
      self.assertBetween(export_time,
                         before.replace(microsecond=0), after)
      self.assertEqual(info, {
          'agent': 'sac', 'domain_name': 'cartpole', 'task_name': 'swingup',
          'action_repeat': 8, 'frame_stack': 3, 'image_size': 32,
          'observation': 'pixels',
          'crop_size': 28, 'camera_id': 0, 'seed': 1,
          'precision': 'float32', 'env_step': 1234, 'eval_return_mean': 56.5,
          'observation_shape': [32, 32, 9], 'observation_dtype': 'uint8',
          'action_shape': [2], 'action_dtype': 'float32',
          'action_minimum': [-1.0, -2.0], 'action_maximum': [1.0, 0.5],
          'policy': kind, 'train_step': 17, 'format_version': 1,
      })
    # No evaluation yet: null, and load_policy reads the same dict back.
    self._export(env_step=0, eval_return=None)
    loaded, info = export.load_policy(self._path('policy'))
    self.assertIsNone(info['eval_return_mean'])
    self.assertEqual(info['env_step'], 0)
    # PolicySaver's own record of the train step agrees.
    self.assertEqual(int(loaded.get_train_step()), 17)

  def test_policy_info_from_another_config(self):
    config = default.get_config()
    config.update(domain_name='walker', task_name='walk', action_repeat=2,
                  camera_id=1, seed=7, precision='mixed_bfloat16')
    self.assertEqual(export.policy_info(config, 20, 3), {
        'agent': 'sac', 'domain_name': 'walker', 'task_name': 'walk',
        'action_repeat': 2, 'frame_stack': 3, 'image_size': 100,
        'crop_size': 84, 'observation': 'pixels',
        'camera_id': 1, 'seed': 7, 'precision': 'mixed_bfloat16',
        'env_step': 20, 'eval_return_mean': 3.0})

  def test_policy_info_of_an_atari_run(self):
    config = config_lib.load_config_file(os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        'configs', 'atari', 'default.py'))
    config.update(game='pong', seed=3)
    self.assertEqual(export.policy_info(config, 400, -20.5), {
        'agent': 'rainbow', 'game': 'pong', 'action_repeat': 4,
        'noop_max': 30, 'max_episode_frames': 108_000, 'frame_size': 84,
        'history': 4, 'seed': 3, 'precision': 'float32', 'env_step': 400,
        'eval_return_mean': -20.5})

  @pytest.mark.slow
  def test_loads_without_curl_tf_and_acts_as_in_process(self):
    self._export(env_step=8)
    obs_path = self._path('obs.npy')
    out_path = self._path('actions.npz')
    np.save(obs_path, self.obs)
    child_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, child_dir)
    script = os.path.join(child_dir, 'load_policy.py')
    with open(script, 'w') as f:
      f.write(_CHILD)
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    result = subprocess.run(
        [sys.executable, script, self.workdir, obs_path, out_path],
        cwd=child_dir, env=env, capture_output=True, text=True,
        timeout=120, check=False)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    out = np.load(out_path)
    # TensorFlow alone loaded them.
    self.assertEmpty(out['loaded'])

    expected = _actions(self.agent.eval_policy, self.obs)
    self.assertAllClose(out['greedy'], expected, atol=1e-5, rtol=0)
    self.assertAllClose(out['by_name'], expected, atol=1e-5, rtol=0)
    for name in ('greedy', 'collect_1', 'collect_2'):
      self.assertEqual(out[name].shape, (5, 2))
      self.assertAllInRange(out[name][:, 0], -1.0, 1.0)
      self.assertAllInRange(out[name][:, 1], -2.0, 0.5)
    # The collect export samples: it is not the greedy one, nor constant.
    self.assertGreater(np.abs(out['collect_1'] - expected).max(), 1e-4)
    self.assertGreater(np.abs(out['collect_1'] - out['collect_2']).max(),
                       1e-4)

  def test_centre_crop_is_inside_the_saved_model(self):
    # The default config: 100x100 frames, 84x84 crops, [-1, 1] actions.
    config = default.get_config()
    config.precision = 'float32'  # Compared to float32 round-off below.
    agent = _make_agent(config, minimum=[-1.0], maximum=[1.0])
    export.export_policies(agent, self.workdir,
                           export.policy_info(config, 0, None))
    loaded, info = export.load_policy(self._path('policy'))
    self.assertEqual(info['observation_shape'], [100, 100, 9])
    signature = loaded.signatures['action'].structured_input_signature[1]
    self.assertEqual(signature['arg_0_observation'].shape.as_list(),
                     [None, 100, 100, 9])

    obs = _observations(config)
    saved = _actions(loaded, obs)
    self.assertAllClose(saved, _actions(agent.eval_policy, obs), atol=1e-5,
                        rtol=0)
    # The greedy action is tanh of the actor's mean on the centre crop,
    # offset (100 - 84) // 2 = 8, and not on another crop.
    actor = agent.networks.actor

    def greedy(crop):
      mean, _ = actor.mean_and_log_std(actor.conv_features(crop))
      return np.tanh(mean.numpy())

    centre = greedy(augmentations.center_crop(tf.constant(obs), 84))
    self.assertAllClose(saved, centre, atol=1e-5, rtol=0)
    self.assertAllClose(centre, greedy(tf.constant(obs[:, 8:92, 8:92])),
                        atol=0, rtol=0)
    corner = greedy(tf.constant(obs[:, :84, :84]))
    self.assertGreater(np.abs(saved - corner).max(), 1e-4)

  def test_failed_export_leaves_the_previous_one(self):
    agent = _make_agent(self.config)
    self._export(env_step=100, agent=agent)
    before = file_contents(self.workdir)
    old_actions = _actions(agent.eval_policy, self.obs)
    _perturb_actor(agent)
    self.assertGreater(
        np.abs(_actions(agent.eval_policy, self.obs) - old_actions).max(),
        1e-3)

    real_save = policy_saver.PolicySaver.save
    calls = []

    def save_then_fail(saver, export_dir, options=None):
      calls.append(export_dir)
      if len(calls) == fail_at:
        # Part of a SavedModel, then the failure (a full disk, a kill).
        with open(os.path.join(export_dir, 'saved_model.pb'), 'wb') as f:
          f.write(b'\x08partial')
        raise OSError(28, 'No space left on device')
      real_save(saver, export_dir, options)

    # Fails saving the greedy policy, then the collect policy (after the
    # greedy one was saved whole): neither export is swapped in.
    for fail_at in (1, 2):
      calls.clear()
      with mock.patch.object(policy_saver.PolicySaver, 'save',
                             autospec=True, side_effect=save_then_fail):
        with self.assertRaisesRegex(OSError, 'No space left'):
          self._export(env_step=200, agent=agent)
      self.assertLen(calls, fail_at)
      for export_dir in calls:
        self.assertStartsWith(os.path.basename(export_dir), '.')
        self.assertFalse(os.path.exists(export_dir))
      self.assertEqual(file_contents(self.workdir), before)
      loaded, info = export.load_policy(self._path('policy'))
      self.assertEqual(info['env_step'], 100)
      self.assertAllClose(_actions(loaded, self.obs), old_actions,
                          atol=1e-5, rtol=0)
      _, collect_info = export.load_policy(self._path('collect_policy'))
      self.assertEqual(collect_info['env_step'], 100)

    # A crash that skipped the clean-up leaves a temp dir: the next export
    # deletes it and swaps the new policy in.
    shutil.copytree(self._path('policy'), self._path('.policy.tmp-crashed'))
    self._export(env_step=300, agent=agent)
    self.assertCountEqual(os.listdir(self.workdir),
                          ['policy', 'collect_policy', '.export.lock'])
    loaded, info = export.load_policy(self._path('policy'))
    self.assertEqual(info['env_step'], 300)
    self.assertAllClose(_actions(loaded, self.obs),
                        _actions(agent.eval_policy, self.obs), atol=1e-5,
                        rtol=0)

  def test_recovery_after_a_crash_between_the_renames(self):
    self._export(env_step=100)
    # What a crash between `policy -> policy.old` and `temp -> policy`
    # leaves: no policy, the complete old one, and the new temp dir.
    os.rename(self._path('policy'), self._path('policy.old'))
    shutil.copytree(self._path('collect_policy'),
                    self._path('.policy.tmp-new'))
    loaded, info = export.load_policy(self._path('policy'))
    self.assertEqual(info['env_step'], 100)
    self.assertEqual(info['policy'], 'greedy')
    self.assertAllClose(_actions(loaded, self.obs),
                        _actions(self.agent.eval_policy, self.obs),
                        atol=1e-5, rtol=0)
    self.assertFalse(os.path.exists(self._path('policy.old')))
    # Export's own recovery: the same crash of the collect policy.
    os.rename(self._path('collect_policy'), self._path('collect_policy.old'))
    self._export(env_step=200)
    self.assertCountEqual(os.listdir(self.workdir),
                          ['policy', 'collect_policy', '.export.lock'])
    for name in ('policy', 'collect_policy'):
      self.assertEqual(export.load_policy(self._path(name))[1]['env_step'],
                       200)

  def test_recovery_after_a_crash_while_deleting_the_old_export(self):
    self._export(env_step=100)
    # The new export is in place; the old one was partly deleted.
    shutil.copytree(self._path('policy'), self._path('policy.old'))
    os.remove(self._path('policy.old', 'saved_model.pb'))
    _, info = export.load_policy(self._path('policy'))
    self.assertEqual(info['env_step'], 100)
    self.assertFalse(os.path.exists(self._path('policy.old')))

  def test_load_policy_errors_are_one_line(self):
    self._export(env_step=100)
    missing_workdir = self._path('nope', 'policy')
    empty = self._path('empty')
    os.mkdir(empty)
    shutil.copytree(self._path('policy'), self._path('corrupt_model'))
    with open(self._path('corrupt_model', 'saved_model.pb'), 'wb') as f:
      f.write(b'not a SavedModel')
    shutil.copytree(self._path('policy'), self._path('corrupt_info'))
    with open(self._path('corrupt_info', 'policy_info.json'), 'w') as f:
      f.write('{"env_step": ')
    shutil.copytree(self._path('policy'), self._path('no_info'))
    os.remove(self._path('no_info', 'policy_info.json'))
    before = file_contents(self.workdir)
    cases = (
        (missing_workdir, 'does not exist'),
        (self._path('absent'), 'no such directory'),
        (empty, 'policy_info.json is missing'),
        (self._path('no_info'), 'policy_info.json is missing'),
        (self._path('corrupt_info'), 'cannot read'),
        (self._path('corrupt_model'), 'cannot load the exported policy'),
    )
    for path, fragment in cases:
      with self.assertRaises(config_lib.ConfigError) as raised:
        export.load_policy(path)
      message = str(raised.exception)
      self.assertNotIn('\n', message)
      self.assertIn(fragment, message)
      self.assertIn(os.path.basename(path), message)
    self.assertEqual(file_contents(self.workdir), before)


if __name__ == '__main__':
  tf.test.main()
