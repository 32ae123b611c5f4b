"""Tests for curl_tf.contrastive against hand-computed values."""

import numpy as np
import tensorflow as tf

from curl_tf import contrastive


class InfoNceTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.similarity = contrastive.BilinearSimilarity(feature_dim=2)
    # Asymmetric, so that q^T W^T k (a transposed W) gives other logits.
    self.similarity.w.assign([[1.0, 2.0], [0.0, 1.0]])
    self.queries = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    self.keys = tf.constant([[1.0, 2.0], [3.0, 4.0]])

  def test_logits_by_hand(self):
    # q_0^T W = [1, 2]: k_0 -> 1 + 4 = 5, k_1 -> 3 + 8 = 11.
    # q_1^T W = [0, 1]: k_0 -> 2, k_1 -> 4.
    # Minus each row's max: [[-6, 0], [-2, 0]]. (With W^T: [[1, 3], [4, 10]]
    # -> [[-2, 0], [-6, 0]].)
    logits = self.similarity.logits(self.queries, self.keys)
    self.assertAllClose(logits, [[-6.0, 0.0], [-2.0, 0.0]])

  def test_loss_and_accuracy_by_hand(self):
    logits = self.similarity.logits(self.queries, self.keys)
    # Row 0, label 0: -log(e^-6 / (e^-6 + 1)) = log(1 + e^6) = 6.002476.
    # Row 1, label 1: -log(1 / (e^-2 + 1)) = log(1 + e^-2) = 0.126928.
    self.assertAllClose(contrastive.info_nce_loss(logits),
                        (6.002476 + 0.126928) / 2, atol=1e-5)
    # Row 0 prefers key 1 (wrong), row 1 prefers key 1 (right).
    self.assertAllClose(contrastive.top1_accuracy(logits), 0.5)

  def test_w_init_uniform_unit_interval(self):
    w = contrastive.BilinearSimilarity(feature_dim=50, seed=0).w.numpy()
    self.assertEqual(w.shape, (50, 50))
    self.assertGreaterEqual(w.min(), 0.0)
    self.assertLess(w.max(), 1.0)
    self.assertNear(w.mean(), 0.5, 0.05)

  def test_gradient_reaches_w_and_queries(self):
    with tf.GradientTape() as tape:
      tape.watch(self.queries)
      loss = contrastive.info_nce_loss(
          self.similarity.logits(self.queries, self.keys))
    grad_q, grad_w = tape.gradient(loss, [self.queries, self.similarity.w])
    self.assertGreater(float(tf.reduce_sum(tf.abs(grad_q))), 0.0)
    self.assertGreater(float(tf.reduce_sum(tf.abs(grad_w))), 0.0)


class SoftUpdateTest(tf.test.TestCase):

  def test_ema_by_hand(self):
    online = [tf.Variable([1.0, 2.0]), tf.Variable(4.0)]
    target = [tf.Variable([0.0, 0.0]), tf.Variable(0.0)]
    contrastive.soft_update(online, target, tau=0.05)
    self.assertAllClose(target[0], [0.05, 0.1])
    self.assertAllClose(target[1], 0.2)
    contrastive.soft_update(online, target, tau=0.05)
    # 0.05 * 1 + 0.95 * 0.05 = 0.0975.
    self.assertAllClose(target[0], [0.0975, 0.195])
    self.assertAllClose(online[0], [1.0, 2.0])  # Online is untouched.

  def test_tau_one_copies(self):
    online = [tf.Variable(np.arange(6.0).reshape(2, 3))]
    target = [tf.Variable(np.zeros((2, 3)))]
    contrastive.soft_update(online, target, tau=1.0)
    self.assertAllEqual(target[0], online[0])

  def test_mismatch_raises(self):
    with self.assertRaises(ValueError):
      contrastive.soft_update([tf.Variable(1.0)], [], tau=0.5)
    with self.assertRaises(ValueError):
      contrastive.soft_update([tf.Variable([1.0])], [tf.Variable([1.0, 2.0])],
                              tau=0.5)


if __name__ == '__main__':
  tf.test.main()
