"""Optimisers as the official PyTorch code's behave."""

import tensorflow as tf


class TorchAdam(tf.keras.optimizers.Adam):
  """Adam with PyTorch's epsilon: added to the bias-corrected sqrt(v_hat).

  Keras' Adam adds epsilon to sqrt(v) before the bias correction ("epsilon
  hat" of Kingma & Ba, section 2), PyTorch's to sqrt(v / (1 - beta_2^t)).
  With Keras' form, PyTorch's eps = 1.5e-4 (Data-Efficient Rainbow's, through
  curl_rainbow) would act as 4.7e-3 at the first update and 1.9e-4 at the
  thousandth, damping the early updates. Dense gradients only.
  """

  def update_step(self, gradient, variable):
    if isinstance(gradient, tf.IndexedSlices):
      raise NotImplementedError('TorchAdam takes dense gradients only')
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    first_correction = 1 - tf.pow(tf.cast(self.beta_1, dtype), step)
    second_correction = 1 - tf.pow(tf.cast(self.beta_2, dtype), step)
    index = self._index_dict[self._var_key(variable)]
    m = self._momentums[index]
    v = self._velocities[index]
    m.assign_add((gradient - m) * (1 - self.beta_1))
    v.assign_add((tf.square(gradient) - v) * (1 - self.beta_2))
    variable.assign_sub(
        tf.cast(self.learning_rate, dtype) * (m / first_correction) /
        (tf.sqrt(v / second_correction) + self.epsilon))
