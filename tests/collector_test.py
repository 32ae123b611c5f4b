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


if __name__ == '__main__':
  tf.test.main()
