"""Tests for curl_tf.agents.sac.networks.

Shapes, parameter counts, init, sampling.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tf_agents.specs import tensor_spec

from configs import default
from curl_tf.agents.sac import networks

# Hand counts for the paper's encoder at 84x84 with a stack of 3 RGB frames.
# Conv: 3x3 kernels, 32 filters; 84 -> 41 (stride 2) -> 39 -> 37 -> 35.
_CONV_PARAMS = (3 * 3 * 9 * 32 + 32) + 3 * (3 * 3 * 32 * 32 + 32)  # 30,368
_FLAT = 35 * 35 * 32  # 39,200
_LAYER_NORM_PARAMS = 2 * 50


def _config(**overrides):
  config = default.get_config()
  config.update(overrides)
  return config


def _pixels(batch, size=84, seed=0):
  rng = np.random.default_rng(seed)
  return tf.constant(rng.integers(0, 256, (batch, size, size, 9), np.uint8))


class EncoderTest(tf.test.TestCase):

  def test_linear_head_parameter_count_and_shape(self):
    encoder = networks.make_encoder(_config(encoder_head='linear'))
    features = encoder(_pixels(4))
    self.assertEqual(features.shape, (4, 50))
    expected = _CONV_PARAMS + (_FLAT * 50 + 50) + _LAYER_NORM_PARAMS
    self.assertEqual(expected, 1_990_518)
    self.assertEqual(encoder.count_params(), expected)
    # LayerNorm without tanh: each row has mean 0 and variance ~1.
    self.assertAllClose(tf.reduce_mean(features, axis=1), np.zeros(4),
                        atol=1e-5)
    self.assertAllClose(tf.math.reduce_variance(features, axis=1),
                        np.ones(4), atol=1e-2)

  def test_mlp_head_parameter_count_and_shape(self):
    encoder = networks.make_encoder(_config(encoder_head='mlp'))
    features = encoder(_pixels(4))
    self.assertEqual(features.shape, (4, 50))
    expected = (_CONV_PARAMS + (_FLAT * 1024 + 1024) + (1024 * 50 + 50) +
                _LAYER_NORM_PARAMS)
    self.assertEqual(expected, 40_223_542)
    self.assertEqual(encoder.count_params(), expected)
    # The pseudocode's final tanh bounds the features.
    self.assertLess(float(tf.reduce_max(tf.abs(features))), 1.0)

  def test_trunk_centre_crops_full_frames(self):
    trunk = networks.ConvTrunk(crop_size=84)
    frames = _pixels(2, size=100)
    self.assertAllClose(trunk(frames), trunk(frames[:, 8:92, 8:92, :]))
    self.assertEqual(trunk(frames).shape, (2, _FLAT))

  def test_delta_orthogonal_init(self):
    kernel = networks.DeltaOrthogonal(gain=np.sqrt(2.0), seed=3)(
        (3, 3, 9, 32)).numpy()
    centre = kernel[1, 1]
    off_centre = kernel.copy()
    off_centre[1, 1] = 0.0
    self.assertAllEqual(off_centre, np.zeros_like(kernel))
    # Rows of the [9, 32] centre are orthogonal with squared norm gain^2 = 2.
    self.assertAllClose(centre @ centre.T, 2.0 * np.eye(9), atol=1e-5)


class ActorTest(tf.test.TestCase):

  def _actor(self):
    config = _config()
    obs_spec = tensor_spec.TensorSpec([100, 100, 9], tf.uint8)
    action_spec = tensor_spec.BoundedTensorSpec([2], tf.float32, -1.0, 1.0)
    nets = networks.CurlNetworks(config, obs_spec, action_spec)
    return nets

  def test_head_parameter_counts(self):
    nets = self._actor()  # 2 actions, 1024 hidden units, 50 features.
    count = lambda variables: sum(int(np.prod(v.shape)) for v in variables)
    # Q head: [features, action] 52 -> 1024 -> 1024 -> 1.
    q_head = (52 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 + 1)
    self.assertEqual(q_head, 1_104_897)
    for head in nets.q_heads + nets.target_q_heads:
      self.assertEqual(count(head.variables), q_head)
    # Policy head: 50 -> 1024 -> 1024 -> 2 x 2 (mean and log std).
    policy_head = (50 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 4 + 4)
    self.assertEqual(policy_head, 1_105_924)
    self.assertEqual(count(nets.actor.policy_head.variables), policy_head)
    # The actor's own linear head on the shared conv output.
    actor_head = (_FLAT * 50 + 50) + _LAYER_NORM_PARAMS
    self.assertEqual(count(nets.actor.head.variables), actor_head)
    # What each loss trains: the critic's encoder and both Q heads; the
    # actor's head and policy MLP, never the conv layers.
    encoder = _CONV_PARAMS + (_FLAT * 50 + 50) + _LAYER_NORM_PARAMS
    self.assertEqual(count(nets.critic_variables()), encoder + 2 * q_head)
    self.assertEqual(count(nets.actor_variables()), actor_head + policy_head)

  def test_log_std_within_bounds(self):
    nets = self._actor()
    conv = nets.encoder.trunk(_pixels(8)) * 1e3  # Push pre-activations far.
    _, log_std = nets.actor.mean_and_log_std(conv)
    self.assertGreaterEqual(float(tf.reduce_min(log_std)), -10.0)
    self.assertLessEqual(float(tf.reduce_max(log_std)), 2.0)

  def test_actor_shares_conv_but_not_head(self):
    nets = self._actor()
    self.assertIs(nets.actor.trunk, nets.encoder.trunk)
    self.assertIsNot(nets.actor.head, nets.encoder.head)
    self.assertIs(nets.critic_1.encoder, nets.critic_2.encoder)
    self.assertIs(nets.target_critic_1.encoder, nets.target_critic_2.encoder)
    online = {v.ref() for v in nets.encoder.variables}
    self.assertFalse(online & {v.ref() for v in nets.target_encoder.variables})

  def test_policy_mode_is_tanh_of_mean(self):
    nets = self._actor()
    frames = _pixels(3, size=100)
    distribution, _ = nets.actor(frames)
    mean, _ = nets.actor.mean_and_log_std(nets.actor.conv_features(frames))
    self.assertAllClose(distribution.mode(), tf.tanh(mean), atol=1e-6)


class SampleTanhGaussianTest(tf.test.TestCase):

  def test_log_prob_matches_tfp(self):
    mean = tf.constant([[0.3, -1.2], [2.0, 0.0]])
    log_std = tf.constant([[-0.5, 0.1], [0.4, -2.0]])
    actions, log_prob = networks.sample_tanh_gaussian(
        mean, log_std, seed=tf.constant([1, 2]))
    reference = tfp.distributions.TransformedDistribution(
        tfp.distributions.MultivariateNormalDiag(mean, tf.exp(log_std)),
        tfp.bijectors.Tanh())
    self.assertAllClose(log_prob, reference.log_prob(actions), atol=1e-3)
    self.assertLess(float(tf.reduce_max(tf.abs(actions))), 1.0)

  def test_hand_computed_log_prob_at_zero_noise(self):
    # With std -> 0 the sample is tanh(mean) and the Gaussian term is
    # -log_std - log(2 pi)/2 - noise^2/2 per dim; check one dim by hand with
    # a fixed seed by recomputing the noise.
    mean = tf.constant([[0.5]])
    log_std = tf.constant([[-1.0]])
    seed = tf.constant([7, 9])
    actions, log_prob = networks.sample_tanh_gaussian(mean, log_std, seed)
    noise = tf.random.stateless_normal([1, 1], seed).numpy()[0, 0]
    u = 0.5 + noise * np.exp(-1.0)
    expected = (-0.5 * noise**2 + 1.0 - 0.5 * np.log(2 * np.pi) -
                np.log(1.0 - np.tanh(u)**2))
    self.assertAllClose(actions, [[np.tanh(u)]], atol=1e-6)
    self.assertAllClose(log_prob, [expected], atol=1e-4)


if __name__ == '__main__':
  tf.test.main()
