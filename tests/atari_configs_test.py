"""Tests for configs/atari/: every file validates; Table 2's settings."""

import glob
import os

from absl.testing import absltest
from absl.testing import parameterized

from curl_tf import config_lib

_ATARI_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'configs', 'atari')
_FILES = sorted(glob.glob(os.path.join(_ATARI_DIR, '*.py')))
# Table 2's games, in ale-py's names (curl_tf.envs.atari.ATARI_100K_GAMES,
# written out here so the test does not load the emulator).
_TABLE_2 = {
    'alien', 'amidar', 'assault', 'asterix', 'bank_heist', 'battle_zone',
    'boxing', 'breakout', 'chopper_command', 'crazy_climber', 'demon_attack',
    'freeway', 'frostbite', 'gopher', 'hero', 'jamesbond', 'kangaroo', 'krull',
    'kung_fu_master', 'ms_pacman', 'pong', 'private_eye', 'qbert',
    'road_runner', 'seaquest', 'up_n_down'}


# A bad value for each of CURL-Rainbow's own fields (the loop's fields are
# covered with CURL-SAC's in configs_test.py).
_BAD_VALUES = (
    ('game', ''), ('game', 3), ('noop_max', 0), ('max_episode_frames', 0),
    ('frame_size', 0), ('history', 0), ('learning_starts_agent_steps', -1),
    ('eval_epsilon', -0.1), ('noisy_sigma0', -0.1), ('num_atoms', 0),
    ('v_min', float('nan')), ('v_max', float('inf')), ('multi_step', 0),
    ('target_update_period', 0), ('learning_rate', 0.0),
    ('adam_epsilon', -1.0), ('max_gradient_norm', 0.0),
    ('priority_exponent', 1.5), ('is_exponent_start', -0.4),
    ('curl_momentum', 1.0), ('curl_code_units', 0),
    ('curl_logit_scale', 0.0), ('shift_pad', -1),
)


def _load(name):
  return config_lib.load_config_file(os.path.join(_ATARI_DIR, name + '.py'))


class AtariConfigsTest(parameterized.TestCase):

  @parameterized.parameters(*[os.path.basename(p)[:-3] for p in _FILES])
  def test_file_loads_and_validates(self, name):
    config = _load(name)
    config_lib.validate_config(config)
    self.assertEqual(config.agent, 'rainbow')
    if name in _TABLE_2:
      self.assertEqual(config.game, name)

  def test_one_file_per_table_2_game(self):
    names = {os.path.basename(p)[:-3] for p in _FILES}
    self.assertEqual(names - {'default', 'smoke', 'learning_check'},
                     _TABLE_2)

  def test_learning_check_departs_only_in_budget_and_evaluations(self):
    check, default = _load('learning_check'), _load('road_runner')
    changed = {k for k in default.keys() if check[k] != default[k]}
    self.assertEqual(changed, {'num_env_steps', 'eval_every_env_steps',
                               'num_eval_episodes',
                               'checkpoint_every_env_steps',
                               'log_every_env_steps'})
    # 10k agent steps, evaluated every 1,250.
    self.assertEqual(config_lib.num_agent_steps(check), 10_000)
    self.assertEqual(check.eval_every_env_steps // check.action_repeat, 1_250)

  def test_default_has_exactly_the_rainbow_fields(self):
    self.assertCountEqual(_load('default').keys(),
                          config_lib.field_names('rainbow'))

  def test_data_efficient_rainbow_settings(self):
    config = _load('default')
    expected = dict(
        action_repeat=4, noop_max=30, max_episode_frames=108_000,
        frame_size=84, history=4, num_env_steps=400_000,
        num_random_agent_steps=0, learning_starts_agent_steps=1_600,
        eval_every_env_steps=40_000, num_eval_episodes=10,
        eval_epsilon=0.001, hidden_units=256, noisy_sigma0=0.1,
        num_atoms=51, v_min=-10.0, v_max=10.0, batch_size=32, multi_step=20,
        discount=0.99, target_update_period=2_000, learning_rate=1e-4,
        adam_epsilon=1.5e-4, max_gradient_norm=10.0, replay_capacity=100_000,
        priority_exponent=0.5, is_exponent_start=0.4, curl_momentum=0.999,
        curl_code_units=128, curl_logit_scale=0.1, shift_pad=4)
    self.assertEqual({k: config[k] for k in expected}, expected)
    # The paper's 100k is agent steps.
    self.assertEqual(config_lib.num_agent_steps(config), 100_000)

  def test_contrastive_weight_is_the_games_official_one(self):
    # None: the agent takes curl_rainbow's weight for the game
    # (rainbow_agent_test checks which).
    for name in _TABLE_2:
      self.assertIsNone(_load(name).curl_coef, name)

  @parameterized.parameters(
      (dict(v_min=10.0), 'v_min'),
      (dict(game='space_invaders_2'), 'not an Atari game'),
      (dict(precision='mixed_bfloat16'), 'float32 on one device'),
      (dict(learning_starts_agent_steps=100_000), 'leaves no learning'),
      (dict(eval_epsilon=1.5), 'eval_epsilon'),
      (dict(action_repeat=1), 'frame skip'),
  )
  def test_bad_values_are_refused_in_one_line(self, change, message):
    config = _load('default')
    config.update(change)
    with self.assertRaisesRegex(config_lib.ConfigError, message) as raised:
      config_lib.validate_config(config)
    self.assertNotIn('\n', str(raised.exception))

  @parameterized.parameters(*_BAD_VALUES)
  def test_bad_value_names_field_and_value(self, field, value):
    config = _load('default')
    config.unlock()
    # As a config file building its own ConfigDict gets it: no type safety.
    del config[field]
    config[field] = value
    with self.assertRaisesRegex(config_lib.ConfigError,
                                f'config.{field}') as raised:
      config_lib.validate_config(config)
    self.assertIn(repr(value), str(raised.exception))

  def test_every_rainbow_field_has_a_bad_value_above(self):
    self.assertCountEqual(
        {field for field, _ in _BAD_VALUES},
        set(config_lib.field_names('rainbow')) -
        set(config_lib.field_names('sac')))

  def test_sac_fields_are_unknown_to_a_rainbow_config(self):
    config = _load('default')
    config.domain_name = 'cartpole'
    with self.assertRaisesRegex(config_lib.ConfigError,
                                'unknown config field.*domain_name'):
      config_lib.validate_config(config)


if __name__ == '__main__':
  absltest.main()
