"""Tests for curl_tf.agents.rainbow.losses, against hand-computed values."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from curl_tf.agents.rainbow import losses


class ProjectionTest(absltest.TestCase):

  def test_support(self):
    np.testing.assert_allclose(losses.support(51, -10.0, 10.0)[:3],
                               [-10.0, -9.6, -9.2], rtol=1e-6)

  def test_hand_computed_projection(self):
    atoms = losses.support(3, -1.0, 1.0)  # -1, 0, 1; dz = 1.
    next_probs = tf.constant([[0.2, 0.3, 0.5]] * 3)
    target = losses.project_distribution(
        atoms, next_probs,
        returns=tf.constant([0.5, 0.5, -3.0]),
        bootstrap_discounts=tf.constant([1.0, 0.0, 0.5]))
    np.testing.assert_allclose(target, [
        # Tz = -0.5, 0.5, 1.5 -> 1: 0.2 splits 0.1/0.1 over -1 and 0, 0.3
        # splits 0.15/0.15 over 0 and 1, 0.5 lands on 1.
        [0.1, 0.25, 0.65],
        # Terminal: every atom moves to r = 0.5, halfway between 0 and 1.
        [0.0, 0.5, 0.5],
        # Tz = -3.5, -3, -2.5: all clipped to v_min.
        [1.0, 0.0, 0.0],
    ], atol=1e-6)

  def test_projection_keeps_mass_on_exact_atoms(self):
    # The case floor/ceil projections get wrong: Tz lands on atoms.
    atoms = losses.support(51, -10.0, 10.0)
    probs = tf.nn.softmax(tf.random.stateless_normal([4, 51], seed=[1, 2]))
    target = losses.project_distribution(
        atoms, probs, returns=tf.constant([0.4, 0.0, 10.0, -0.8]),
        bootstrap_discounts=tf.ones([4]))
    np.testing.assert_allclose(tf.reduce_sum(target, -1), np.ones(4),
                               rtol=1e-5)
    # r = 0.4 = dz shifts every atom by exactly one place.
    np.testing.assert_allclose(target[0, 1:-1], probs[0, :-2], rtol=1e-5)
    np.testing.assert_allclose(target[0, -1], probs[0, -2] + probs[0, -1],
                               rtol=1e-5)
    np.testing.assert_allclose(target[1], probs[1], rtol=1e-5)


class LossTest(absltest.TestCase):

  def test_cross_entropy(self):
    target = tf.constant([[0.25, 0.75]])
    log_probs = tf.math.log(tf.constant([[0.5, 0.5]]))
    np.testing.assert_allclose(losses.cross_entropy(target, log_probs),
                               [np.log(2.0)], rtol=1e-6)

  def test_importance_weights(self):
    # N = 4, beta = 1: w = 1 / (4 P), normalised by the largest (P = 0.1).
    weights = losses.importance_weights(tf.constant([0.1, 0.2, 0.5]), 4,
                                        tf.constant(1.0))
    np.testing.assert_allclose(weights, [1.0, 0.5, 0.2], rtol=1e-6)
    # beta = 0: uniform.
    np.testing.assert_allclose(
        losses.importance_weights(tf.constant([0.1, 0.9]), 2,
                                  tf.constant(0.0)), [1.0, 1.0])


class NStepTest(absltest.TestCase):

  def test_full_truncated_and_terminated(self):
    returns, bootstrap = losses.n_step_targets(
        rewards=tf.constant([[1.0, 2.0, 4.0], [1.0, 2.0, 0.0],
                             [1.0, 2.0, 0.0]]),
        discounts=tf.constant([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0],
                               [1.0, 1.0, 1.0]]),
        lengths=tf.constant([3, 2, 2]), gamma=0.5)
    # 1 + 0.5*2 + 0.25*4; the episode terminates after 2 steps (no
    # bootstrap); it hits the time limit after 2 steps (bootstrap 0.5^2).
    np.testing.assert_allclose(returns, [3.0, 2.0, 2.0])
    np.testing.assert_allclose(bootstrap, [0.125, 0.0, 0.25])


if __name__ == '__main__':
  absltest.main()
