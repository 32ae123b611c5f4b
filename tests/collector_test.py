"""Tests for curl_tf.collector: episodes, returns and replay inserts."""

import numpy as np
import tensorflow as tf

from configs import default
from curl_tf import collector as collector_lib
from curl_tf import envs
from curl_tf import replay

# 1000 dm_control steps / action repeat 8 = 125 agent steps per episode.
_EPISODE_AGENT_STEPS = 125


class CollectorTest(tf.test.TestCase):

  def test_one_episode_is_written_and_its_return_reported(self):
    config = default.get_config()  # cartpole swingup, action repeat 8.
    config.replay_capacity = 1000
    server = replay.make_replay_server(config, action_dim=1)
    writer = replay.ReplayWriter(server.address, server.table_name,
                                 config.frame_stack)
    collector = collector_lib.Collector(
        envs.make_environment(config, seed=0), writer)
    actions = np.random.default_rng(0).uniform(
        -1, 1, (_EPISODE_AGENT_STEPS, 1)).astype(np.float32)

    time_step = collector.reset()
    self.assertTrue(time_step.is_first())
    finished = []
    for action in actions:
      time_step, finished_return = collector.step(action)
      finished.append(finished_return)
    # The return is reported once, at the end, and the env is reset.
    self.assertEqual(finished[:-1], [None] * (_EPISODE_AGENT_STEPS - 1))
    self.assertTrue(time_step.is_first())
    writer.flush()
    self.assertEqual(replay.table_size(server.address, server.table_name),
                     _EPISODE_AGENT_STEPS)

    # The same actions in an identically seeded env give the same return.
    reference_env = envs.make_environment(config, seed=0)
    reference_env.reset()
    expected = sum(float(reference_env.step(a).reward) for a in actions)
    self.assertAllClose(finished[-1], expected)
    self.assertGreater(expected, 0.0)
    writer.close()
    server.close()

  def test_two_episodes_returns_reset_and_items_never_mix_episodes(self):
    config = default.get_config()  # cartpole swingup, action repeat 8.
    config.image_size = 32  # Small frames: the bookkeeping is the same.
    config.replay_capacity = 1000
    server = replay.make_replay_server(config, action_dim=1)
    self.addCleanup(server.close)
    writer = replay.ReplayWriter(server.address, server.table_name,
                                 config.frame_stack)
    env = _RecordingEnv(envs.make_environment(config, seed=0))
    collector = collector_lib.Collector(env, writer)
    # Distinct actions: an item's action says which step it is.
    actions = np.random.default_rng(1).uniform(
        -1, 1, (2 * _EPISODE_AGENT_STEPS, 1)).astype(np.float32)
    collector.reset()
    finished = [collector.step(action)[1] for action in actions]
    writer.close()

    # Each episode's own return, reported at its end: the sum restarts.
    returns = [sum(rewards) for rewards in env.rewards[:2]]
    self.assertEqual([i for i, r in enumerate(finished) if r is not None],
                     [_EPISODE_AGENT_STEPS - 1, 2 * _EPISODE_AGENT_STEPS - 1])
    self.assertAllClose([finished[_EPISODE_AGENT_STEPS - 1], finished[-1]],
                        returns)
    self.assertNotAllClose(returns[0], returns[1])

    # Every item's stacks are the env's own observations of one episode
    # (the env repeats the first frame at reset, never the last episode's).
    step_of = {float(a[0]): (i // _EPISODE_AGENT_STEPS,
                             i % _EPISODE_AGENT_STEPS + 1)
               for i, a in enumerate(actions)}
    dataset = replay.make_stacked_dataset(
        server.address, server.table_name, frame_stack=config.frame_stack,
        batch_size=250)
    seen = set()
    # 5,000 uniform draws over 250 items: one is missed with prob. ~5e-7.
    for batch in dataset.take(20).as_numpy_iterator():
      for i in range(250):
        episode, step = step_of[float(batch['action'][i, 0])]
        np.testing.assert_array_equal(
            batch['obs'][i], env.observations[episode][step - 1])
        np.testing.assert_array_equal(
            batch['next_obs'][i], env.observations[episode][step])
        self.assertEqual(batch['reward'][i], env.rewards[episode][step - 1])
        seen.add((episode, step))
    self.assertLen(seen, 2 * _EPISODE_AGENT_STEPS)


class _RecordingEnv:
  """Passes reset and step through and records each episode's time steps."""

  def __init__(self, env):
    self._env = env
    self.observations, self.rewards = [], []

  def step_observation(self, observation):
    return self._env.step_observation(observation)

  def reset(self):
    time_step = self._env.reset()
    self.observations.append([time_step.observation])
    self.rewards.append([])
    return time_step

  def step(self, action):
    time_step = self._env.step(action)
    self.observations[-1].append(time_step.observation)
    self.rewards[-1].append(float(time_step.reward))
    return time_step


if __name__ == '__main__':
  tf.test.main()
