"""Tests for curl_tf.envs.atari: each rule of the Atari100k protocol."""

from absl.testing import absltest
import ale_py
from ale_py import roms
import cv2
import numpy as np

from curl_tf.envs import atari

SEED = 7


def _random_actions(env, seed=0):
  rng = np.random.default_rng(seed)
  while True:
    yield rng.integers(env.action_spec().maximum + 1)


def _raw_ale(game):
  """An ALE with the env's emulator settings, to replay its frames by hand."""
  ale = ale_py.ALEInterface()
  ale.setFloat('repeat_action_probability', 0.0)
  ale.setInt('frame_skip', 1)
  ale.loadROM(str(roms.get_rom_path(game)))
  return ale


class SettingsTest(absltest.TestCase):

  def test_no_sticky_actions_and_one_frame_per_ale_act(self):
    env = atari.AtariEnv('pong', seed=SEED, training=True)
    # ale-py's default is 0.25, sticky actions on.
    self.assertEqual(env._ale.getFloat('repeat_action_probability'), 0.0)
    env.reset()
    before = env._ale.getEpisodeFrameNumber()
    env.step(np.int32(0))
    self.assertEqual(env._ale.getEpisodeFrameNumber() - before, 4)

  def test_minimal_action_set(self):
    # Breakout's minimal set is NOOP, FIRE, RIGHT, LEFT; Pong's has 6; the
    # full set has 18.
    self.assertEqual(
        atari.AtariEnv('breakout', seed=SEED, training=True)
        .action_spec().maximum, 3)
    self.assertEqual(
        atari.AtariEnv('pong', seed=SEED, training=True)
        .action_spec().maximum, 5)

  def test_specs(self):
    env = atari.AtariEnv('breakout', seed=SEED, training=True)
    self.assertEqual(env.observation_spec().shape, (84, 84, 4))
    self.assertEqual(env.observation_spec().dtype, np.uint8)
    self.assertEqual(env.action_spec().dtype, np.int32)
    self.assertEqual(env.action_repeat, 4)
    self.assertAlmostEqual(env.agent_step_seconds, 4 / 60)

  def test_table_2_games_are_all_loadable_roms(self):
    self.assertLen(atari.ATARI_100K_GAMES, 26)
    self.assertContainsSubset(atari.ATARI_100K_GAMES, roms.get_all_rom_ids())

  def test_bad_settings_are_refused(self):
    with self.assertRaisesRegex(ValueError, 'unknown Atari game'):
      atari.AtariEnv('pacman_deluxe', seed=SEED, training=True)
    with self.assertRaisesRegex(ValueError, 'frame_skip must be at least 2'):
      atari.AtariEnv('pong', seed=SEED, training=True, frame_skip=1)


class FramesTest(absltest.TestCase):

  def test_observed_frame_is_max_of_last_two_resized_grayscale_screens(self):
    env = atari.AtariEnv('breakout', seed=SEED, training=False)
    env.reset()
    reference = _raw_ale('breakout')
    actions = _random_actions(env)
    for _ in range(30):
      action = next(actions)
      reference.restoreState(env._ale.cloneState())
      screens = []
      for _ in range(4):
        reference.act(env._actions[action])
        screens.append(reference.getScreenGrayscale())
      expected = np.maximum(
          cv2.resize(screens[2], (84, 84), interpolation=cv2.INTER_LINEAR),
          cv2.resize(screens[3], (84, 84), interpolation=cv2.INTER_LINEAR))
      time_step = env.step(action)
      np.testing.assert_array_equal(time_step.observation[..., -1], expected)

  def test_history_is_zero_padded_and_shifts_oldest_first(self):
    env = atari.AtariEnv('breakout', seed=SEED, training=False)
    first = env.reset().observation
    self.assertEqual(np.abs(first[..., :3]).max(), 0)
    self.assertGreater(first[..., 3].max(), 0)
    previous = first
    actions = _random_actions(env)
    for _ in range(5):
      observation = env.step(next(actions)).observation
      np.testing.assert_array_equal(observation[..., :3], previous[..., 1:])
      previous = observation
    # Replay keeps the newest frame only.
    np.testing.assert_array_equal(env.step_observation(previous),
                                  previous[..., 3:])


def _noop_counts(seed, games):
  """Episode frames after each of `games` new games: the no-op counts.

  reset_game's own frames are not episode frames: only the no-ops are.
  """
  env = atari.AtariEnv('pong', seed=seed, training=True)
  counts = []
  for _ in range(games):
    env._life_lost = False
    env.reset()
    counts.append(env._ale.getEpisodeFrameNumber())
  return counts


class ResetTest(absltest.TestCase):

  def test_new_games_start_after_0_to_29_noop_frames(self):
    counts = _noop_counts(SEED, 60)
    self.assertGreaterEqual(min(counts), 0)
    self.assertLessEqual(max(counts), 29)
    self.assertGreater(len(set(counts)), 15)

  def test_seed_fixes_the_noops(self):
    self.assertEqual(_noop_counts(1, 3), _noop_counts(1, 3))
    self.assertNotEqual(_noop_counts(1, 3), _noop_counts(2, 3))

  def test_frame_cap_is_a_truncation(self):
    env = atari.AtariEnv('pong', seed=SEED, training=True, noop_max=1,
                         max_episode_frames=40)
    env.reset()
    steps = [env.step(np.int32(0)) for _ in range(10)]
    self.assertTrue(all(s.is_mid() for s in steps[:-1]))
    self.assertTrue(steps[-1].is_last())
    self.assertEqual(steps[-1].discount, 1.0)
    # Stepping after LAST starts a new game.
    self.assertTrue(env.step(np.int32(0)).is_first())
    self.assertLess(env._ale.getEpisodeFrameNumber(), 30)


class TrainingOnlyRulesTest(absltest.TestCase):

  def test_rewards_are_clipped_in_training_only(self):
    # Ms. Pac-Man scores 10 a pellet. The same seed and actions give the same
    # game until the first lost life ends the training episode.
    train = atari.AtariEnv('ms_pacman', seed=SEED, training=True)
    evaluate = atari.AtariEnv('ms_pacman', seed=SEED, training=False)
    train.reset()
    evaluate.reset()
    raw, clipped = [], []
    for action in _random_actions(train):
      train_step = train.step(action)
      evaluate_step = evaluate.step(action)
      raw.append(float(evaluate_step.reward))
      clipped.append(float(train_step.reward))
      if train_step.is_last():
        break
    self.assertGreater(max(raw), 1.0)
    np.testing.assert_array_equal(clipped, np.clip(raw, -1.0, 1.0))

  def test_lost_life_ends_training_episode_but_not_the_game(self):
    env = atari.AtariEnv('breakout', seed=SEED, training=True)
    env.reset()
    lives = env.lives
    actions = _random_actions(env)
    time_step = env.step(next(actions))
    while not time_step.is_last():
      time_step = env.step(next(actions))
    self.assertEqual(time_step.discount, 0.0)
    self.assertEqual(env.lives, lives - 1)
    frame = env._ale.getEpisodeFrameNumber()
    restart = env.step(next(actions))
    self.assertTrue(restart.is_first())
    # The game goes on (one no-op frame), from zeroed history.
    self.assertEqual(env._ale.getEpisodeFrameNumber(), frame + 1)
    self.assertEqual(env.lives, lives - 1)
    self.assertEqual(np.abs(restart.observation[..., :3]).max(), 0)

  def test_evaluation_episode_is_the_whole_game(self):
    env = atari.AtariEnv('breakout', seed=SEED, training=False)
    env.reset()
    start_lives = env.lives
    actions = _random_actions(env)
    time_step = env.step(next(actions))
    lives_seen = {env.lives}
    while not time_step.is_last():
      time_step = env.step(next(actions))
      lives_seen.add(env.lives)
    self.assertEqual(time_step.discount, 0.0)
    self.assertTrue(env._ale.game_over(with_truncation=False))
    # Every life was played within the one episode.
    self.assertEqual(sorted(lives_seen), list(range(start_lives + 1)))


if __name__ == '__main__':
  absltest.main()
