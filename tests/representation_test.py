"""Tests for curl_tf.representation: restore, crops, logits, neighbours."""

import os
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from configs import learning_check
from curl_tf import checkpointing
from curl_tf import config_lib
from curl_tf import envs
from curl_tf import replay
from curl_tf import representation
from curl_tf import train_lib
# Sibling test modules: pytest puts tests/ (no __init__.py) on sys.path.
import agent_fixtures  # pylint: disable=g-bad-import-order
import export_test  # pylint: disable=g-bad-import-order


class NearestNeighboursTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.latents = np.array([
        [1.0, 0.0],   # 0
        [2.0, 0.2],   # 1: cos with 0 = 2 / sqrt(4.04) = 0.99504
        [0.0, 1.0],   # 2
        [-1.0, 0.0],  # 3: opposite of 0
        [0.1, 3.0],   # 4: cos with 2 = 3 / sqrt(9.01) = 0.99945
        [5.0, 5.0],   # 5: cos with 0 = 0.70711, but the largest dot product
    ])

  def test_cosine_neighbours_by_hand(self):
    indices, similarities = representation.nearest_neighbours(
        self.latents, [0, 2], k=2)
    # Query 0: 1 (0.99504), then 5 (0.70711), not 5 first as a dot product
    # (5 against 2) would rank them. Query 2: 4 (0.99945), 5 (0.70711).
    np.testing.assert_array_equal(indices, [[1, 5], [4, 5]])
    np.testing.assert_allclose(
        similarities, [[2 / np.sqrt(4.04), np.sqrt(0.5)],
                       [3 / np.sqrt(9.01), np.sqrt(0.5)]], rtol=1e-6)

  def test_a_query_is_never_its_own_neighbour(self):
    # With k = N - 1 every other row comes back once, the query never.
    indices, similarities = representation.nearest_neighbours(
        self.latents, [3], k=5)
    self.assertCountEqual(indices[0], [0, 1, 2, 4, 5])
    # Row 0 is exactly opposite: the farthest, cosine -1.
    self.assertEqual(indices[0, -1], 0)
    self.assertAlmostEqual(similarities[0, -1], -1.0)
    self.assertTrue(np.all(np.diff(similarities[0]) <= 0))

  def test_k_out_of_range(self):
    with self.assertRaisesRegex(ValueError, 'k must be in'):
      representation.nearest_neighbours(self.latents, [0], k=6)
    with self.assertRaisesRegex(ValueError, 'k must be in'):
      representation.nearest_neighbours(self.latents, [0], k=0)


class ContrastiveViewTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.agent = agent_fixtures.make_agent()

  def setUp(self):
    super().setUp()
    nets = self.agent.networks
    # As built: the key encoder a copy of the query encoder.
    for online, target in zip(nets.encoder.variables,
                              nets.target_encoder.variables):
      target.assign(online)
    self.agent.bilinear.w.assign(tf.eye(self.agent.bilinear.w.shape[0]))
    self.batch = agent_fixtures.batch(8, seed=3)

  def test_identical_crops_score_their_own_key_highest(self):
    # With W = I and one encoder, logit_ij = q_i . q_j. LayerNorm latents
    # (gain 1, bias 0 at init) all have |q|^2 = feature_dim (up to its
    # epsilon), so by Cauchy-Schwarz q_i . q_j < |q_i|^2 for distinct
    # frames: each row's maximum is its diagonal.
    obs = self.batch['obs']
    view = representation.contrastive_view(
        self.agent, dict(obs=obs, pos=obs))
    self.assertAllClose(np.diag(view.logits), np.zeros(8), atol=1e-4)
    self.assertEqual(view.accuracy, 1.0)
    # Row max subtracted: every logit <= 0.
    self.assertLessEqual(view.logits.max(), 1e-6)

  def test_accuracy_counts_positives_on_the_diagonal(self):
    # Key j is crop perm[j]: query i's best key is the j with perm[j] = i,
    # on the diagonal only where perm fixes i (2 of 8 rows).
    perm = np.array([0, 2, 1, 3, 5, 6, 7, 4])
    obs = self.batch['obs']
    view = representation.contrastive_view(
        self.agent, dict(obs=obs, pos=tf.gather(obs, perm)))
    np.testing.assert_array_equal(np.argmax(view.logits, axis=1),
                                  np.argsort(perm))
    self.assertEqual(view.accuracy, 0.25)

  def test_anchors_through_online_encoder_positives_through_key_encoder(self):
    nets = self.agent.networks
    rng = np.random.default_rng(0)
    for target in nets.target_encoder.variables:
      target.assign(target + rng.normal(0, 0.1, target.shape).astype(
          np.float32))
    w = rng.normal(size=self.agent.bilinear.w.shape).astype(np.float32)
    self.agent.bilinear.w.assign(w)
    view = representation.contrastive_view(self.agent, self.batch)
    q = nets.encoder(self.batch['obs']).numpy()
    k = nets.target_encoder(self.batch['pos']).numpy()
    expected = q @ w @ k.T
    expected -= expected.max(axis=1, keepdims=True)
    self.assertAllClose(view.logits, expected, rtol=1e-4, atol=1e-3)
    # Keys from the online encoder would give other logits.
    k_online = nets.encoder(self.batch['pos']).numpy()
    other = q @ w @ k_online.T
    other -= other.max(axis=1, keepdims=True)
    self.assertGreater(np.abs(view.logits - other).max(), 0.1)
    # The loss is InfoNCE's on these logits, by hand.
    log_softmax = expected - np.log(np.exp(expected).sum(1, keepdims=True))
    self.assertAllClose(view.loss, -np.mean(np.diag(log_softmax)),
                        rtol=1e-4)
    self.assertAllEqual(view.anchors, self.batch['obs'][..., -3:])
    self.assertAllEqual(view.positives, self.batch['pos'][..., -3:])

  def test_encode_in_chunks_centre_crops_full_frames(self):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (5, 32, 32, 9), dtype=np.uint8)
    encoder = self.agent.networks.encoder
    latents = representation.encode(encoder, frames, chunk_size=2)
    self.assertEqual(latents.shape, (5, 50))
    # 32 -> 28: the centre crop starts at (32 - 28) // 2 = 2.
    self.assertAllClose(latents, encoder(frames[:, 2:30, 2:30]), atol=1e-5)

  def test_encoder_frames_are_the_newest_frame_of_the_centre_crop(self):
    frames = np.arange(2 * 32 * 32 * 9, dtype=np.int64).reshape(
        2, 32, 32, 9).astype(np.uint8)
    self.assertAllEqual(representation.encoder_frames(frames, 28),
                        frames[:, 2:30, 2:30, 6:9])


# Frames of the saved run's one episode: channel 0 holds the step, channels
# 1 and 2 the column and row, so a crop tells which step and offset it is.
_EPISODE_STEPS = 20


def _frame(step):
  rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing='ij')
  return np.stack([np.full((32, 32), step), cols, rows],
                  axis=-1).astype(np.uint8)


class RestoreRunTest(tf.test.TestCase):
  """A run written by hand as train_lib writes one, read back."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.workdir = tempfile.mkdtemp()
    config = learning_check.get_config()
    config.update(precision='float32', replay_capacity=1000, batch_size=8)
    config_lib.save_or_check_run_config(config, cls.workdir)
    env = envs.make_environment(config, seed=config.seed)
    agent = train_lib.make_agent(config, env)
    env.close()
    rng = np.random.default_rng(7)
    # Values no fresh agent has: a restore that reads nothing fails.
    agent.bilinear.w.assign(rng.normal(size=agent.bilinear.w.shape))
    for target in agent.networks.target_encoder.variables:
      target.assign(target + rng.normal(0, 0.1, target.shape).astype(
          np.float32))
    cls.saved = {
        'w': agent.bilinear.w.numpy(),
        'encoder': [v.numpy() for v in agent.networks.encoder.variables],
        'target_encoder': [
            v.numpy() for v in agent.networks.target_encoder.variables],
    }
    checkpointer = checkpointing.RunCheckpointer(cls.workdir, agent)
    server = replay.make_replay_server(
        config, 1, checkpoint_root=checkpointer.empty_reverb_root())
    with replay.ReplayWriter(server.address, server.table_name,
                             config.frame_stack) as writer:
      writer.start_episode(_frame(0))
      for step in range(1, _EPISODE_STEPS + 1):
        writer.add(np.array([0.5], np.float32), 1.0, 1.0, _frame(step))
    checkpointer.save(
        checkpointing.LoopState(
            env_step=160, episode_count=0,
            action_rng_state=np.random.default_rng(0).bit_generator.state,
            learning_start_agent_step=1000),
        server.address, server.table_name, wait=True)
    server.close()
    cls.files = export_test.file_contents(cls.workdir)
    cls.trained = representation.restore_run(cls.workdir)

  def test_restores_the_checkpointed_agent_and_writes_nothing(self):
    self.assertEqual(self.trained.env_step, 160)
    self.assertEqual(self.trained.config.image_size, 32)
    nets = self.trained.agent.networks
    self.assertAllEqual(self.trained.agent.bilinear.w, self.saved['w'])
    for got, want in zip(nets.encoder.variables, self.saved['encoder']):
      self.assertAllEqual(got, want)
    for got, want in zip(nets.target_encoder.variables,
                         self.saved['target_encoder']):
      self.assertAllEqual(got, want)
    self.assertEqual(export_test.file_contents(self.workdir), self.files)

  def test_batch_holds_two_independent_crops_of_each_observation(self):
    with representation.replay_server(self.trained) as server:
      batch = representation.replay_batch(self.trained, server, seed=0)
    obs, pos = batch['obs'].numpy(), batch['pos'].numpy()
    self.assertEqual(obs.shape, (8, 28, 28, 9))  # The run's batch size.
    # Channel 0 of each frame of the stack: the same steps in both crops.
    self.assertAllEqual(obs[:, 0, 0, 0::3], pos[:, 0, 0, 0::3])
    # Top-left column and row: the crop offsets, each in 0..4.
    obs_offsets, pos_offsets = obs[:, 0, 0, 1:3], pos[:, 0, 0, 1:3]
    self.assertLessEqual(max(obs_offsets.max(), pos_offsets.max()), 4)
    self.assertFalse(np.array_equal(obs_offsets, pos_offsets))
    self.assertEqual(export_test.file_contents(self.workdir), self.files)

  def test_observations_are_distinct_stacks_of_the_replay(self):
    with representation.replay_server(self.trained) as server:
      observations = representation.replay_observations(self.trained, server,
                                                        num_samples=64)
    # Item t (t = 1..20) holds steps max(0, t - 3)..t; its obs is the first
    # three, the episode's first frame repeated in front.
    stored = {tuple(max(0, t - 3 + i) for i in range(3))
              for t in range(1, _EPISODE_STEPS + 1)}
    steps = [tuple(o[0, 0, 0::3]) for o in observations]
    self.assertEqual(observations.shape[1:], (32, 32, 9))
    self.assertLen(set(steps), len(steps))
    self.assertContainsSubset(steps, stored)
    self.assertLessEqual(len(steps), _EPISODE_STEPS)

  def test_workdir_without_checkpoint_or_config(self):
    empty = tempfile.mkdtemp()
    with self.assertRaisesRegex(config_lib.ConfigError, 'config.json'):
      representation.restore_run(empty)
    with open(os.path.join(self.workdir, 'config.json')) as f:
      config_text = f.read()
    with open(os.path.join(empty, 'config.json'), 'w') as f:
      f.write(config_text)
    with self.assertRaisesRegex(config_lib.ConfigError, 'no checkpoint'):
      representation.restore_run(empty)
    self.assertEqual(os.listdir(empty), ['config.json'])


if __name__ == '__main__':
  absltest.main()
