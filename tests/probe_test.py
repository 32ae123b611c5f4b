"""Tests for curl_tf.probe: state names, probes with known answers, a run."""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
from dm_control import suite
import numpy as np
import pytest
from tf_agents.specs import array_spec
from tf_agents.trajectories import policy_step
from tf_agents.trajectories import time_step as ts

from curl_tf import config_lib
from curl_tf import probe
# Sibling test modules: pytest puts tests/ (no __init__.py) on sys.path.
import export_test  # pylint: disable=g-bad-import-order
import representation_test  # pylint: disable=g-bad-import-order

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CARTPOLE_STATE = ['position[0]', 'position[1]', 'position[2]',
                   'velocity[0]', 'velocity[1]']


def _tempdir(test):
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


class StateNamesTest(absltest.TestCase):

  def test_names_follow_the_flattening(self):
    observation = collections.OrderedDict(
        position=np.array([1.0, 2.0, 3.0]),
        height=np.float64(4.0),  # A scalar: its name has no index.
        orientations=np.array([[5.0, 6.0], [7.0, 8.0]]),
        velocity=np.array([9.0]))
    self.assertEqual(probe.state_names(observation), [
        'position[0]', 'position[1]', 'position[2]', 'height',
        'orientations[0]', 'orientations[1]', 'orientations[2]',
        'orientations[3]', 'velocity[0]'])
    np.testing.assert_array_equal(probe.flatten_state(observation),
                                  np.arange(1.0, 10.0))

  def test_cartpole_state(self):
    env = suite.load('cartpole', 'swingup', task_kwargs={'random': 0})
    self.addCleanup(env.close)
    observation = env.reset().observation
    self.assertEqual(probe.state_names(observation), _CARTPOLE_STATE)
    # Position: cart x, then the pole angle's cos and sin.
    state = probe.flatten_state(observation)
    self.assertAlmostEqual(state[1] ** 2 + state[2] ** 2, 1.0)


class StandardiserTest(absltest.TestCase):

  def test_constant_dimension_gets_std_one_not_nan(self):
    train = np.array([[1.0, 0.1, -3.0], [3.0, 0.1, 5.0]])
    standardise = probe.Standardiser.fit(train)
    np.testing.assert_array_equal(standardise.constant, [False, True, False])
    np.testing.assert_allclose(standardise.std, [1.0, 1.0, 4.0])
    np.testing.assert_allclose(standardise(train),
                               [[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0]],
                               atol=1e-12)
    self.assertTrue(np.isfinite(standardise(np.array([[0.0, 0.2, 0.0]]))
                                ).all())

  def test_constant_dimension_is_left_out_of_the_overall_mean(self):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 4))
    states = np.stack([features @ [1.0, -2.0, 0.5, 0.0],
                       rng.normal(size=200), np.full(200, 7.0)], axis=1)
    result = probe.probe_features({'f': features}, states, ['a', 'b', 'c'],
                                  test_fraction=0.25, seed=0,
                                  log=lambda _: None)
    self.assertEqual(result['constant_dims'], ['c'])
    for scores in result['mse']['f'].values():
      per_dim = scores['per_dim']
      self.assertTrue(np.isfinite(list(per_dim.values())).all())
      self.assertAlmostEqual(scores['overall'],
                             (per_dim['a'] + per_dim['b']) / 2)


class ProbeTest(absltest.TestCase):
  """Known answers: a linear function of the features, and pure noise."""

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(1)
    self.features = rng.normal(size=(2000, 10)).astype(np.float32)
    # Three dimensions linear in the features, at different scales.
    self.linear = (self.features.astype(np.float64) @ rng.normal(
        size=(10, 3)) * [1.0, 10.0, 0.01] + [5.0, -1.0, 0.0])
    self.noise = rng.normal(size=(2000, 2))

  def _probe(self, states):
    return probe.probe_features(
        {'f': self.features}, states, [f's{i}' for i in range(
            states.shape[1])], test_fraction=0.2, seed=0, log=lambda _: None)

  def test_linear_state_is_predicted_exactly(self):
    result = self._probe(self.linear)
    self.assertEqual((result['num_train'], result['num_test']), (1600, 400))
    linear = result['mse']['f']['linear']
    self.assertLess(max(linear['per_dim'].values()), 1e-6)
    self.assertLess(result['mse']['f']['mlp']['overall'], 0.05)
    # Predicting the train mean: about the standardised variance, 1.
    self.assertAlmostEqual(result['mean_predictor']['overall'], 1.0,
                           delta=0.15)

  def test_noise_is_not_predicted(self):
    result = self._probe(self.noise)
    for probe_name in probe.PROBES:
      for mse in result['mse']['f'][probe_name]['per_dim'].values():
        self.assertBetween(mse, 0.85, 1.15)

  def test_linear_probe_is_exact_with_collinear_features(self):
    # A LayerNorm output sums to a constant: its gram matrix is singular,
    # which the ridge term keeps solvable.
    features = self.features - self.features.mean(axis=1, keepdims=True)
    states = features @ np.arange(1.0, 11.0)[:, None]
    fitted = probe.fit_linear(features, states)
    self.assertLess(np.mean((fitted.predict(features) - states) ** 2), 1e-6)

  def test_ridge_is_chosen_on_the_validation_slice(self):
    exact = probe.fit_linear(self.features, self.linear)
    self.assertEqual(exact.ridge, min(probe.RIDGES))
    # 40 features, 80 rows, one feature plus noise: least squares overfits.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1080, 40))
    y = x[:, :1] + 2.0 * rng.normal(size=(1080, 1))
    chosen = probe.fit_linear(x[:80], y[:80])
    self.assertGreater(chosen.ridge, min(probe.RIDGES))
    least_squares = probe.fit_ridge(x[:80], y[:80], min(probe.RIDGES))
    test_mse = lambda fitted: np.mean((fitted.predict(x[80:]) - y[80:]) ** 2)
    self.assertLess(test_mse(chosen), 0.8 * test_mse(least_squares))

  def test_mlp_is_seeded(self):
    first, second = (probe.fit_mlp(self.features[:500], self.linear[:500],
                                   seed=3, max_epochs=3) for _ in range(2))
    for a, b in zip(first.layers, second.layers):
      np.testing.assert_array_equal(a[0], b[0])

  def test_too_few_frames_for_the_split(self):
    with self.assertRaisesRegex(config_lib.ConfigError,
                                '9 train and 1 test'):
      probe.split_sizes(10, 0.1)
    with self.assertRaisesRegex(config_lib.ConfigError,
                                '100 train and 0 test'):
      probe.split_sizes(100, 0.0)


class _CountingEnv:
  """Episodes of 4 steps; the observation and the state hold the step."""

  def __init__(self):
    self.step_count = 0
    self.actions = []

  def action_spec(self):
    return array_spec.BoundedArraySpec((1,), np.float32, -1.0, 1.0)

  def _observation(self):
    return np.full((2, 2, 3), self.step_count, np.uint8)

  def reset(self):
    self.step_count += 1
    self.episode_step = 0
    return ts.restart(self._observation())

  def step(self, action):
    self.actions.append(float(action[0]))
    self.step_count += 1
    self.episode_step += 1
    if self.episode_step == 4:
      return ts.termination(self._observation(), 0.0)
    return ts.transition(self._observation(), 0.0)

  def state(self):
    return collections.OrderedDict(step=np.float64(self.step_count),
                                   twice=np.array([2.0 * self.step_count]))


class _Policy:

  def action(self, time_step):
    del time_step
    # Outside the action spec: the env's record tells policy actions apart.
    return policy_step.PolicyStep(action=np.array([5.0], np.float32))


class CollectTest(absltest.TestCase):

  def _collect(self, policy_fraction, num_frames=11):
    env = _CountingEnv()
    encoders = {'step': lambda obs: obs[:, 0, 0, :1].astype(np.float32),
                'minus': lambda obs: -obs[:, 0, 0, :1].astype(np.float32)}
    collection = probe.collect(env, _Policy(), encoders, env.state,
                               num_frames, policy_fraction, seed=0,
                               chunk_size=3, log=lambda _: None)
    return env, collection

  def test_features_and_state_come_from_the_same_time_step(self):
    _, collection = self._collect(0.5)
    self.assertEqual(collection.state_names, ['step', 'twice[0]'])
    # Steps 1..11, in order, through chunks of 3 (the last one of 2).
    np.testing.assert_array_equal(collection.states[:, 0], np.arange(1, 12))
    np.testing.assert_array_equal(collection.states[:, 1],
                                  2 * np.arange(1, 12))
    np.testing.assert_array_equal(collection.features['step'][:, 0],
                                  collection.states[:, 0])
    np.testing.assert_array_equal(collection.features['minus'][:, 0],
                                  -collection.states[:, 0])
    # Episodes are a reset then 4 steps: 11 frames = 2 episodes + 1 reset.
    self.assertEqual((collection.num_episodes, collection.num_steps),
                     (3, 8))

  def test_policy_fraction(self):
    for fraction, expected in ((1.0, 8), (0.0, 0)):
      env, collection = self._collect(fraction)
      self.assertEqual(collection.policy_steps, expected)
      self.assertEqual(sum(a == 5.0 for a in env.actions), expected)
    env, collection = self._collect(0.5, num_frames=400)
    policy_actions = sum(a == 5.0 for a in env.actions)
    self.assertEqual(collection.policy_steps, policy_actions)
    self.assertBetween(policy_actions / collection.num_steps, 0.4, 0.6)
    uniform = [a for a in env.actions if a != 5.0]
    self.assertBetween(min(uniform), -1.0, -0.8)
    self.assertBetween(max(uniform), 0.8, 1.0)


def _checkpointed_run():
  """A workdir with config.json and a checkpoint (cartpole, 32x32 frames).

  representation_test writes one by hand, as train_lib would; its class
  setup is the helper.
  """
  representation_test.RestoreRunTest.setUpClass()
  return representation_test.RestoreRunTest.workdir


class RunProbeTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.workdir = _checkpointed_run()
    cls.files = export_test.file_contents(cls.workdir)
    cls.out = os.path.join(tempfile.mkdtemp(), 'probe')
    cls.lines = []
    cls.result = probe.run_probe(cls.workdir, cls.out, num_frames=150,
                                 seed=1, log=cls.lines.append)

  def test_json_holds_all_four_probes_per_cartpole_dimension(self):
    with open(os.path.join(self.out, probe.JSON_FILE)) as f:
      saved = json.load(f)
    self.assertEqual(saved['state_names'], _CARTPOLE_STATE)
    self.assertEqual(saved['task'], 'cartpole_swingup')
    self.assertEqual(saved['env_step'], 160)
    self.assertEqual((saved['num_frames'], saved['num_train'],
                      saved['num_test']), (150, 120, 30))
    for encoder in probe.ENCODERS:
      for probe_name in probe.PROBES:
        scores = saved['mse'][encoder][probe_name]
        self.assertEqual(list(scores['per_dim']), _CARTPOLE_STATE)
        values = list(scores['per_dim'].values())
        self.assertTrue(np.isfinite(values).all())
        self.assertGreaterEqual(min(values), 0.0)
        self.assertAlmostEqual(scores['overall'], np.mean(values))
    for fits in saved['fits'].values():
      self.assertIn(fits['linear_ridge'], probe.RIDGES)
    # Seeds apart from training's (config seed 1) and evaluation's.
    self.assertEqual(saved['seeds']['env'], 1 + 20_000 + 1)
    # 150 frames: a reset and 125 agent steps (action repeat 8), then a
    # reset and 23 steps.
    self.assertEqual((saved['num_episodes'], saved['num_steps']), (2, 148))
    self.assertBetween(saved['policy_steps'] / saved['num_steps'], 0.6, 0.9)

  def test_the_two_encoders_see_the_same_frames_differently(self):
    trained = self.result['mse']['trained']['linear']['per_dim']
    random = self.result['mse']['random']['linear']['per_dim']
    self.assertNotEqual(trained, random)

  def test_writes_a_png_and_nothing_into_the_workdir(self):
    with open(os.path.join(self.out, probe.CHART_FILE), 'rb') as f:
      self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')
    self.assertEqual(export_test.file_contents(self.workdir), self.files)
    self.assertIn('probe: frame 150/150 (100%)', '\n'.join(self.lines))

  def test_table(self):
    table = probe.format_table(self.result).splitlines()
    self.assertEqual([line.split()[0] for line in table[1:]],
                     _CARTPOLE_STATE + ['overall'])
    self.assertIn('mlp trained', table[0])


class CommandLineTest(absltest.TestCase):

  def _probe(self, *args):
    env = dict(os.environ)
    # Bad input fails before TensorFlow is imported, or through the
    # console's filter: TF's own log filter must not hide extra lines.
    env.pop('TF_CPP_MIN_LOG_LEVEL', None)
    return subprocess.run([sys.executable, '-m', 'curl_tf.probe', *args],
                          cwd=_REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=False)

  def _assert_one_line_error(self, result, fragment):
    self.assertEqual(result.returncode, 2, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    self.assertLen(lines, 1, result.stderr)
    self.assertStartsWith(lines[0], 'curl_tf.probe: error: ')
    self.assertIn(fragment, lines[0])
    self.assertEqual(result.stdout, '')

  def test_bad_input_is_one_line_and_writes_nothing(self):
    root = _tempdir(self)
    blocker = os.path.join(root, 'file')
    with open(blocker, 'w') as f:
      f.write('x')
    out = os.path.join(root, 'out')
    for args, fragment in [
        ([], 'flag --workdir is required'),
        ([f'--workdir={root}/absent'], 'does not exist'),
        ([f'--workdir={root}', '--policy_fraction=2'], '--policy_fraction'),
        ([f'--workdir={root}', '--num_frames=0'], '--num_frames'),
        ([f'--workdir={root}', '--num_frames=11'], '9 train and 2 test'),
        ([f'--workdir={root}', '--bogus=1'], 'bogus'),
        ([f'--workdir={root}', 'extra'], 'unexpected arguments: extra'),
    ]:
      with self.subTest(fragment):
        self._assert_one_line_error(self._probe(*args, f'--out={out}'),
                                    fragment)
    self._assert_one_line_error(
        self._probe(f'--workdir={root}', f'--out={blocker}/out'),
        'cannot be written')
    self.assertEqual(sorted(os.listdir(root)), ['file'])

  def test_workdir_without_a_run(self):
    # Found once TensorFlow is imported, by restore_run: still one line.
    root = _tempdir(self)
    self._assert_one_line_error(self._probe(f'--workdir={root}'),
                                'config.json')
    self.assertEqual(os.listdir(root), [])

  @pytest.mark.slow
  def test_a_run_prints_the_table_and_writes_both_files(self):
    workdir = _checkpointed_run()
    out = os.path.join(_tempdir(self), 'probe')
    result = self._probe(f'--workdir={workdir}', '--num_frames=100',
                         f'--out={out}')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn('overall', result.stdout)
    self.assertCountEqual(os.listdir(out),
                          [probe.JSON_FILE, probe.CHART_FILE])


if __name__ == '__main__':
  absltest.main()
