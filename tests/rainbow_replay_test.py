"""Tests for curl_tf.agents.rainbow.replay against a naive n-step history."""

from absl.testing import absltest
import ml_collections
import numpy as np
import reverb
import tensorflow as tf

from curl_tf import augmentations
from curl_tf import replay as replay_lib
from curl_tf.agents.rainbow import replay

SIZE = 6
HISTORY = 4
N = 3
GAMMA = 0.5


def _config(**overrides):
  config = ml_collections.ConfigDict(dict(
      priority_exponent=0.5, replay_capacity=1000, frame_size=SIZE,
      history=HISTORY, multi_step=N, discount=GAMMA, batch_size=8,
      shift_pad=1, seed=0, prefetch_batches=2))
  config.update(overrides)
  return config


def _frame(episode, step):
  # Never 0, so zero padding is told apart from a frame.
  return np.full((SIZE, SIZE, 1), 40 * episode + step + 1, np.uint8)


# Two episodes: the first terminates after 6 steps, the second is cut by the
# time limit (discount 1) after 2 steps, shorter than the history and n.
_EPISODES = [
    dict(steps=6, last_discount=0.0),
    dict(steps=2, last_discount=1.0),
]


def _write(server, max_priority):
  with replay.NStepWriter(server.address, server.table_name, history=HISTORY,
                          n=N, max_priority=max_priority) as writer:
    for episode, spec in enumerate(_EPISODES):
      writer.start_episode(_frame(episode, 0))
      for step in range(1, spec['steps'] + 1):
        discount = spec['last_discount'] if step == spec['steps'] else 1.0
        writer.add(action=step % 4, reward=float(step + 10 * episode),
                   discount=discount, next_frame=_frame(episode, step))


def _naive(episode, t):
  """The expected transition at step t of an episode, by the definitions."""
  spec = _EPISODES[episode]
  steps = spec['steps']

  def state(step):
    return np.stack([_frame(episode, s)[..., 0] if s >= 0 else
                     np.zeros((SIZE, SIZE), np.uint8)
                     for s in range(step - HISTORY + 1, step + 1)], axis=-1)

  m = min(N, steps - t)
  rewards = [float(s + 10 * episode) for s in range(t + 1, t + m + 1)]
  discounts = [spec['last_discount'] if s == steps else 1.0
               for s in range(t + 1, t + m + 1)]
  return dict(
      obs=state(t), next_obs=state(t + m), action=(t + 1) % 4,
      ret=sum(GAMMA**k * r for k, r in enumerate(rewards)),
      bootstrap=GAMMA**m * np.prod(discounts))


class NStepReplayTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.server = replay_lib.start_server(replay.make_table(_config()))
    self.addCleanup(self.server.close)
    self.max_priority = replay.MaxPriority()

  def test_every_transition_matches_the_naive_history(self):
    _write(self.server, self.max_priority)
    expected = {(e, t): _naive(e, t)
                for e, spec in enumerate(_EPISODES)
                for t in range(spec['steps'])}
    self.assertEqual(
        replay_lib.table_size(self.server.address, self.server.table_name),
        len(expected))
    dataset = replay.make_dataset(
        self.server.address, self.server.table_name,
        replay.settings_from_config(_config()))
    seen = set()
    for batch in dataset.take(40):
      for i in range(8):
        newest = int(batch['obs'][i, 0, 0, -1]) - 1
        key = (newest // 40, newest % 40)
        want = expected[key]
        np.testing.assert_array_equal(batch['obs'][i], want['obs'])
        np.testing.assert_array_equal(batch['next_obs'][i], want['next_obs'])
        self.assertEqual(int(batch['action'][i]), want['action'])
        self.assertAlmostEqual(float(batch['return'][i]), want['ret'],
                               places=5)
        self.assertAlmostEqual(float(batch['bootstrap_discount'][i]),
                               want['bootstrap'], places=6)
        seen.add(key)
    self.assertEqual(seen, set(expected))

  def test_shifted_views_are_shifts_of_obs(self):
    _write(self.server, self.max_priority)
    batch = next(iter(replay.make_dataset(
        self.server.address, self.server.table_name,
        replay.settings_from_config(_config()))))
    self.assertEqual(batch['anchor'].shape, (8, SIZE, SIZE, HISTORY))
    # Batch 0's two shifts, drawn from the seeds the pipeline derives.
    batch_seed = tf.random.experimental.stateless_fold_in(
        tf.constant([0, 1], tf.int64), 0)
    anchor_seed, positive_seed = tf.unstack(
        tf.random.experimental.stateless_split(batch_seed, 2))
    np.testing.assert_array_equal(
        batch['anchor'], augmentations.random_shift(batch['obs'], 1,
                                                    anchor_seed))
    np.testing.assert_array_equal(
        batch['positive'], augmentations.random_shift(batch['obs'], 1,
                                                      positive_seed))

  def test_priorities_steer_sampling_and_new_items_get_the_max(self):
    _write(self.server, self.max_priority)
    client = reverb.Client(self.server.address)
    items = list(client.sample(self.server.table_name, num_samples=200,
                                emit_timesteps=False))
    keys = sorted({s.info.key for s in items})
    self.assertLen(keys, 8)
    # The learner's update: one item much more likely than the rest.
    favourite = keys[3]
    updates = {key: 1e-4 for key in keys}
    updates[favourite] = 100.0
    client.mutate_priorities(self.server.table_name, updates)
    self.max_priority.raise_to(np.array(list(updates.values())))
    # With exponent 0.5: P = sqrt(100) / (sqrt(100) + 7 sqrt(1e-4)) = 0.993.
    expected_probability = 10.0 / (10.0 + 7 * 0.01)
    samples = list(client.sample(self.server.table_name, num_samples=300,
                                 emit_timesteps=False))
    favoured = [s for s in samples if s.info.key == favourite]
    # 298 expected; fewer than 280 has a probability below 1e-9.
    self.assertGreaterEqual(len(favoured), 280)
    for sample in favoured:
      self.assertAlmostEqual(sample.info.probability, expected_probability,
                             places=6)
    # Items written now start at the largest priority set so far.
    self.assertEqual(self.max_priority.value, 100.0)
    _write(self.server, self.max_priority)
    priorities = {s.info.key: s.info.priority for s in client.sample(
        self.server.table_name, num_samples=300, emit_timesteps=False)}
    new_keys = set(priorities) - set(keys)
    self.assertNotEmpty(new_keys)
    for key in new_keys:
      self.assertEqual(priorities[key], 100.0)


if __name__ == '__main__':
  absltest.main()
