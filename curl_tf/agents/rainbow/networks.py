"""Data-Efficient Rainbow's network, with CURL's projection head.

Data-Efficient Rainbow (van Hasselt et al., 2019) shrinks Rainbow's encoder to
two convolutions, 32 and 64 filters of 5x5 with stride 5, which turn an 84x84
stack into 3x3x64 = 576 features, and its heads to 256 hidden units. The heads
are dueling (Wang et al., 2016) over C51 distributions (Bellemare et al.,
2017: 51 atoms on [-10, 10]) and made of noisy layers (Fortunato et al.,
2018: factorised Gaussian noise, sigma0 0.1), which replace epsilon-greedy
exploration. curl_rainbow's model.py (docs/atari/official_settings.md, section
2) has the same shapes.

CURL attaches to the 576 features through a projection (curl_rainbow: 256
units, layer norm, ReLU, 128 units, layer norm); the bilinear W of
contrastive.py compares the 128-d codes.
"""

import math
from typing import Optional, Tuple

import tensorflow as tf


# Initializers are made per use: Keras returns the same values from an
# unseeded initializer instance each time it is called.


def _torch_default_kernel():
  """PyTorch's Conv2d/Linear weight init, uniform in +-1/sqrt(fan_in).

  (kaiming_uniform with a=sqrt(5); variance scaling 1/3, uniform, fan_in has
  that bound.) curl_rainbow's convolutions get it.
  """
  return tf.keras.initializers.VarianceScaling(
      scale=1.0 / 3.0, mode='fan_in', distribution='uniform')


def _torch_default_bias(fan_in: int):
  """PyTorch's Conv2d/Linear bias init, uniform in +-1/sqrt(fan_in)."""
  bound = 1.0 / math.sqrt(fan_in)
  return tf.keras.initializers.RandomUniform(-bound, bound)


def _unit_uniform():
  """torch.rand: uniform in [0, 1)."""
  return tf.keras.initializers.RandomUniform(0.0, 1.0)

# PyTorch's LayerNorm epsilon; Keras defaults to 1e-3.
_LAYER_NORM_EPSILON = 1e-5


def _scaled_noise(size: int, seed: Optional[tf.Tensor]) -> tf.Tensor:
  """f(eps) = sign(eps) sqrt(|eps|), eps ~ N(0, 1) (Fortunato et al.)."""
  if seed is None:
    noise = tf.random.normal([size])
  else:
    noise = tf.random.stateless_normal([size], seed=seed)
  return tf.sign(noise) * tf.sqrt(tf.abs(noise))


class NoisyDense(tf.keras.layers.Layer):
  """A dense layer with factorised Gaussian noise on its weights and biases.

  y = (mu_w + sigma_w * (f(eps_in) f(eps_out)^T)) x + mu_b + sigma_b f(eps_out),
  with one noise sample per call, shared by the batch. Following Fortunato et
  al. (2018), section 3.2: mu ~ U(-1/sqrt(p), 1/sqrt(p)) and sigma =
  sigma0/sqrt(p) for weights and biases, p the number of inputs.
  curl_rainbow sets the biases' sigma to sigma0/sqrt(q), q the number of
  outputs; we keep the paper's. Without noise (`noisy=False`: evaluation, as
  curl_rainbow's eval mode) the layer is mu_w x + mu_b.
  """

  def __init__(self, units: int, sigma0: float = 0.1, **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.sigma0 = sigma0

  def build(self, input_shape):
    inputs = int(input_shape[-1])
    bound = 1.0 / math.sqrt(inputs)
    sigma = self.sigma0 / math.sqrt(inputs)
    self.mu_kernel = self.add_weight(
        name='mu_kernel', shape=[inputs, self.units],
        initializer=tf.keras.initializers.RandomUniform(-bound, bound))
    self.sigma_kernel = self.add_weight(
        name='sigma_kernel', shape=[inputs, self.units],
        initializer=tf.keras.initializers.Constant(sigma))
    self.mu_bias = self.add_weight(
        name='mu_bias', shape=[self.units],
        initializer=tf.keras.initializers.RandomUniform(-bound, bound))
    self.sigma_bias = self.add_weight(
        name='sigma_bias', shape=[self.units],
        initializer=tf.keras.initializers.Constant(sigma))
    super().build(input_shape)

  def call(self, inputs: tf.Tensor, noisy: bool = True,
           seed: Optional[tf.Tensor] = None) -> tf.Tensor:
    """Applies the layer.

    Args:
      inputs: [..., p].
      noisy: add freshly sampled noise (training and acting) or not
        (evaluation).
      seed: a stateless seed [2] for the noise, for tests; by default the
        global generator draws it.

    Returns:
      [..., units].
    """
    if not noisy:
      return tf.matmul(inputs, self.mu_kernel) + self.mu_bias
    inputs_seed = output_seed = None
    if seed is not None:
      inputs_seed, output_seed = seed, seed + 1
    noise_in = _scaled_noise(int(self.mu_kernel.shape[0]), inputs_seed)
    noise_out = _scaled_noise(self.units, output_seed)
    kernel = self.mu_kernel + self.sigma_kernel * (
        noise_in[:, None] * noise_out[None, :])
    bias = self.mu_bias + self.sigma_bias * noise_out
    return tf.matmul(inputs, kernel) + bias


class Encoder(tf.keras.layers.Layer):
  """uint8 [B, 84, 84, 4] frames -> [B, 576] features (two 5x5, stride-5 convs).

  Frames are scaled to [0, 1] as in curl_rainbow; 'valid' padding gives
  84 -> 16 -> 3.
  """

  def __init__(self, history: int = 4, **kwargs):
    super().__init__(**kwargs)
    self.convs = [
        tf.keras.layers.Conv2D(
            filters, 5, strides=5, padding='valid', activation='relu',
            kernel_initializer=_torch_default_kernel(),
            bias_initializer=_torch_default_bias(5 * 5 * in_channels),
            name=f'conv_{i}')
        for i, (in_channels, filters) in enumerate(((history, 32), (32, 64)))]
    self.flatten = tf.keras.layers.Flatten()

  def call(self, frames: tf.Tensor) -> tf.Tensor:
    x = tf.cast(frames, tf.float32) / 255.0
    for conv in self.convs:
      x = conv(x)
    return self.flatten(x)


class DuelingC51Head(tf.keras.layers.Layer):
  """Features -> per-action log-probabilities over the return atoms.

  Value and advantage streams of noisy layers; their logits combine as
  v + a - mean_a(a) before the softmax over atoms (curl_rainbow, as Rainbow).
  """

  def __init__(self, num_actions: int, num_atoms: int = 51,
               hidden_units: int = 256, sigma0: float = 0.1, **kwargs):
    super().__init__(**kwargs)
    self.num_actions = num_actions
    self.num_atoms = num_atoms
    self.value_hidden = NoisyDense(hidden_units, sigma0, name='value_hidden')
    self.value = NoisyDense(num_atoms, sigma0, name='value')
    self.advantage_hidden = NoisyDense(hidden_units, sigma0,
                                       name='advantage_hidden')
    self.advantage = NoisyDense(num_actions * num_atoms, sigma0,
                                name='advantage')

  def call(self, features: tf.Tensor, noisy: bool = True) -> tf.Tensor:
    """[B, 576] -> log-probabilities [B, num_actions, num_atoms]."""
    value = self.value(
        tf.nn.relu(self.value_hidden(features, noisy=noisy)), noisy=noisy)
    advantage = self.advantage(
        tf.nn.relu(self.advantage_hidden(features, noisy=noisy)), noisy=noisy)
    value = tf.reshape(value, [-1, 1, self.num_atoms])
    advantage = tf.reshape(advantage, [-1, self.num_actions, self.num_atoms])
    logits = value + advantage - tf.reduce_mean(
        advantage, axis=1, keepdims=True)
    return tf.nn.log_softmax(logits, axis=-1)


class Projection(tf.keras.layers.Layer):
  """CURL's head on the features: 256 units, layer norm, ReLU, 128, layer norm.

  curl_rainbow builds its layer norms inside forward(), so they are never
  trained (scale 1, offset 0); ours are parameter-free too (no scale or
  offset) for the same function. Its two matrices start uniform in [0, 1)
  (`torch.rand`), biases zero, and so do ours: Table 2 was produced so.
  """

  def __init__(self, hidden_units: int = 256, code_units: int = 128,
               **kwargs):
    super().__init__(**kwargs)
    self.hidden = tf.keras.layers.Dense(
        hidden_units, kernel_initializer=_unit_uniform(),
        bias_initializer='zeros', name='hidden')
    self.code = tf.keras.layers.Dense(
        code_units, kernel_initializer=_unit_uniform(),
        bias_initializer='zeros', name='code')
    self.hidden_norm = tf.keras.layers.LayerNormalization(
        epsilon=_LAYER_NORM_EPSILON, center=False, scale=False)
    self.code_norm = tf.keras.layers.LayerNormalization(
        epsilon=_LAYER_NORM_EPSILON, center=False, scale=False)

  def call(self, features: tf.Tensor) -> tf.Tensor:
    hidden = tf.nn.relu(self.hidden_norm(self.hidden(features)))
    return self.code_norm(self.code(hidden))


class RainbowNetwork(tf.keras.Model):
  """The encoder, the dueling C51 head and CURL's projection."""

  def __init__(self, num_actions: int, num_atoms: int = 51,
               hidden_units: int = 256, sigma0: float = 0.1,
               code_units: int = 128, **kwargs):
    super().__init__(**kwargs)
    self.encoder = Encoder(name='encoder')
    self.head = DuelingC51Head(num_actions, num_atoms, hidden_units, sigma0,
                               name='head')
    self.projection = Projection(hidden_units, code_units, name='projection')

  def call(self, frames: tf.Tensor, noisy: bool = True) -> tf.Tensor:
    """Log-probabilities [B, A, atoms] of uint8 frames [B, 84, 84, 4]."""
    return self.head(self.encoder(frames), noisy=noisy)

  def log_probs_and_codes(self, frames: tf.Tensor, noisy: bool = True
                          ) -> Tuple[tf.Tensor, tf.Tensor]:
    """The head's log-probabilities and CURL's codes [B, 128], one encoding."""
    features = self.encoder(frames)
    return self.head(features, noisy=noisy), self.projection(features)

  def codes(self, frames: tf.Tensor) -> tf.Tensor:
    """CURL's codes [B, 128] (the momentum copy's keys)."""
    return self.projection(self.encoder(frames))
