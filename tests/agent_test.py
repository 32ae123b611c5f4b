"""Tests for curl_tf.agents.sac.agent.

Settings, losses, gradient routing, both modes.

The agents see 32x32 frames (agent_fixtures.py says why). The paper's 84x84
shapes and parameter counts are tested in networks_test.py.
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from curl_tf.agents.sac import networks
from curl_tf import contrastive
import agent_fixtures as fixtures

class SettingsTest(tf.test.TestCase):

  def test_paper_settings(self):
    agent = fixtures.make_agent()
    # Table 3: initial temperature 0.1; official code: target entropy -|A|.
    self.assertAllClose(tf.exp(agent.log_alpha), 0.1)
    self.assertEqual(agent.target_entropy, -float(fixtures.NUM_ACTIONS))
    self.assertAllClose(agent.alpha_optimizer.beta_1, 0.5)
    self.assertAllClose(agent.alpha_optimizer.learning_rate, 1e-4)
    self.assertAllClose(agent.critic_optimizer.beta_1, 0.9)
    self.assertAllClose(agent.critic_optimizer.learning_rate, 1e-3)
    self.assertAllClose(agent.actor_optimizer.learning_rate, 1e-3)

  def test_targets_start_as_copies(self):
    agent = fixtures.make_agent()
    nets = agent.networks
    self.assertNotEmpty(nets.encoder.variables)
    for online, target in zip(nets.encoder.variables,
                              nets.target_encoder.variables):
      self.assertAllEqual(online, target)
    for online_head, target_head in zip(nets.q_heads, nets.target_q_heads):
      for online, target in zip(online_head.variables,
                                target_head.variables):
        self.assertAllEqual(online, target)


class TdTargetTest(tf.test.TestCase):

  def test_discount_zero_is_the_reward_and_one_bootstraps(self):
    agent = fixtures.make_agent()
    for seed in (1, 2):
      # Move the targets away from the online networks and each other.
      agent.train(fixtures.batch(16, seed=seed))
    agent.log_alpha.assign(np.log(0.3))  # A temperature other than 0.1.
    nets = agent.networks
    batch = dict(fixtures.batch(2, seed=4), reward=tf.constant([0.7, 0.3]),
                 discount=tf.constant([0.0, 1.0]))
    seed = tf.constant([5, 6], tf.int64)
    target = agent.td_target(nets.target_encoder(batch['next_obs']),
                             nets.encoder.trunk(batch['next_obs']), batch,
                             seed)
    # Row 0 ends the episode: the target is the reward, exactly.
    self.assertEqual(float(target[0]), np.float32(0.7))

    # Row 1 from the networks: a' ~ pi(.|s') with the same noise, the target
    # critics' own forward passes through the key encoder.
    next_action, next_log_prob = networks.sample_tanh_gaussian(
        *nets.actor.mean_and_log_std(
            nets.actor.conv_features(batch['next_obs'])), seed=seed)
    q1 = fixtures.q(nets.target_critic_1, batch['next_obs'], next_action)
    q2 = fixtures.q(nets.target_critic_2, batch['next_obs'], next_action)
    soft_value = np.minimum(q1[1], q2[1]) - 0.3 * next_log_prob[1]
    self.assertAllClose(target[1], 0.3 + 0.99 * soft_value, rtol=1e-5)
    # The online critics would give another value: the test tells them apart.
    online_q = fixtures.q(nets.critic_1, batch['next_obs'], next_action)
    self.assertNotAllClose(online_q[1], q1[1], rtol=1e-3)


class GradientRoutingTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.agent = fixtures.make_agent()
    self.nets = self.agent.networks
    self.batch = fixtures.batch(8)
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

  def test_critic_loss_trains_conv_but_nothing_through_its_target(self):
    nets = self.nets
    # The TD target reads the key encoder, the target Q heads and the actor
    # (a' ~ pi): none of them may get a gradient from the critic loss.
    through_target = (list(self.keys) +
                      [v for h in nets.target_q_heads
                       for v in h.trainable_variables] +
                      nets.actor_variables())

    def loss():
      td_target = self.agent.td_target(
          nets.target_encoder(self.batch['next_obs']),
          nets.encoder.trunk(self.batch['next_obs']), self.batch,
          tf.constant([0, 1], tf.int64))
      return self.agent.critic_loss(
          nets.encoder(self.batch['obs']), self.batch, td_target)[0]

    gradients = self._gradients(loss, self.conv + through_target)
    self._assert_nonzero(gradients[:len(self.conv)])
    for variable, gradient in zip(through_target,
                                  gradients[len(self.conv):]):
      self.assertIsNone(gradient, variable.name)

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
    before = fixtures.snapshot(self.agent)
    conv = self.nets.encoder.trunk(self.batch['obs'])
    actor_gradients, alpha_gradient, _ = self.agent.actor_and_alpha_gradients(
        conv, self.nets.encoder.head(conv), tf.constant([0, 1], tf.int64))
    self.agent._apply_actor_and_alpha(actor_gradients, alpha_gradient)
    self.assertEqual(fixtures.changed(before, self.agent), {'actor', 'log_alpha'})
    changed = [not np.array_equal(b, v.numpy())
               for b, v in zip(before['actor'], self.nets.actor_variables())]
    self.assertTrue(all(changed))


class TargetUpdateTest(parameterized.TestCase, tf.test.TestCase):
  """Which tau, how often, in both modes (Table 3: 0.01 Q, 0.05 encoder)."""

  @parameterized.parameters('joint', 'sequential')
  def test_step_0_updates_targets_once_and_step_1_not_at_all(self, mode):
    agent = fixtures.make_agent(update_mode=mode)
    before = fixtures.snapshot(agent)
    agent.train(fixtures.batch(8, seed=1))  # Step 0: actor and targets.
    after_step_0 = fixtures.snapshot(agent)
    # Q heads: neither mode changes them after the EMA, so the target is
    # exactly tau times the heads the step leaves. Updating twice would give
    # 0.0199 of them.
    online_q = after_step_0['q_heads']
    for old, online, target in zip(before['target_q_heads'], online_q,
                                   after_step_0['target_q_heads']):
      self.assertAllClose(target, 0.01 * online + 0.99 * old, atol=1e-7,
                          rtol=1e-6)
    if mode == 'joint':
      # The encoder's last change comes before the EMA in the joint step.
      # (Sequential mode takes its contrastive step after the EMA: its key
      # encoder is checked against SequentialStepMatchesReferenceTest's
      # replay of the sub-steps.)
      for old, online, target in zip(before['target_encoder'],
                                     after_step_0['encoder'],
                                     after_step_0['target_encoder']):
        self.assertAllClose(target, 0.05 * online + 0.95 * old, atol=1e-7,
                            rtol=1e-6)
    self.assertIn('target_encoder', fixtures.changed(before, agent))

    # Step 1: no actor, no targets.
    metrics = agent.train(fixtures.batch(8, seed=2)).extra
    self.assertNotIn('actor_loss', metrics)
    self.assertEqual(fixtures.changed(after_step_0, agent),
                     {'encoder', 'q_heads', 'w'})
    self.assertEqual(int(agent.train_step_counter), 2)


class SequentialStepMatchesReferenceTest(tf.test.TestCase):
  """The sequential step replays the official code's four sub-steps.

  The reference is written from the networks and formulas directly, on a
  second agent built with the same seed (so the same weights) and stepped by
  its own optimizers: critic step, actor and alpha step on the updated
  encoder, target EMA, contrastive step.
  """

  def _reference_step(self, agent, batch, update_actor, update_targets):
    nets = agent.networks
    next_seed, actor_seed = agent.noise_seeds(agent.train_step_counter)
    alpha = tf.exp(agent.log_alpha)
    losses = {}

    # 1. Critic: encoder and both Q heads on the TD target.
    next_action, next_log_prob = networks.sample_tanh_gaussian(
        *nets.actor.mean_and_log_std(
            nets.actor.conv_features(batch['next_obs'])), seed=next_seed)
    q1_next = fixtures.q(nets.target_critic_1, batch['next_obs'], next_action)
    q2_next = fixtures.q(nets.target_critic_2, batch['next_obs'], next_action)
    td_target = batch['reward'] + 0.99 * batch['discount'] * (
        tf.minimum(q1_next, q2_next) - alpha * next_log_prob)
    critic_variables = nets.critic_variables()
    with tf.GradientTape() as tape:
      q1 = fixtures.q(nets.critic_1, batch['obs'], batch['action'])
      q2 = fixtures.q(nets.critic_2, batch['obs'], batch['action'])
      losses['critic_loss'] = (tf.reduce_mean(tf.square(q1 - td_target)) +
                               tf.reduce_mean(tf.square(q2 - td_target)))
    agent.critic_optimizer.apply_gradients(zip(
        tape.gradient(losses['critic_loss'], critic_variables),
        critic_variables))

    # 2. Actor and alpha, on the encoder the critic step left.
    if update_actor:
      actor_variables = nets.actor_variables()
      with tf.GradientTape() as tape:
        actions, log_prob = networks.sample_tanh_gaussian(
            *nets.actor.mean_and_log_std(
                nets.actor.conv_features(batch['obs'])), seed=actor_seed)
        q1 = fixtures.q(nets.critic_1, batch['obs'], actions)
        q2 = fixtures.q(nets.critic_2, batch['obs'], actions)
        losses['actor_loss'] = tf.reduce_mean(
            alpha * log_prob - tf.minimum(q1, q2))
      actor_gradients = tape.gradient(losses['actor_loss'], actor_variables)
      with tf.GradientTape() as tape:
        losses['alpha_loss'] = tf.reduce_mean(
            tf.exp(agent.log_alpha) * (-log_prob + fixtures.NUM_ACTIONS))
      alpha_gradient = tape.gradient(losses['alpha_loss'], agent.log_alpha)
      agent.actor_optimizer.apply_gradients(
          zip(actor_gradients, actor_variables))
      agent.alpha_optimizer.apply_gradients([(alpha_gradient,
                                              agent.log_alpha)])

    # 3. Targets.
    if update_targets:
      contrastive.soft_update(nets.encoder.variables,
                              nets.target_encoder.variables, 0.05)
      for online, target in zip(nets.q_heads, nets.target_q_heads):
        contrastive.soft_update(online.variables, target.variables, 0.01)

    # 4. Contrastive: encoder and W, keys from the (just updated) key
    # encoder.
    curl_variables = list(nets.encoder.trainable_variables) + [
        agent.bilinear.w]
    keys = nets.target_encoder(batch['pos'])
    with tf.GradientTape() as tape:
      queries = nets.encoder(batch['obs'])
      logits = tf.matmul(queries, tf.matmul(agent.bilinear.w, keys,
                                            transpose_b=True))
      losses['curl_loss'] = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(
              tf.range(tf.shape(logits)[0]), logits))
    agent.curl_optimizer.apply_gradients(zip(
        tape.gradient(losses['curl_loss'], curl_variables), curl_variables))
    agent.train_step_counter.assign_add(1)
    return losses

  def test_two_steps_match_the_reference(self):
    agent = fixtures.make_agent(update_mode='sequential')
    reference = fixtures.make_agent(update_mode='sequential')
    fixtures.assert_same_variables(self, agent, reference)
    initial = fixtures.snapshot(reference)
    for step, seed in enumerate((1, 2)):
      batch = fixtures.batch(16, seed=seed)
      metrics = agent.train(batch).extra
      losses = self._reference_step(reference, batch,
                                    update_actor=step == 0,
                                    update_targets=step == 0)
      self.assertCountEqual(
          [name for name in losses if name in metrics], losses)
      # Step 1's losses are computed from the weights step 0 left, which
      # carry the round-off described in fixtures.assert_same_updates.
      for name, value in losses.items():
        self.assertAllClose(metrics[name], value,
                            rtol=1e-4 if step else 1e-5, atol=1e-6,
                            msg=f'step {step}: {name}')
      fixtures.assert_same_updates(self, agent, reference, initial)


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
          tf.exp(agent.log_alpha) * (-log_prob + fixtures.NUM_ACTIONS))
    alpha_gradient = tape.gradient(alpha_loss, agent.log_alpha)
    losses = {'critic_loss': critic_loss, 'curl_loss': curl_loss,
              'actor_loss': actor_loss, 'alpha_loss': alpha_loss}
    return losses, gradients, actor_gradients, alpha_gradient

  def test_compiled_joint_gradients_match_reference(self):
    agent = fixtures.make_agent()
    batch = fixtures.batch(16, seed=3)
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
      # Sums in another order (fused batches, reused passes): float32
      # round-off of gradients of order 1e-3.
      self.assertAllClose(got, want, rtol=1e-4, atol=1e-5)
    self.assertLen(gradients, len(agent.critic_curl_variables()))


class UpdateFrequencyTest(parameterized.TestCase, tf.test.TestCase):
  """actor_update_freq and critic_target_update_freq act independently."""

  @parameterized.parameters('joint', 'sequential')
  def test_actor_every_step_targets_every_third(self, mode):
    agent = fixtures.make_agent(update_mode=mode, actor_update_freq=1,
                        critic_target_update_freq=3)
    every_step = {'encoder', 'q_heads', 'w', 'actor', 'log_alpha'}
    targets = {'target_encoder', 'target_q_heads'}
    expected = [every_step | targets, every_step, every_step,
                every_step | targets]
    for step, want in enumerate(expected):
      before = fixtures.snapshot(agent)
      metrics = agent.train(fixtures.batch(8, seed=step)).extra
      self.assertEqual(fixtures.changed(before, agent), want, f'step {step}')
      self.assertIn('actor_loss', metrics)


class TrainStepTest(parameterized.TestCase, tf.test.TestCase):

  def _train(self, steps, **overrides):
    agent = fixtures.make_agent(**overrides)
    batch = fixtures.batch(32, seed=5)
    history = [agent.train(batch).extra for _ in range(steps)]
    return agent, history

  @parameterized.parameters('joint', 'sequential')
  def test_mode_trains(self, mode):
    agent, history = self._train(fixtures.LEARNING_STEPS, update_mode=mode)
    first, last = history[0], history[-1]
    # Instance discrimination on a fixed batch: the positives are found.
    self.assertLess(float(last['curl_loss']), 0.5 * float(first['curl_loss']))
    self.assertGreaterEqual(float(last['curl_accuracy']), 0.9)
    self.assertEqual(int(agent.train_step_counter), fixtures.LEARNING_STEPS)
    for metrics in history:
      for name, value in metrics.items():
        self.assertTrue(np.isfinite(value.numpy()), name)
    # Actor and targets every 2 steps (Table 3): even steps carry actor
    # metrics, odd steps do not.
    self.assertIn('actor_loss', history[0])
    self.assertNotIn('actor_loss', history[1])

  @parameterized.parameters('joint', 'sequential')
  def test_critic_fits_a_fixed_target(self, mode):
    # With discount 0 the TD target is the reward: the critic must fit each
    # sample's reward, well below what predicting the batch mean would score
    # (the loss sums both heads' MSE: 2 var(r), 0.17 for these rewards).
    agent = fixtures.make_agent(update_mode=mode)
    batch = dict(fixtures.batch(32, seed=9), discount=tf.zeros([32]))
    mean_predictor_loss = 2.0 * float(tf.math.reduce_variance(batch['reward']))
    losses = [float(agent.train(batch).extra['critic_loss'])
              for _ in range(80)]
    # Adam at lr 1e-3 oscillates on one batch: every one of the last 10.
    # (Measured: at most 0.0003 joint, 0.007 sequential.)
    self.assertLess(max(losses[-10:]), 0.25 * mean_predictor_loss)


  def test_mlp_encoder_head_trains(self):
    agent = fixtures.make_agent(encoder_head='mlp')
    # The pseudocode's head: Dense(1024) + ReLU + Dense(50) (+ LayerNorm),
    # on the flat conv output of a 28x28 crop: 13, 11, 9, 7 pixels wide.
    kernels = [v.shape.as_list() for v in agent.networks.encoder.head
               .trainable_variables if 'kernel' in v.name]
    self.assertEqual(kernels, [[7 * 7 * 32, 1024], [1024, 50]])
    before = fixtures.snapshot(agent)
    batch = fixtures.batch(32, seed=5)
    history = [agent.train(batch).extra for _ in range(40)]
    self.assertEqual(fixtures.changed(before, agent), set(before))
    self.assertLess(float(history[-1]['curl_loss']),
                    0.5 * float(history[0]['curl_loss']))

  def test_jit_compiled_step_runs_and_matches_where_noise_plays_no_part(self):
    graph = fixtures.make_agent()
    xla = fixtures.make_agent(jit_compile=True)
    batch = fixtures.batch(16, seed=1)
    before = fixtures.snapshot(xla)
    graph_metrics = graph.train(batch).extra
    xla_metrics = xla.train(batch).extra
    self.assertCountEqual(xla_metrics, graph_metrics)
    # XLA draws other stateless normals from the same seed than the CPU
    # kernels (with Philox named too, in TF 2.15), so the policy noise, and
    # what depends on it, differs. The first step's contrastive loss and
    # Q values depend on the initial weights only.
    for name in ('curl_loss', 'curl_accuracy', 'q1_mean', 'q2_mean',
                 'batch_reward', 'alpha'):
      self.assertAllClose(xla_metrics[name], graph_metrics[name], rtol=1e-5,
                          atol=1e-6, msg=name)
    for name, value in xla_metrics.items():
      self.assertTrue(np.isfinite(value.numpy()), name)
    self.assertEqual(fixtures.changed(before, xla), set(before))
    after_step_0 = fixtures.snapshot(xla)
    xla.train(batch)
    self.assertEqual(fixtures.changed(after_step_0, xla), {'encoder', 'q_heads', 'w'})


class ReproducibilityTest(tf.test.TestCase):

  def test_noise_seeds_differ_by_step_and_by_use(self):
    agent = fixtures.make_agent()
    next_0, actor_0 = agent.noise_seeds(tf.constant(0))
    next_1, actor_1 = agent.noise_seeds(tf.constant(1))
    self.assertNotAllEqual(next_0, next_1)
    self.assertNotAllEqual(actor_0, actor_1)
    # a' in the TD target and a in the actor loss use different noise.
    self.assertNotAllEqual(next_0, actor_0)
    # Another config seed, other noise at the same step.
    other = fixtures.make_agent(seed=2).noise_seeds(tf.constant(0))
    self.assertNotAllEqual(other[0], next_0)

  def test_same_seed_same_weights_and_metrics(self):
    first, second = fixtures.make_agent(seed=7), fixtures.make_agent(seed=7)
    fixtures.assert_same_variables(self, first, second)
    other = fixtures.make_agent(seed=8)
    self.assertEqual(fixtures.changed(fixtures.snapshot(first), other),
                     {'encoder', 'q_heads', 'actor', 'w', 'target_encoder',
                      'target_q_heads'})
    for seed in (1, 2):
      batch = fixtures.batch(16, seed=seed)
      metrics_1 = first.train(batch).extra
      metrics_2 = second.train(batch).extra
      self.assertCountEqual(metrics_1, metrics_2)
      for name in metrics_1:
        self.assertAllEqual(metrics_1[name], metrics_2[name], msg=name)
    fixtures.assert_same_variables(self, first, second)


if __name__ == '__main__':
  tf.test.main()
