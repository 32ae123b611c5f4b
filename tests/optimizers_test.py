"""Tests for curl_tf.optimizers.TorchAdam against PyTorch's Adam formula."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from curl_tf import optimizers


def _torch_adam(param, gradients, lr, beta_1, beta_2, eps):
  """torch.optim.Adam's update, written out (its documentation's algorithm)."""
  m = np.zeros_like(param)
  v = np.zeros_like(param)
  for t, g in enumerate(gradients, start=1):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    m_hat = m / (1 - beta_1**t)
    v_hat = v / (1 - beta_2**t)
    param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
  return param


class TorchAdamTest(absltest.TestCase):

  def test_matches_pytorch_where_keras_does_not(self):
    rng = np.random.default_rng(0)
    start = rng.normal(size=5).astype(np.float64)
    # Small gradients, where epsilon matters.
    gradients = [rng.normal(size=5) * 1e-4 for _ in range(3)]
    expected = _torch_adam(start, gradients, 1e-4, 0.9, 0.999, 1.5e-4)

    def run(optimizer):
      variable = tf.Variable(start)
      for g in gradients:
        optimizer.apply_gradients([(tf.constant(g), variable)])
      return variable.numpy()

    # Keras keeps the hyperparameters in float32 (0.999 is 0.99900001, so
    # 1 - beta_2 is 1e-5 off): the steps agree to 1e-4 of their size.
    want = expected - start
    ours = run(optimizers.TorchAdam(learning_rate=1e-4, epsilon=1.5e-4))
    np.testing.assert_allclose(ours - start, want, rtol=1e-4)
    keras = run(tf.keras.optimizers.Adam(learning_rate=1e-4, epsilon=1.5e-4))
    # Keras' epsilon hat moves the parameters a fraction as far here.
    self.assertTrue(np.all(np.abs(keras - start) < 0.5 * np.abs(want)))


if __name__ == '__main__':
  absltest.main()
