"""Tests for configs/*.py and curl_tf.config_lib: validation, steps, workdir."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

from absl import flags
from absl.testing import absltest
from absl.testing import parameterized
import ml_collections

from curl_tf import config_lib

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(REPO_ROOT, 'configs')
CONFIG_FILES = sorted(glob.glob(os.path.join(CONFIG_DIR, '*.py')))

# Paper Table 3, written out by hand: (domain, task, action repeat, learning
# rate of encoder, actor and critic).
TABLE_3 = {
    'cartpole_swingup': ('cartpole', 'swingup', 8, 1e-3),
    'finger_spin': ('finger', 'spin', 2, 1e-3),
    'walker_walk': ('walker', 'walk', 2, 1e-3),
    'reacher_easy': ('reacher', 'easy', 4, 1e-3),
    'cheetah_run': ('cheetah', 'run', 4, 2e-4),
    'ball_in_cup_catch': ('ball_in_cup', 'catch', 4, 1e-3),
}


def _config(name):
  return config_lib.load_config_file(os.path.join(CONFIG_DIR, name + '.py'))


class ConfigFilesTest(parameterized.TestCase):

  def test_every_table_1_environment_has_a_config(self):
    names = {os.path.basename(f)[:-3] for f in CONFIG_FILES}
    self.assertEqual(names,
                     set(TABLE_3) | {'default', 'smoke', 'learning_check'})

  @parameterized.parameters(*CONFIG_FILES)
  def test_config_file_is_valid(self, path):
    config_lib.validate_config(config_lib.load_config_file(path))

  @parameterized.parameters(*TABLE_3.items())
  def test_table_3_settings(self, name, expected):
    domain, task, action_repeat, lr = expected
    config = _config(name)
    self.assertEqual((config.domain_name, config.task_name),
                     (domain, task))
    self.assertEqual(config.action_repeat, action_repeat)
    self.assertEqual(config.encoder_lr, lr)
    self.assertEqual(config.actor_lr, lr)
    self.assertEqual(config.critic_lr, lr)
    self.assertEqual(config.alpha_lr, 1e-4)
    self.assertEqual(config.batch_size, 512)
    self.assertEqual(config.num_env_steps, 500_000)
    self.assertEqual(config.frame_stack, 3)
    self.assertEqual(config.replay_capacity, 100_000)

  def test_default_is_cartpole_swingup(self):
    self.assertEqual(_config('default'), _config('cartpole_swingup'))

  def test_smoke_budget(self):
    config = _config('smoke')
    # 4000 env steps at action repeat 8.
    self.assertEqual(config_lib.num_agent_steps(config), 500)
    self.assertEqual(config.batch_size, 32)

  def test_learning_check_changes_only_pixels_batch_and_budget(self):
    check, default = _config('learning_check'), _config('default')
    self.assertEqual((check.image_size, check.crop_size), (32, 28))
    # 10,000 agent steps at action repeat 8, the first 1,000 random.
    self.assertEqual(config_lib.num_agent_steps(check), 10_000)
    self.assertEqual(check.num_random_agent_steps, 1000)
    changed = {key for key in default.keys() if check[key] != default[key]}
    self.assertEqual(changed, {
        'image_size', 'crop_size', 'batch_size', 'num_env_steps',
        'eval_every_env_steps', 'log_every_env_steps',
        'checkpoint_every_env_steps'})

  def test_validator_knows_exactly_the_default_fields(self):
    self.assertCountEqual(config_lib.field_names(),
                          _config('default').keys())

  @parameterized.parameters(
      # Absolute path from an unrelated directory.
      ('/', os.path.join(CONFIG_DIR, 'cheetah_run.py')),
      # Relative path from the tests directory.
      (os.path.join(REPO_ROOT, 'tests'), '../configs/cheetah_run.py'),
  )
  def test_config_flags_loads_from_another_directory(self, cwd, path):
    # What main.py does, in a process whose sys.path lacks the repo root.
    script = (
        'import sys\n'
        'from absl import flags\n'
        'from ml_collections import config_flags\n'
        'c = config_flags.DEFINE_config_file("config", lock_config=True)\n'
        'flags.FLAGS(sys.argv)\n'
        'print(c.value.domain_name, c.value.critic_lr)\n')
    result = subprocess.run(
        [sys.executable, '-c', script, f'--config={path}'], cwd=cwd,
        capture_output=True, text=True, check=False, timeout=60)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.strip(), 'cheetah 0.0002')


# At least one bad value per config field (a test below checks that every
# field is covered). A value the validator let through would crash later, or
# worse, train something else than asked: actor_update_freq=0 fails with a
# ZeroDivisionError at the first update, a non-finite log_std bound gives NaN
# actions.
BAD_VALUES = (
    ('agent', 'ppo'), ('agent', None),
    ('observation', 'proprio'), ('observation', None),
    ('domain_name', ''), ('domain_name', 3), ('task_name', ''),
    ('task_name', 7), ('action_repeat', 0), ('frame_stack', 0),
    ('image_size', 0), ('image_size', 64.0), ('crop_size', 0),
    ('crop_size', -4), ('camera_id', -2), ('num_env_steps', 0),
    ('num_random_agent_steps', -1), ('eval_every_env_steps', 0),
    ('num_eval_episodes', 0), ('log_every_env_steps', -8),
    ('checkpoint_every_env_steps', 0),
    ('replay_capacity', -5), ('batch_size', -1), ('batch_size', 0),
    ('batch_size', 2.5), ('batch_size', True), ('prefetch_batches', 0),
    ('num_conv_layers', 0), ('num_filters', 0), ('feature_dim', 0),
    ('encoder_head', 'conv'), ('hidden_units', 0), ('hidden_units', None),
    ('log_std_min', float('-inf')), ('log_std_max', float('nan')),
    ('log_std_max', '2'), ('discount', 1.01), ('discount', -0.1),
    ('init_temperature', 0.0), ('critic_lr', 0.0), ('actor_lr', -1e-3),
    ('encoder_lr', float('nan')), ('alpha_lr', 0), ('beta1', 1.0),
    ('alpha_beta1', 1.0), ('alpha_beta1', -0.5), ('critic_tau', 0.0),
    ('encoder_tau', 0.0), ('encoder_tau', 1.5),
    ('critic_target_update_freq', 0), ('actor_update_freq', 0),
    ('update_mode', 'parallel'), ('jit_compile', 1),
    ('similarity', 'dot'), ('curl_temperature', 0.0),
    ('curl_temperature', float('inf')), ('key_encoder', 'target'),
    ('curl_coef', -0.5), ('curl_coef', float('nan')), ('curl_coef', 'one'),
    ('precision', 'bfloat16'), ('precision', 'float16'),
    ('strategy', 'multi_worker'), ('strategy', None), ('seed', -1),
    ('seed', 2**31),
)


class ValidateConfigTest(parameterized.TestCase):

  def _assert_rejected(self, config, *fragments):
    with self.assertRaises(config_lib.ConfigError) as raised:
      config_lib.validate_config(config)
    message = str(raised.exception)
    self.assertNotIn('\n', message)
    for fragment in fragments:
      self.assertIn(fragment, message)

  @parameterized.parameters(*BAD_VALUES)
  def test_bad_value_names_field_and_value(self, field, value):
    # Without type safety, as a config file building its own ConfigDict gets:
    # the typed default would refuse 2.5 for an int itself.
    config = ml_collections.ConfigDict(_config('default').to_dict(),
                                       type_safe=False)
    config[field] = value
    self._assert_rejected(config, f'config.{field}', repr(value))

  def test_every_field_has_a_bad_value_above(self):
    self.assertCountEqual({field for field, _ in BAD_VALUES},
                          config_lib.field_names())

  @parameterized.parameters(('discount', 0.0), ('discount', 1.0),
                            ('critic_tau', 1.0), ('num_random_agent_steps', 0),
                            ('camera_id', -1), ('beta1', 0.0))
  def test_boundary_values_accepted(self, field, value):
    config = _config('default')
    config[field] = value
    config_lib.validate_config(config)

  def test_unknown_task_lists_the_domains_tasks(self):
    config = _config('default')
    config.task_name = 'swingupp'
    self._assert_rejected(config, "('cartpole', 'swingupp')",
                          'balance, balance_sparse, swingup, swingup_sparse')

  def test_unknown_domain_suggests_a_close_one(self):
    config = _config('default')
    config.domain_name = 'cartpol'
    self._assert_rejected(config, "('cartpol', 'swingup')",
                          "did you mean 'cartpole'?")

  def test_crop_must_be_smaller_than_image(self):
    config = _config('default')
    config.crop_size = 100
    self._assert_rejected(config, 'config.crop_size (100)', 'image_size (100)')

  def test_too_many_conv_layers(self):
    config = _config('default')
    # 84 -> 41 after the stride-2 layer, then -2 per layer: 21 layers leave
    # 1 pixel, 22 leave none.
    config.num_conv_layers = 21
    config_lib.validate_config(config)
    config.num_conv_layers = 22
    self._assert_rejected(config, 'config.num_conv_layers (22)')

  def test_env_steps_must_be_whole_agent_steps(self):
    config = _config('default')  # action repeat 8
    config.eval_every_env_steps = 10_004
    self._assert_rejected(config, 'config.eval_every_env_steps (10004)',
                          'action_repeat (8)')

  def test_random_steps_must_leave_learning(self):
    config = _config('smoke')  # 500 agent steps
    config.num_random_agent_steps = 500
    self._assert_rejected(config, 'num_random_agent_steps (500)',
                          '500 agent steps')

  def test_batch_must_fit_in_replay(self):
    config = _config('default')
    config.replay_capacity = 256
    self._assert_rejected(config, 'batch_size (512)', 'replay_capacity (256)')

  def test_log_std_bounds_ordered(self):
    config = _config('default')
    config.log_std_min = 2.0
    self._assert_rejected(config, 'log_std_min (2.0)')

  def test_joint_mode_needs_one_encoder_learning_rate(self):
    config = _config('default')
    config.encoder_lr = 5e-4
    self._assert_rejected(config, 'config.encoder_lr (0.0005)',
                          'config.critic_lr (0.001)')
    config.update_mode = 'sequential'
    config_lib.validate_config(config)

  def test_missing_and_unknown_fields(self):
    config = _config('default')
    del config['seed']
    self._assert_rejected(config, 'missing', 'seed')
    config = _config('default')
    config.batch_sise = 3
    self._assert_rejected(config, 'unknown config field', 'batch_sise')


class StepUnitsTest(absltest.TestCase):

  def test_conversions(self):
    self.assertEqual(config_lib.env_to_agent_steps(500_000, 8), 62_500)
    self.assertEqual(config_lib.env_to_agent_steps(100_000, 4), 25_000)
    self.assertEqual(config_lib.env_to_agent_steps(7, 2), 3)  # rounds down
    self.assertEqual(config_lib.agent_to_env_steps(1000, 8), 8000)

  def test_budget_of_walker(self):
    config = _config('walker_walk')
    self.assertEqual(config_lib.num_agent_steps(config), 250_000)
    self.assertEqual(
        config_lib.describe_budget(config),
        'walker walk: 500000 env steps = 250000 agent steps (action repeat '
        '2); 1000 random agent steps first; 10 eval episodes every 10000 env '
        'steps (5000 agent steps)')


class PrepareWorkdirTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.root)

  def test_creates_parents_and_leaves_no_probe(self):
    workdir = os.path.join(self.root, 'a', 'b')
    self.assertEqual(config_lib.prepare_workdir(workdir), workdir)
    self.assertTrue(os.path.isdir(workdir))
    self.assertEmpty(os.listdir(workdir))

  def test_existing_workdir_is_kept(self):
    with open(os.path.join(self.root, 'checkpoint'), 'w') as f:
      f.write('x')
    config_lib.prepare_workdir(self.root)
    self.assertEqual(os.listdir(self.root), ['checkpoint'])

  def test_path_under_a_file(self):
    blocker = os.path.join(self.root, 'file')
    with open(blocker, 'w') as f:
      f.write('x')
    workdir = os.path.join(blocker, 'run')
    with self.assertRaisesRegex(config_lib.ConfigError,
                                f"cannot create workdir '{workdir}'"):
      config_lib.prepare_workdir(workdir)
    self.assertEqual(os.listdir(self.root), ['file'])

  def test_path_is_a_file(self):
    path = os.path.join(self.root, 'file')
    with open(path, 'w') as f:
      f.write('x')
    with self.assertRaisesRegex(config_lib.ConfigError, 'not a directory'):
      config_lib.prepare_workdir(path)

  def test_proc_is_refused(self):
    with self.assertRaisesRegex(config_lib.ConfigError,
                                "'/proc/forbidden/run'"):
      config_lib.prepare_workdir('/proc/forbidden/run')

  def test_unwritable_workdir_is_removed_again(self):
    workdir = os.path.join(self.root, 'new', 'run')
    with mock.patch.object(
        tempfile, 'NamedTemporaryFile',
        side_effect=PermissionError(13, 'Permission denied')):
      with self.assertRaisesRegex(config_lib.ConfigError,
                                  'not writable: Permission denied'):
        config_lib.prepare_workdir(workdir)
    # Both directories this call created are gone; the existing root stays.
    self.assertEmpty(os.listdir(self.root))


class CommandLineErrorsTest(parameterized.TestCase):
  """What main.py prints when parsing flags or loading the config fails."""

  def _raised(self, fn):
    try:
      fn()
    except Exception as e:  # pylint: disable=broad-except
      return e
    self.fail('nothing raised')

  def test_unknown_field_of_a_locked_config(self):
    config = _config('default')
    config.lock()
    error = self._raised(lambda: config['batch_sise'])
    self.assertEqual(
        config_lib.describe_config_load_error(error, ['main.py']),
        "unknown config field 'batch_sise' (Did you mean \"batch_size\" "
        'instead of "batch_sise"?)')

  def test_unknown_field_with_no_close_name(self):
    config = _config('default')
    config.lock()
    error = self._raised(lambda: config['zzz'])
    self.assertEqual(
        config_lib.describe_config_load_error(error, ['main.py']),
        "unknown config field 'zzz'")

  def test_flag_error_on_one_line(self):
    error = flags.IllegalFlagValueError('flag --x=1: bad\n  really bad')
    self.assertEqual(
        config_lib.describe_config_load_error(error, ['main.py']),
        'flag --x=1: bad really bad')

  def test_config_file_traceback_keeps_headline_and_exception(self):
    error = ValueError('Error loading config file c.py\nTraceback (most '
                       'recent call last):\n  File "c.py"\n'
                       'ZeroDivisionError: division by zero')
    self.assertEqual(
        config_lib.describe_config_load_error(error, ['main.py']),
        'cannot load the config: ValueError: Error loading config file c.py '
        'ZeroDivisionError: division by zero')

  @parameterized.parameters(
      (['--config=/nope/c.py'],), (['--config', '/nope/c.py'],),
      (['--config=/nope/c.py:arg', '--config.seed=2'],))
  def test_missing_config_file_wins(self, args):
    argv = ['main.py', *args]
    self.assertEqual(config_lib.missing_config_file(argv), '/nope/c.py')
    self.assertEqual(
        config_lib.describe_config_load_error(KeyError('x'), argv),
        'config file not found: /nope/c.py')
    with self.assertRaisesRegex(config_lib.ConfigError,
                                '^config file not found: /nope/c.py$'):
      config_lib.check_loaded_config(None, argv)

  def test_existing_config_file_is_not_missing(self):
    path = os.path.join(CONFIG_DIR, 'smoke.py')
    self.assertEqual(config_lib.missing_config_file(['m', f'--config={path}']),
                     '')

  def test_check_loaded_config(self):
    argv = ['main.py', f'--config={os.path.join(CONFIG_DIR, "smoke.py")}']
    config_lib.check_loaded_config(_config('smoke'), argv)
    with self.assertRaisesRegex(config_lib.ConfigError,
                                r'did not give a ConfigDict \(got int\)'):
      config_lib.check_loaded_config(3, argv)

  def test_existing_workdir(self):
    root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, root)
    self.assertEqual(config_lib.existing_workdir(root), root)
    missing = os.path.join(root, 'run')
    with self.assertRaisesRegex(config_lib.ConfigError,
                                f"^workdir '{missing}' does not exist$"):
      config_lib.existing_workdir(missing)
    self.assertFalse(os.path.exists(missing))
    path = os.path.join(root, 'file')
    with open(path, 'w') as f:
      f.write('x')
    with self.assertRaisesRegex(config_lib.ConfigError, 'not a directory'):
      config_lib.existing_workdir(path)


if __name__ == '__main__':
  absltest.main()
