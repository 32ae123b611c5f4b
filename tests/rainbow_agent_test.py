"""Tests for curl_tf.agents.rainbow.agent: the loss, the step, the policies."""

import os
import runpy

from absl.testing import absltest
import numpy as np
import reverb
import tensorflow as tf
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from curl_tf import replay as replay_lib
from curl_tf.agents.rainbow import agent as agent_lib
from curl_tf.agents.rainbow import builder
from curl_tf.agents.rainbow import losses
from curl_tf.agents.rainbow import replay

_CONFIG = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'configs', 'atari', 'default.py')
BATCH = 4
ACTIONS = 6


def _config(**overrides):
  config = runpy.run_path(_CONFIG)['get_config']()
  config.batch_size = BATCH
  config.update(overrides)
  return config


def _agent(**overrides):
  time_step_spec = ts.time_step_spec(
      tensor_spec.TensorSpec([84, 84, 4], tf.uint8, name='pixels'))
  action_spec = tensor_spec.BoundedTensorSpec([], tf.int32, 0, ACTIONS - 1)
  return agent_lib.CurlRainbowAgent(_config(**overrides), time_step_spec,
                                    action_spec)


def _batch(seed=0, probability=None):
  rng = np.random.default_rng(seed)
  frames = lambda: tf.constant(  # pylint: disable=g-long-lambda
      rng.integers(0, 256, (BATCH, 84, 84, 4)), tf.uint8)
  obs = frames()
  return {
      'obs': obs, 'next_obs': frames(), 'anchor': obs, 'positive': obs,
      'action': tf.constant(rng.integers(0, ACTIONS, BATCH), tf.int32),
      'return': tf.constant(rng.normal(size=BATCH), tf.float32),
      'bootstrap_discount': tf.constant([0.99**20, 0.0, 0.99**3, 0.99**20],
                                        tf.float32),
      'probability': tf.constant(
          probability if probability is not None else [0.01] * BATCH,
          tf.float32),
      'table_size': tf.constant([100] * BATCH, tf.int64),
  }


class LossTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    tf.random.set_seed(0)
    self.agent = _agent(curl_coef=0.0)

  def _losses(self, batch):
    # The same noise for both calls: the global seed and op seeds reset.
    tf.random.set_seed(5)
    return self.agent.losses(batch, tf.constant(1.0))

  def test_importance_weights_change_the_loss(self):
    uniform = self._losses(_batch())
    skewed = self._losses(_batch(probability=[0.001, 0.01, 0.05, 0.2]))
    # The same transitions and noise, so the same per-item cross-entropy.
    np.testing.assert_allclose(uniform['cross_entropy'],
                               skewed['cross_entropy'], rtol=1e-5)
    np.testing.assert_allclose(uniform['q_loss'],
                               np.mean(uniform['cross_entropy']), rtol=1e-5)
    # beta = 1: w = 1 / (N P) over the largest, P = 0.001 the largest.
    weights = np.array([1.0, 0.1, 0.02, 0.005])
    np.testing.assert_allclose(
        skewed['q_loss'], np.mean(weights * skewed['cross_entropy']),
        rtol=1e-5)
    self.assertLess(float(skewed['q_loss']), float(uniform['q_loss']) / 2)

  def test_cross_entropy_is_against_the_projected_double_q_target(self):
    batch = _batch()
    tf.random.set_seed(5)
    metrics = self.agent.losses(batch, tf.constant(1.0))
    # Rebuild it by hand with the same noise draws, in the same order.
    tf.random.set_seed(5)
    both = self.agent.online(tf.concat([batch['obs'], batch['next_obs']], 0))
    next_q = np.sum(np.exp(both[BATCH:]) * self.agent.atoms, axis=-1)
    next_actions = np.argmax(next_q, axis=-1)
    target = np.exp(self.agent.target(batch['next_obs']).numpy())
    next_probs = target[np.arange(BATCH), next_actions]
    projected = losses.project_distribution(
        self.agent.atoms, next_probs, batch['return'],
        batch['bootstrap_discount']).numpy()
    taken = both[:BATCH].numpy()[np.arange(BATCH), batch['action'].numpy()]
    np.testing.assert_allclose(metrics['cross_entropy'],
                               -np.sum(projected * taken, axis=-1), rtol=1e-4)


class TrainStepTest(absltest.TestCase):

  def test_step_moves_online_momentum_but_not_target(self):
    tf.random.set_seed(0)
    agent = _agent()
    online_before = [v.numpy() for v in agent.online.weights]
    momentum_before = [v.numpy() for v in agent._curl_momentum_variables()]
    target_before = [v.numpy() for v in agent.target.weights]
    w_before = agent.similarity.w.numpy()
    metrics = agent.train(_batch(), tf.constant(0.4))
    for name in ('loss', 'q_loss', 'curl_loss', 'gradient_norm'):
      self.assertTrue(np.isfinite(metrics[name]), name)
    self.assertEqual(metrics['priorities'].shape, (BATCH,))
    self.assertTrue(np.all(metrics['priorities'].numpy() > 0))
    self.assertGreater(
        max(np.abs(v.numpy() - b).max()
            for v, b in zip(agent.online.weights, online_before)), 0)
    self.assertGreater(np.abs(agent.similarity.w.numpy() - w_before).max(), 0)
    # Momentum: 0.999 of itself and 0.001 of the updated online network.
    for momentum, before, online in zip(agent._curl_momentum_variables(),
                                        momentum_before,
                                        agent._curl_online_variables()):
      np.testing.assert_allclose(
          momentum.numpy(), 0.999 * before + 0.001 * online.numpy(),
          rtol=1e-5, atol=1e-7)
    for target, before in zip(agent.target.weights, target_before):
      np.testing.assert_array_equal(target.numpy(), before)
    agent.update_target()
    for target, online in zip(agent.target.weights, agent.online.weights):
      np.testing.assert_array_equal(target.numpy(), online.numpy())
    self.assertEqual(int(agent.train_step_counter), 1)

  def test_pixel_rainbow_leaves_w_alone(self):
    agent = _agent(curl_coef=0.0)
    w_before = agent.similarity.w.numpy()
    metrics = agent.train(_batch(), tf.constant(0.4))
    self.assertNotIn('curl_loss', metrics)
    np.testing.assert_array_equal(agent.similarity.w.numpy(), w_before)

  def test_gradient_norm_is_clipped(self):
    agent = _agent(max_gradient_norm=1e-3, learning_rate=1.0, adam_epsilon=1e-8)
    metrics = agent.train(_batch(), tf.constant(0.4))
    # The norm is reported before clipping.
    self.assertGreater(float(metrics['gradient_norm']), 1e-2)
    # Adam's first moment after one step is (1 - beta_1) g = 0.1 g: the
    # gradient it saw had the clipped global norm.
    # pylint: disable-next=protected-access
    first_moments = agent.optimizer._momentums
    self.assertLen(first_moments, len(agent.trainable_weights))
    self.assertAlmostEqual(float(tf.linalg.global_norm(first_moments)),
                           0.1 * 1e-3, delta=1e-7)

  def test_priorities_reach_the_table(self):
    config = _config()
    server = _filled_server(self, config)
    max_priority = replay.MaxPriority()
    batch = next(iter(replay.make_dataset(
        server.address, server.table_name,
        replay.settings_from_config(config))))
    agent = _agent()
    metrics = agent.train(batch, tf.constant(0.4))
    client = reverb.Client(server.address)
    replay.update_priorities(client, server.table_name, batch['key'].numpy(),
                             metrics['priorities'].numpy(), max_priority)
    expected = dict(zip(batch['key'].numpy().tolist(),
                        metrics['priorities'].numpy().tolist()))
    seen = {}
    for sample in client.sample(server.table_name, num_samples=400,
                                emit_timesteps=False):
      seen[sample.info.key] = sample.info.priority
    for key, priority in expected.items():
      if key in seen:
        self.assertAlmostEqual(seen[key], priority, places=5)
    self.assertNotEmpty(set(expected) & set(seen))
    self.assertAlmostEqual(max_priority.value,
                           max(1.0, max(expected.values())), places=6)


def _filled_server(test, config):
  """A served table holding one 30-step episode of random frames."""
  server = replay_lib.start_server(replay.make_table(config))
  test.addCleanup(server.close)
  rng = np.random.default_rng(0)
  with replay.NStepWriter(server.address, server.table_name, history=4,
                          n=config.multi_step,
                          max_priority=replay.MaxPriority()) as writer:
    writer.start_episode(rng.integers(0, 256, (84, 84, 1), np.uint8))
    for step in range(30):
      writer.add(step % ACTIONS, 1.0, 1.0 if step < 29 else 0.0,
                 rng.integers(0, 256, (84, 84, 1), np.uint8))
  return server


class CurlCoefTest(absltest.TestCase):

  def test_official_weight_per_game_unless_set(self):
    for game, weight in (('pong', 0.01), ('boxing', 0.01),
                         ('private_eye', 0.01), ('freeway', 0.01),
                         ('alien', 1.0), ('ms_pacman', 1.0)):
      self.assertEqual(agent_lib.curl_coef(_config(game=game)), weight, game)
    self.assertEqual(agent_lib.curl_coef(_config(game='pong', curl_coef=0.5)),
                     0.5)
    self.assertEqual(agent_lib.curl_coef(_config(curl_coef=0.0)), 0.0)


class LearnerTest(absltest.TestCase):

  def test_exponent_schedule_target_copies_and_priorities(self):
    config = _config(target_update_period=4, num_env_steps=4_000,
                     learning_starts_agent_steps=100)
    server = _filled_server(self, config)
    agent = _agent(target_update_period=4, num_env_steps=4_000,
                   learning_starts_agent_steps=100)
    learner = builder.Learner(config, agent, server)
    # 0.4 at the first update (agent step 100), 1 at the last (1,000),
    # linear between.
    for step, beta in ((50, 0.4), (100, 0.4), (550, 0.7), (1_000, 1.0)):
      self.assertAlmostEqual(learner.is_exponent(step), beta, msg=step)

    def target_is_online():
      return all(np.array_equal(t.numpy(), o.numpy()) for t, o in
                 zip(agent.target.weights, agent.online.weights))

    batch = learner.next_batch()
    metrics = learner.step(batch, agent_step=101)
    self.assertFalse(target_is_online())
    self.assertAlmostEqual(metrics['is_exponent'], 0.4 + 0.6 / 900)
    # The items just trained on now hold their losses as priorities.
    client = reverb.Client(server.address)
    written = {s.info.key: s.info.priority for s in client.sample(
        server.table_name, num_samples=300, emit_timesteps=False)}
    keys = batch['key'].numpy().tolist()
    self.assertNotEmpty(set(keys) & set(written))
    for key in set(keys) & set(written):
      self.assertNotEqual(written[key], 1.0)
    learner.step(learner.next_batch(), agent_step=104)
    self.assertTrue(target_is_online())


class PolicyTest(absltest.TestCase):

  def _time_step(self, frames):
    batch = frames.shape[0]
    return ts.restart(frames, batch_size=batch)

  def test_eval_policy_is_greedy_without_noise_or_random_at_epsilon_1(self):
    frames = _batch()['obs']
    greedy_agent = _agent(eval_epsilon=0.0)
    expected = np.argmax(greedy_agent.expected_q(frames, noisy=False), -1)
    np.testing.assert_array_equal(
        greedy_agent.eval_policy.action(self._time_step(frames)).action,
        expected)
    random_agent = _agent(eval_epsilon=1.0)
    many = tf.tile(frames[:1], [600, 1, 1, 1])
    actions = random_agent.eval_policy.action(self._time_step(many)).action
    counts = np.bincount(actions.numpy(), minlength=ACTIONS)
    self.assertEqual(counts.sum(), 600)
    self.assertGreater(counts.min(), 60)

  def test_acting_values_are_noisy_and_evaluation_values_are_not(self):
    agent = _agent()
    frames = _batch()['obs'][:1]
    noisy = [agent.expected_q(frames, noisy=True).numpy() for _ in range(2)]
    self.assertGreater(np.abs(noisy[0] - noisy[1]).max(), 1e-6)
    plain = [agent.expected_q(frames, noisy=False).numpy() for _ in range(2)]
    np.testing.assert_array_equal(plain[0], plain[1])
    action = agent.collect_policy.action(self._time_step(frames)).action
    self.assertEqual(action.shape, (1,))
    self.assertBetween(int(action[0]), 0, ACTIONS - 1)


if __name__ == '__main__':
  absltest.main()
