"""Tests for curl_tf.replay against a real in-process Reverb server."""

from absl.testing import absltest
import numpy as np
import reverb
import tensorflow as tf

from configs import default
from curl_tf import replay

FRAME_STACK = 3
ACTION_DIM = 2
# Transitions per episode. 0: reset twice in a row; 1 and 2: shorter than a
# stack, so the sampled frames need padding.
EPISODE_LENGTHS = (3, 1, 0, 2, 6, 1)
# The one terminal transition (discount 0): (episode, step).
TERMINAL = (4, 6)


def _config(image_size):
  config = default.get_config()
  config.replay_capacity = 1000
  config.image_size = image_size
  return config


def _start_server(test, image_size):
  server = replay.make_replay_server(_config(image_size), ACTION_DIM)
  test.addCleanup(server.close)
  return server


def _tagged_frame(episode, step, size):
  """A frame whose pixels encode (episode, step) and their own position."""
  rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing='ij')
  frame = np.stack([np.full([size, size], episode),
                    np.full([size, size], step),
                    (rows * 7 + cols * 3 + step) % 256], axis=-1)
  return frame.astype(np.uint8)


def _write_episodes(server, size):
  """Writes EPISODE_LENGTHS episodes; returns {(episode, step): transition}.

  The transition ending at `step` holds the frames 0..step of its episode,
  and its action, reward and discount.
  """
  transitions = {}
  with replay.ReplayWriter(server.address, server.table_name,
                           FRAME_STACK) as writer:
    for episode, length in enumerate(EPISODE_LENGTHS):
      frames = [_tagged_frame(episode, 0, size)]
      writer.start_episode(frames[0])
      for step in range(1, length + 1):
        frames.append(_tagged_frame(episode, step, size))
        action = np.array([episode, step], np.float32)
        reward = 100.0 * episode + step
        discount = 0.0 if (episode, step) == TERMINAL else 1.0
        writer.add(action, reward, discount, frames[-1])
        transitions[(episode, step)] = (list(frames), action, reward,
                                        discount)
  return transitions


def _naive_stack(frames, t):
  """Observation at frame t: frames t-k+1..t, the first repeated at reset."""
  indices = [max(i, 0) for i in range(t - FRAME_STACK + 1, t + 1)]
  return np.concatenate([frames[i] for i in indices], axis=-1)


class ReplayTest(absltest.TestCase):

  def test_server_table_is_empty_with_configured_capacity_and_signature(self):
    server = _start_server(self, image_size=100)
    info = reverb.Client(server.address).server_info()[server.table_name]
    self.assertEqual(info.max_size, 1000)
    self.assertEqual(info.signature['frames'].shape.as_list(),
                     [None, 100, 100, 3])
    self.assertEqual(info.signature['action'].shape.as_list(), [ACTION_DIM])
    self.assertEqual(replay.table_size(server.address, server.table_name), 0)

  def test_table_holds_one_item_per_transition(self):
    server = _start_server(self, image_size=12)
    transitions = _write_episodes(server, size=12)
    self.assertLen(transitions, sum(EPISODE_LENGTHS))
    self.assertEqual(replay.table_size(server.address, server.table_name),
                     sum(EPISODE_LENGTHS))

  def test_sampled_stacks_equal_naive_frame_stacks(self):
    size = 12  # Small frames: the layout logic does not depend on the size.
    server = _start_server(self, image_size=size)
    transitions = _write_episodes(server, size)
    dataset = replay.make_stacked_dataset(
        server.address, server.table_name, frame_stack=FRAME_STACK,
        batch_size=50)
    seen = set()
    for batch in dataset.take(12).as_numpy_iterator():
      self.assertEqual(batch['obs'].shape, (50, size, size, 3 * FRAME_STACK))
      self.assertEqual(batch['obs'].dtype, np.uint8)
      for i in range(50):
        episode, step = (int(v) for v in batch['action'][i])
        frames, action, reward, discount = transitions[(episode, step)]
        np.testing.assert_array_equal(batch['obs'][i],
                                      _naive_stack(frames, step - 1))
        np.testing.assert_array_equal(batch['next_obs'][i],
                                      _naive_stack(frames, step))
        np.testing.assert_array_equal(batch['action'][i], action)
        self.assertEqual(batch['reward'][i], reward)
        self.assertEqual(batch['discount'][i], discount)
        seen.add((episode, step))
    # 600 uniform draws over 13 items: each is missed with prob. ~1e-21.
    self.assertEqual(seen, set(transitions))

  def test_cropped_next_obs_is_obs_shifted_by_one_step(self):
    size = 20
    server = _start_server(self, image_size=size)
    _write_episodes(server, size)
    dataset = replay.make_dataset(
        server.address, server.table_name, frame_stack=FRAME_STACK,
        batch_size=64, crop_size=16, seed=0, prefetch_batches=1)
    for batch in dataset.take(3).as_numpy_iterator():
      # Channels 0 and 1 of a tagged frame are constant (episode and step),
      # so any crop of a frame still tells which frame it was.
      obs_steps = batch['obs'][:, 0, 0, 1::3]
      next_steps = batch['next_obs'][:, 0, 0, 1::3]
      episode, step = batch['action'][:, 0], batch['action'][:, 1]
      # next_obs drops obs's oldest frame and appends the next step's.
      np.testing.assert_array_equal(next_steps[:, :-1], obs_steps[:, 1:])
      np.testing.assert_array_equal(next_steps[:, -1], obs_steps[:, -1] + 1)
      np.testing.assert_array_equal(next_steps[:, -1], step)
      # Oldest first, padded with the episode's first frame: non-decreasing
      # steps, all of the transition's episode.
      self.assertTrue(np.all(np.diff(obs_steps, axis=1) >= 0))
      for key in ('obs', 'next_obs', 'pos'):
        np.testing.assert_array_equal(
            batch[key][:, 0, 0, 0::3],
            np.repeat(episode[:, None], FRAME_STACK, axis=1), key)

  def test_dataset_rejects_a_frame_stack_larger_than_written(self):
    server = _start_server(self, image_size=12)
    _write_episodes(server, size=12)
    dataset = replay.make_stacked_dataset(
        server.address, server.table_name, frame_stack=FRAME_STACK - 1,
        batch_size=50)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                'disagree on frame_stack'):
      next(iter(dataset))

  def test_cropped_batches_shapes_dtypes_and_independent_offsets(self):
    server = _start_server(self, image_size=100)
    _write_episodes_with_position_frames(server)
    batch_size = 64
    make = lambda seed: replay.make_dataset(
        server.address, server.table_name, frame_stack=FRAME_STACK,
        batch_size=batch_size, crop_size=84, seed=seed, prefetch_batches=1)
    batch = next(iter(make(seed=0)))
    crop_shape = [batch_size, 84, 84, 3 * FRAME_STACK]
    for key in ('obs', 'next_obs', 'pos'):
      self.assertEqual(batch[key].shape.as_list(), crop_shape)
      self.assertEqual(batch[key].dtype, tf.uint8)
    self.assertEqual(batch['action'].shape.as_list(), [batch_size, ACTION_DIM])
    self.assertEqual(batch['action'].dtype, tf.float32)
    for key in ('reward', 'discount'):
      self.assertEqual(batch[key].shape.as_list(), [batch_size])
      self.assertEqual(batch[key].dtype, tf.float32)

    offsets = {key: _read_offsets(batch[key].numpy())
               for key in ('obs', 'next_obs', 'pos')}
    for key, value in offsets.items():
      self.assertTrue(np.all((value >= 0) & (value <= 16)), key)
    # Same offsets by chance with prob. 1/289 per sample.
    self.assertGreater(
        np.mean(np.any(offsets['obs'] != offsets['pos'], axis=1)), 0.9)
    self.assertGreater(
        np.mean(np.any(offsets['obs'] != offsets['next_obs'], axis=1)), 0.9)
    # pos is a crop of the same observation as obs: same frames (step tags).
    np.testing.assert_array_equal(batch['pos'].numpy()[:, 0, 0, 2::3],
                                  batch['obs'].numpy()[:, 0, 0, 2::3])

    # The offsets depend on the seed only, not on which items were sampled.
    again = next(iter(make(seed=0)))
    np.testing.assert_array_equal(_read_offsets(again['obs'].numpy()),
                                  offsets['obs'])
    other = next(iter(make(seed=1)))
    self.assertFalse(np.array_equal(_read_offsets(other['obs'].numpy()),
                                    offsets['obs']))


def _write_episodes_with_position_frames(server):
  """Frames whose channels 0 and 1 hold each pixel's row and column."""
  rows, cols = np.meshgrid(np.arange(100), np.arange(100), indexing='ij')
  frame = lambda step: np.stack(
      [rows, cols, np.full([100, 100], step)], axis=-1).astype(np.uint8)
  with replay.ReplayWriter(server.address, server.table_name,
                           FRAME_STACK) as writer:
    for _ in range(2):
      writer.start_episode(frame(0))
      for step in range(1, 6):
        writer.add(np.zeros([ACTION_DIM]), 0.0, 1.0, frame(step))


def _read_offsets(crops):
  """(y, x) offsets of position-frame crops; checks every frame agrees."""
  for f in range(1, FRAME_STACK):
    np.testing.assert_array_equal(crops[..., 3 * f:3 * f + 2], crops[..., 0:2])
  return crops[:, 0, 0, 0:2].astype(np.int32)


if __name__ == '__main__':
  absltest.main()
