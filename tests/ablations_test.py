"""The ablation variants are really in effect: similarity, keys, coef, mode.

Figure 5's cosine similarity and "no EMA" keys, Table 1's pixel SAC
(curl_coef 0) and the official code's two Adam steps on the encoder
('official' update mode), each on the 32x32 agent of agent_fixtures.
"""

import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from curl_tf import config_lib
from curl_tf import contrastive
from tests import agent_fixtures as fx

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train(agent, batch, steps=2):
  return [{k: float(v) for k, v in agent.train(batch).extra.items()}
          for _ in range(steps)]


def _w_gradient(agent, batch):
  """W's gradient in a joint step (only the contrastive loss reaches W)."""
  gradients, _, _ = agent.joint_gradients(batch, update_actor=False)
  return gradients[-1].numpy()


def _scramble(variables, seed):
  rng = np.random.default_rng(seed)
  for v in variables:
    v.assign(rng.normal(size=v.shape).astype(v.dtype.as_numpy_dtype))


def _adam_first_step(gradient, learning_rate, epsilon=1e-8, beta_2=0.999):
  """How far Keras' Adam moves a variable on its first step (beta_1 cancels).

  m = (1 - b1) g, v = (1 - b2) g^2, alpha = lr sqrt(1 - b2) / (1 - b1):
  the step is alpha m / (sqrt(v) + eps).
  """
  root = np.sqrt(1 - beta_2)
  return learning_rate * root * gradient / (root * np.abs(gradient) + epsilon)


class CosineSimilarityTest(tf.test.TestCase):

  def test_logits_by_hand_and_bounded_by_one_over_temperature(self):
    similarity = contrastive.CosineSimilarity(temperature=0.5)
    queries = tf.constant([[3.0, 4.0], [1.0, 0.0]])
    keys = tf.constant([[6.0, 8.0], [0.0, -2.0]])
    # cos(q0, k0) = 1, cos(q0, k1) = -4/5, cos(q1, k0) = 3/5, cos(q1, k1) = 0.
    self.assertAllClose(similarity.logits(queries, keys),
                        [[2.0, -1.6], [1.2, 0.0]])
    rng = np.random.default_rng(0)
    big = tf.constant(rng.normal(size=(64, 50)) * 1e3, tf.float32)
    logits = similarity.logits(big, big[::-1]).numpy()
    self.assertLessEqual(np.abs(logits).max(), 2.0 + 1e-5)

  def test_agent_trains_with_it_and_has_no_w(self):
    agent = fx.make_agent(similarity='cosine', curl_temperature=0.1)
    self.assertIsNone(agent.bilinear)
    self.assertNotIn('bilinear', agent.checkpoint_items())
    self.assertLen(agent.curl_variables(),
                   len(agent.networks.encoder.trainable_variables))
    batch = fx.batch(16)
    nets = agent.networks
    logits = agent.similarity.logits(nets.encoder(batch['obs']),
                                     nets.target_encoder(batch['pos']))
    self.assertLessEqual(np.abs(logits.numpy()).max(), 10.0 + 1e-4)
    for metrics in _train(agent, batch):
      self.assertTrue(np.isfinite(metrics['curl_loss']), metrics)
      self.assertTrue(np.isfinite(metrics['critic_loss']), metrics)


class KeyEncoderTest(parameterized.TestCase, tf.test.TestCase):

  @parameterized.parameters('joint', 'sequential')
  def test_query_keys_never_read_the_key_encoder(self, mode):
    batch = fx.batch(16)
    gradients = {}
    for key_encoder in ('query', 'momentum'):
      agent = fx.make_agent(key_encoder=key_encoder, update_mode=mode)
      nets = agent.networks
      self.assertAllClose(agent.curl_keys(batch['pos']),
                          nets.encoder(batch['pos']) if key_encoder == 'query'
                          else nets.target_encoder(batch['pos']))
      before = _w_gradient(agent, batch)
      # Scrambled key-encoder weights: keys from it would change W's
      # gradient completely.
      _scramble(nets.target_encoder.variables, seed=1)
      gradients[key_encoder] = (before, _w_gradient(agent, batch))
    self.assertAllClose(*gradients['query'], rtol=1e-6, atol=1e-7)
    self.assertGreater(
        np.abs(gradients['momentum'][0] - gradients['momentum'][1]).max(),
        1e-3)

  def test_query_keys_train(self):
    agent = fx.make_agent(key_encoder='query', update_mode='sequential')
    for metrics in _train(agent, fx.batch(16)):
      self.assertTrue(np.isfinite(metrics['curl_loss']), metrics)


class CurlCoefTest(parameterized.TestCase, tf.test.TestCase):

  @parameterized.parameters('joint', 'sequential', 'official')
  def test_zero_is_pixel_sac_with_no_contrastive_work(self, mode):
    agent = fx.make_agent(curl_coef=0.0, update_mode=mode)
    self.assertIsNone(agent.similarity)
    self.assertIsNone(agent.bilinear)
    self.assertIsNone(agent.curl_optimizer)
    self.assertIsNone(agent.encoder_optimizer)
    self.assertEqual(set(agent.checkpoint_items()) &
                     {'bilinear', 'curl_optimizer', 'encoder_optimizer'},
                     set())
    batch = fx.batch(16)
    # No positives at all: a step that read them would fail.
    del batch['pos']
    before = fx.snapshot(agent)
    metrics = _train(agent, batch, steps=1)[0]
    self.assertNotIn('curl_loss', metrics)
    self.assertNotIn('curl_accuracy', metrics)
    self.assertTrue(np.isfinite(metrics['critic_loss']))
    self.assertIn('encoder', fx.changed(before, agent))

  def test_coef_scales_the_contrastive_gradient(self):
    batch = fx.batch(16)
    full = _w_gradient(fx.make_agent(curl_coef=1.0), batch)
    half = _w_gradient(fx.make_agent(curl_coef=0.5), batch)
    self.assertGreater(np.abs(full).max(), 1e-4)
    self.assertAllClose(half, 0.5 * full, rtol=1e-5, atol=1e-9)


class OfficialModeTest(parameterized.TestCase, tf.test.TestCase):

  @parameterized.parameters(('official', 2), ('sequential', 1))
  def test_contrastive_update_steps_the_encoder_adam_by_adam(self, mode,
                                                             encoder_steps):
    agent = fx.make_agent(update_mode=mode)
    batch = fx.batch(16)
    nets = agent.networks
    variables = agent.curl_variables()
    num_encoder = len(nets.encoder.trainable_variables)
    # The reference, by hand: the contrastive loss's gradient on this batch.
    with tf.GradientTape() as tape:
      logits = agent.bilinear.logits(nets.encoder(batch['obs']),
                                     nets.target_encoder(batch['pos']))
      loss = contrastive.info_nce_loss(logits)
    gradients = [g.numpy() for g in tape.gradient(loss, variables)]
    before = [v.numpy().copy() for v in variables]
    agent.strategy.run(agent._contrastive_update, args=(batch,))
    learning_rate = agent._config.encoder_lr
    for i, (variable, gradient, old) in enumerate(
        zip(variables, gradients, before)):
      steps = encoder_steps if i < num_encoder else 1
      expected = old - steps * _adam_first_step(gradient, learning_rate)
      # Where |g| is round-off itself the step's sign is not defined:
      # compare where the gradient is clearly above Adam's epsilon.
      clear = np.abs(gradient) > 1e-6
      self.assertGreater(clear.mean(), 0.5, variable.name)
      self.assertAllClose(variable.numpy()[clear], expected[clear],
                          rtol=1e-4, atol=1e-6, msg=variable.name)

  def test_trains_and_checkpoints_its_second_optimizer(self):
    agent = fx.make_agent(update_mode='official')
    self.assertIn('encoder_optimizer', agent.checkpoint_items())
    for metrics in _train(agent, fx.batch(16), steps=3):
      self.assertTrue(np.isfinite(metrics['curl_loss']), metrics)
    self.assertEqual(int(agent.encoder_optimizer.iterations), 3)
    self.assertEqual(int(agent.curl_optimizer.iterations), 3)


class AblationConfigsTest(tf.test.TestCase):

  def test_every_ablation_config_loads_and_validates(self):
    directory = os.path.join(_REPO, 'configs', 'ablations')
    names = sorted(n for n in os.listdir(directory) if n.endswith('.py'))
    self.assertNotEmpty(names)
    base = config_lib.load_config_file(
        os.path.join(_REPO, 'configs', 'learning_check.py'))
    for name in names:
      with self.subTest(name):
        config = config_lib.load_config_file(os.path.join(directory, name))
        config_lib.validate_config(config)
        differing = {k for k in base if base[k] != config[k]}
        # Each is a few lines over learning_check: only the variant's fields.
        self.assertNotEmpty(differing)
        self.assertLessEqual(differing, {
            'similarity', 'curl_temperature', 'key_encoder', 'curl_coef',
            'update_mode', 'observation', 'frame_stack'}, name)


if __name__ == '__main__':
  tf.test.main()
