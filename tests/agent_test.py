"""Tests for curl_tf.agent: settings, gradient routing, EMA, both modes."""

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from configs import default
from curl_tf import agent as agent_lib
from curl_tf import augmentations
from curl_tf import networks

_NUM_ACTIONS = 2
# Train steps on one fixed batch of 32 in the mode tests: both modes reach
# top-1 accuracy 1.0 within 50-80 steps with the paper's learning rate.
_STEPS = 100


def _make_agent(**overrides):
  config = default.get_config()
  config.update(overrides)
  tf.random.set_seed(config.seed)
  obs_spec = tensor_spec.TensorSpec([100, 100, 9], tf.uint8, 'observation')
  action_spec = tensor_spec.BoundedTensorSpec([_NUM_ACTIONS], tf.float32,
                                              -1.0, 1.0, 'action')
  agent = agent_lib.CurlSacAgent(config, ts.time_step_spec(obs_spec),
                                 action_spec)
  agent.initialize()
  return agent


def _batch(batch_size, seed=0):
  """Crops of smooth random frames: 'pos' is another crop of the same frames.

  Frames are bilinear upsamplings of 10x10 noise, so, like rendered scenes,
  two crops of one frame look alike and crops of different frames do not.
  """
  rng = np.random.default_rng(seed)

  def frames():
    small = rng.uniform(0, 255, (batch_size, 10, 10, 9)).astype(np.float32)
    return tf.cast(tf.image.resize(small, (100, 100)), tf.uint8)

  obs_frames, next_frames = frames(), frames()
  return {
      'obs': augmentations.random_crop(obs_frames, 84, tf.constant([seed, 1])),
      'pos': augmentations.random_crop(obs_frames, 84, tf.constant([seed, 2])),
      'next_obs': augmentations.random_crop(next_frames, 84,
                                            tf.constant([seed, 3])),
      'action': tf.constant(
          rng.uniform(-1, 1, (batch_size, _NUM_ACTIONS)).astype(np.float32)),
      'reward': tf.constant(rng.uniform(0, 1, batch_size).astype(np.float32)),
      'discount': tf.ones([batch_size]),
  }


def _values(variables):
  return [v.numpy().copy() for v in variables]


class SettingsTest(tf.test.TestCase):

  def test_paper_settings(self):
    agent = _make_agent()
    # Table 3: initial temperature 0.1; official code: target entropy -|A|.
    self.assertAllClose(tf.exp(agent.log_alpha), 0.1)
    self.assertEqual(agent.target_entropy, -float(_NUM_ACTIONS))
    self.assertAllClose(agent.alpha_optimizer.beta_1, 0.5)
    self.assertAllClose(agent.alpha_optimizer.learning_rate, 1e-4)
    self.assertAllClose(agent.critic_optimizer.beta_1, 0.9)
    self.assertAllClose(agent.critic_optimizer.learning_rate, 1e-3)

  def test_targets_start_as_copies(self):
    agent = _make_agent()
    nets = agent.networks
    for online, target in zip(nets.encoder.variables,
                              nets.target_encoder.variables):
      self.assertAllEqual(online, target)
    for online, target in zip(nets.critic_2.q_head.variables,
                              nets.target_critic_2.q_head.variables):
      self.assertAllEqual(online, target)


class GradientRoutingTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.agent = _make_agent()
    self.nets = self.agent.networks
    self.batch = _batch(8)
    self.conv = self.nets.encoder.trunk.trainable_variables
    self.keys = self.nets.target_encoder.trainable_variables

  def _gradients(self, loss_fn, variables):
    with tf.GradientTape() as tape:
      loss = loss_fn()
    return tape.gradient(loss, variables)

  def _assert_nonzero(self, gradients):
    for grad in gradients:
      self.assertIsNotNone(grad)
      self.assertGreater(float(tf.reduce_sum(tf.abs(grad))), 0.0)

  def test_critic_loss_trains_conv_not_keys(self):
    def loss():
      td_target = tf.ones([8])
      return self.agent.critic_loss(
          self.nets.encoder(self.batch['obs']), self.batch, td_target)[0]
    self._assert_nonzero(self._gradients(loss, self.conv))
    self.assertAllEqual(self._gradients(loss, self.keys),
                        [None] * len(self.keys))

  def test_contrastive_loss_trains_conv_and_w_not_keys(self):
    def loss():
      return self.agent.curl_loss(
          self.nets.encoder(self.batch['obs']),
          self.nets.target_encoder(self.batch['pos']))[0]
    self._assert_nonzero(
        self._gradients(loss, self.conv + [self.agent.bilinear.w]))
    self.assertAllEqual(self._gradients(loss, self.keys),
                        [None] * len(self.keys))

  def test_actor_loss_gives_no_conv_gradient(self):
    def loss():
      # The training path: the actor's own conv_features, then its heads.
      conv = self.nets.actor.conv_features(self.batch['obs'])
      _, log_prob = networks.sample_tanh_gaussian(
          *self.nets.actor.mean_and_log_std(conv))
      return tf.reduce_mean(log_prob)
    gradients = self._gradients(loss, self.conv + self.nets.actor_variables())
    self.assertAllEqual(gradients[:len(self.conv)], [None] * len(self.conv))
    self._assert_nonzero(gradients[len(self.conv):])

  def test_actor_update_moves_only_actor_and_alpha(self):
    frozen = (self.nets.critic_variables() + [self.agent.bilinear.w] +
              list(self.keys))
    before_frozen = _values(frozen)
    before_actor = _values(self.nets.actor_variables())
    before_alpha = self.agent.log_alpha.numpy()
    conv = self.nets.encoder.trunk(self.batch['obs'])
    actor_gradients, alpha_gradient, _ = self.agent.actor_and_alpha_gradients(
        conv, self.nets.encoder.head(conv), tf.constant([0, 1], tf.int64))
    self.agent._apply_actor_and_alpha(actor_gradients, alpha_gradient)
    for before, variable in zip(before_frozen, frozen):
      self.assertAllEqual(before, variable)
    changed = [not np.array_equal(b, v.numpy())
               for b, v in zip(before_actor, self.nets.actor_variables())]
    self.assertTrue(all(changed))
    self.assertNotEqual(before_alpha, self.agent.log_alpha.numpy())

  def test_key_encoder_is_exact_ema_after_a_joint_step(self):
    before_target = _values(self.keys)
    self.agent.train(self.batch)  # Step 0 updates actor and targets.
    for old, online, target in zip(before_target,
                                   self.nets.encoder.trainable_variables,
                                   self.keys):
      # Only the EMA moves the key encoder: no gradient ever reaches it.
      self.assertAllClose(target, 0.05 * online.numpy() + 0.95 * old,
                          atol=1e-6)


class JointStepMatchesStraightforwardTest(tf.test.TestCase):
  """The optimised joint step computes the same losses and gradients.

  The reference below is the plain reading of the paper: every loss runs its
  own encoder passes (no anchor reuse, no fused target forward, no reuse of
  conv features for the actor), written from the networks directly.
  """

  def _reference(self, agent, batch):
    nets = agent.networks
    next_seed, actor_seed = agent.noise_seeds(agent.train_step_counter)
    alpha = tf.exp(agent.log_alpha)
    action = batch['action']

    # TD target.
    next_action, next_log_prob = networks.sample_tanh_gaussian(
        *nets.actor.mean_and_log_std(
            nets.actor.conv_features(batch['next_obs'])), seed=next_seed)
    next_features = nets.target_encoder(batch['next_obs'])
    target_q = tf.minimum(
        nets.target_critic_1.q_from_features(next_features, next_action),
        nets.target_critic_2.q_from_features(next_features, next_action))
    td_target = batch['reward'] + 0.99 * batch['discount'] * (
        target_q - alpha * next_log_prob)

    variables = agent.critic_curl_variables()
    with tf.GradientTape() as tape:
      features = nets.encoder(batch['obs'])
      critic_loss = (
          tf.reduce_mean(tf.square(
              nets.critic_1.q_from_features(features, action) - td_target)) +
          tf.reduce_mean(tf.square(
              nets.critic_2.q_from_features(features, action) - td_target)))
      queries = nets.encoder(batch['obs'])  # A second, separate pass.
      keys = nets.target_encoder(batch['pos'])
      logits = tf.matmul(queries, tf.matmul(agent.bilinear.w, keys,
                                            transpose_b=True))
      logits -= tf.reduce_max(logits, axis=1, keepdims=True)
      curl_loss = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(
              tf.range(tf.shape(logits)[0]), logits))
      total = critic_loss + curl_loss
    gradients = tape.gradient(total, variables)

    actor_variables = nets.actor_variables()
    critic_features = nets.encoder(batch['obs'])
    with tf.GradientTape() as tape:
      actions, log_prob = networks.sample_tanh_gaussian(
          *nets.actor.mean_and_log_std(
              nets.actor.conv_features(batch['obs'])), seed=actor_seed)
      q = tf.minimum(nets.critic_1.q_from_features(critic_features, actions),
                     nets.critic_2.q_from_features(critic_features, actions))
      actor_loss = tf.reduce_mean(alpha * log_prob - q)
    actor_gradients = tape.gradient(actor_loss, actor_variables)
    with tf.GradientTape() as tape:
      alpha_loss = tf.reduce_mean(
          tf.exp(agent.log_alpha) * (-log_prob + _NUM_ACTIONS))
    alpha_gradient = tape.gradient(alpha_loss, agent.log_alpha)
    losses = {'critic_loss': critic_loss, 'curl_loss': curl_loss,
              'actor_loss': actor_loss, 'alpha_loss': alpha_loss}
    return losses, gradients, actor_gradients, alpha_gradient

  def test_compiled_joint_gradients_match_reference(self):
    agent = _make_agent()
    batch = _batch(16, seed=3)
    for _ in range(3):  # Move away from the initial (copied) targets.
      agent.train(batch)
    step_gradients = tf.function(agent.joint_gradients)
    gradients, (actor_gradients, alpha_gradient), metrics = step_gradients(
        batch, update_actor=True)
    losses, ref_gradients, ref_actor_gradients, ref_alpha_gradient = (
        self._reference(agent, batch))
    for name, value in losses.items():
      self.assertAllClose(metrics[name], value, rtol=1e-5, atol=1e-6,
                          msg=name)
    for got, want in zip(gradients + actor_gradients + [alpha_gradient],
                         ref_gradients + ref_actor_gradients +
                         [ref_alpha_gradient]):
      self.assertAllClose(got, want, rtol=1e-4, atol=1e-6)
    self.assertLen(gradients, len(agent.critic_curl_variables()))


class TrainStepTest(tf.test.TestCase):

  def _train(self, mode, steps):
    agent = _make_agent(update_mode=mode)
    batch = _batch(32, seed=5)
    history = [agent.train(batch).extra for _ in range(steps)]
    return agent, history

  def _assert_learns(self, mode):
    agent, history = self._train(mode, steps=_STEPS)
    first, last = history[0], history[-1]
    # Instance discrimination on a fixed batch: the positives are found.
    self.assertLess(float(last['curl_loss']), 0.5 * float(first['curl_loss']))
    self.assertGreaterEqual(float(last['curl_accuracy']), 0.9)
    self.assertEqual(int(agent.train_step_counter), _STEPS)
    for metrics in history:
      for name, value in metrics.items():
        self.assertTrue(np.isfinite(value.numpy()), name)
    # Actor and targets every 2 steps (Table 3): even steps carry actor
    # metrics, odd steps do not.
    self.assertIn('actor_loss', history[0])
    self.assertNotIn('actor_loss', history[1])

  def test_joint_mode_trains(self):
    self._assert_learns('joint')

  def test_sequential_mode_trains(self):
    self._assert_learns('sequential')

  def test_critic_fits_a_fixed_target(self):
    # With discount 0 the TD target is the reward: the critic must fit it.
    agent = _make_agent()
    batch = dict(_batch(32, seed=9), discount=tf.zeros([32]))
    losses = [float(agent.train(batch).extra['critic_loss'])
              for _ in range(30)]
    self.assertLess(losses[-1], 0.2 * losses[0])


if __name__ == '__main__':
  tf.test.main()
