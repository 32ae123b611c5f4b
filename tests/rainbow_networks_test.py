"""Tests for curl_tf.agents.rainbow.networks: noisy layers, shapes, dueling."""

import math

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from curl_tf.agents.rainbow import networks


class NoisyDenseTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    tf.random.set_seed(0)
    self.inputs = 5
    self.layer = networks.NoisyDense(3, sigma0=0.1)
    self.layer.build([None, self.inputs])

  def test_initial_parameters(self):
    bound = 1 / math.sqrt(self.inputs)
    for mu in (self.layer.mu_kernel, self.layer.mu_bias):
      self.assertLessEqual(np.abs(mu.numpy()).max(), bound)
    for sigma in (self.layer.sigma_kernel, self.layer.sigma_bias):
      np.testing.assert_allclose(sigma.numpy(), 0.1 / math.sqrt(self.inputs))

  def test_without_noise_is_the_mean_layer(self):
    x = tf.constant(np.random.default_rng(0).normal(size=(4, self.inputs)),
                    tf.float32)
    np.testing.assert_allclose(
        self.layer(x, noisy=False),
        x.numpy() @ self.layer.mu_kernel.numpy() + self.layer.mu_bias.numpy(),
        rtol=1e-5)

  def test_noise_is_shared_by_the_batch_and_fresh_each_call(self):
    x = tf.ones([2, self.inputs])
    first = self.layer(x).numpy()
    np.testing.assert_array_equal(first[0], first[1])
    self.assertGreater(np.abs(self.layer(x).numpy() - first).max(), 1e-4)

  def test_output_mean_and_variance_match_factorised_noise(self):
    # f(e) = sign(e) sqrt|e| with e ~ N(0, 1) has E f = 0 and
    # E f^2 = E|e| = sqrt(2/pi); weight and bias noise are uncorrelated, so
    # Var y_j = (2/pi) sum_i x_i^2 sigma_w^2 + sqrt(2/pi) sigma_b^2.
    x = tf.constant([[1.0, -2.0, 0.5, 0.0, 3.0]])

    @tf.function
    def draw_all():
      return tf.map_fn(
          lambda i: self.layer(x, seed=tf.stack([i, 1000 + i]))[0],
          tf.range(0, 40_000, 2), fn_output_signature=tf.float32)

    draws = draw_all().numpy()
    x = x.numpy()
    sigma2 = 0.1**2 / self.inputs
    expected_var = (2 / math.pi) * np.sum(x**2) * sigma2 + math.sqrt(
        2 / math.pi) * sigma2
    mean = self.layer(x, noisy=False)[0].numpy()
    standard_error = math.sqrt(expected_var / len(draws))
    np.testing.assert_allclose(draws.mean(0), mean, atol=4 * standard_error)
    np.testing.assert_allclose(draws.var(0), expected_var, rtol=0.05)


class RainbowNetworkTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    tf.random.set_seed(1)
    self.network = networks.RainbowNetwork(num_actions=6)
    self.frames = tf.constant(
        np.random.default_rng(1).integers(0, 256, (2, 84, 84, 4)), tf.uint8)

  def test_shapes_and_feature_count(self):
    self.assertEqual(self.network.encoder(self.frames).shape, (2, 576))
    log_probs, codes = self.network.log_probs_and_codes(self.frames)
    self.assertEqual(log_probs.shape, (2, 6, 51))
    self.assertEqual(codes.shape, (2, 128))
    np.testing.assert_allclose(tf.reduce_sum(tf.exp(log_probs), -1),
                               np.ones((2, 6)), rtol=1e-5)

  def test_parameter_counts(self):
    self.network(self.frames)
    self.network.codes(self.frames)
    counts = {layer.name: layer.count_params()
              for layer in (self.network.encoder, self.network.head,
                            self.network.projection)}
    # Convs: 5*5*4*32 + 32 and 5*5*32*64 + 64. Noisy layers hold mu and sigma
    # for kernel and bias: 2 (576*256 + 256) twice, 2 (256*51 + 51) and
    # 2 (256*6*51 + 6*51). Projection: 576*256 + 256 and 256*128 + 128.
    self.assertEqual(counts['encoder'], 3_232 + 51_264)
    self.assertEqual(counts['head'],
                     2 * 2 * 147_712 + 2 * 13_107 + 2 * 78_642)
    self.assertEqual(counts['projection'], 147_712 + 32_896)

  def test_dueling_combination(self):
    head = self.network.head
    features = self.network.encoder(self.frames)
    value = head.value(tf.nn.relu(head.value_hidden(features, noisy=False)),
                       noisy=False).numpy()[:, None, :]
    advantage = tf.reshape(
        head.advantage(tf.nn.relu(head.advantage_hidden(features,
                                                        noisy=False)),
                       noisy=False), [2, 6, 51]).numpy()
    logits = value + advantage - advantage.mean(axis=1, keepdims=True)
    expected = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(self.network(self.frames, noisy=False),
                               expected, rtol=1e-4, atol=1e-5)

  def test_codes_are_layer_normalised(self):
    codes = self.network.codes(self.frames).numpy()
    np.testing.assert_allclose(codes.mean(-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(codes.std(-1), 1.0, rtol=1e-2)


if __name__ == '__main__':
  absltest.main()
