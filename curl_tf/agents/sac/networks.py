"""Keras encoder and TF-Agents critic/actor networks for CURL-SAC.

The conv layers are shared three ways: the critic's encoder (trained by the
critic and contrastive losses), the actor (which reads detached conv features,
as in the official code), and nothing else. TF-Agents networks copy their
layers when asked to, so sharing is done by passing layer objects into our own
`Network` classes, and the agent passes all four critics to `SacAgent`.
"""

from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tf_agents.distributions import utils as distribution_utils
from tf_agents.networks import network

from curl_tf import augmentations
from curl_tf import precision

# PyTorch's LayerNorm epsilon; Keras defaults to 1e-3.
_LAYER_NORM_EPSILON = 1e-5


class DeltaOrthogonal(tf.keras.initializers.Initializer):
  """Delta-orthogonal conv init (Xiao et al., 2018), as in the official code.

  All taps are zero except the centre one, which is an orthogonal
  [in_channels, out_channels] matrix scaled by `gain`.
  """

  def __init__(self, gain: float = 1.0, seed: Optional[int] = None):
    self.gain = gain
    self.seed = seed

  def __call__(self, shape, dtype=None, **kwargs):
    kernel_h, kernel_w, in_channels, out_channels = shape
    centre = tf.keras.initializers.Orthogonal(
        gain=self.gain, seed=self.seed)((in_channels, out_channels), dtype)
    kernel = tf.zeros(shape, dtype=dtype or tf.float32)
    return tf.tensor_scatter_nd_update(
        kernel, [[kernel_h // 2, kernel_w // 2]], centre[tf.newaxis])

  def get_config(self):
    return {'gain': self.gain, 'seed': self.seed}


# Dtype policy of the compute-heavy layers: None (float32) or a Keras mixed
# policy (precision.layer_policy). Variables stay float32 either way.
DtypePolicy = Optional[tf.keras.mixed_precision.Policy]


def _dense(units: int, activation=None, name=None,
           dtype: DtypePolicy = None) -> tf.keras.layers.Dense:
  # Orthogonal weights and zero biases, the official code's `weight_init`.
  return tf.keras.layers.Dense(
      units,
      activation=activation,
      kernel_initializer=tf.keras.initializers.Orthogonal(),
      bias_initializer='zeros',
      name=name,
      dtype=dtype)


def _mlp(hidden_units: int, num_hidden: int, output_units: int, name: str,
         dtype: DtypePolicy = None,
         output_dtype: DtypePolicy = None) -> tf.keras.Sequential:
  layers = [_dense(hidden_units, 'relu', dtype=dtype)
            for _ in range(num_hidden)]
  layers.append(_dense(output_units, dtype=output_dtype))
  return tf.keras.Sequential(layers, name=name)


class ConvTrunk(tf.keras.layers.Layer):
  """uint8 pixels -> flat conv features (Table 3: 4 layers, 32 filters, ReLU).

  3x3 kernels, stride 2 for the first layer and 1 after, no padding, as in the
  paper's pseudocode. Inputs larger than `crop_size` (the env's 100x100
  frames, seen when a policy acts) are centre-cropped first, as the official
  code does at collection and evaluation time; training batches arrive
  already randomly cropped to `crop_size`.
  """

  def __init__(self, num_layers: int = 4, num_filters: int = 32,
               crop_size: int = 84, name: str = 'conv_trunk',
               dtype: DtypePolicy = None):
    super().__init__(name=name, dtype=dtype)
    self.crop_size = crop_size
    # Official code: delta-orthogonal init with ReLU gain sqrt(2).
    init = DeltaOrthogonal(gain=np.sqrt(2.0))
    self.convs = [
        tf.keras.layers.Conv2D(
            num_filters, 3, strides=2 if i == 0 else 1, activation='relu',
            kernel_initializer=init, bias_initializer='zeros',
            name=f'conv{i}', dtype=dtype)
        for i in range(num_layers)
    ]
    self.flatten = tf.keras.layers.Flatten(dtype=dtype)

  def call(self, pixels: tf.Tensor) -> tf.Tensor:
    if pixels.shape[-2] != self.crop_size:
      pixels = augmentations.center_crop(pixels, self.crop_size)
    # uint8 straight to the compute dtype: bfloat16 holds 0..255 exactly.
    x = tf.cast(pixels, self.compute_dtype) / 255.0
    for conv in self.convs:
      x = conv(x)
    return self.flatten(x)


class EncoderHead(tf.keras.layers.Layer):
  """Flat conv features -> `feature_dim` latent with LayerNorm.

  'linear': Dense + LayerNorm, the official code that produced Table 1.
  'mlp': Dense(1024) + ReLU + Dense + LayerNorm + tanh, the paper's
  pseudocode.
  """

  def __init__(self, kind: str = 'linear', feature_dim: int = 50,
               hidden_units: int = 1024, name: str = 'encoder_head',
               dtype: DtypePolicy = None):
    super().__init__(name=name, dtype=dtype)
    if kind not in ('linear', 'mlp'):
      raise ValueError(f"encoder_head must be 'linear' or 'mlp', got {kind!r}")
    self.kind = kind
    num_hidden = 1 if kind == 'mlp' else 0
    self.projection = _mlp(hidden_units, num_hidden, feature_dim,
                           'projection', dtype=dtype, output_dtype=dtype)
    # LayerNorm in float32 under any policy: its mean and variance over 50
    # features, and the features every loss reads, keep float32's precision.
    self.layer_norm = tf.keras.layers.LayerNormalization(
        epsilon=_LAYER_NORM_EPSILON, dtype='float32')

  def call(self, conv_features: tf.Tensor) -> tf.Tensor:
    z = self.layer_norm(self.projection(conv_features))
    return tf.tanh(z) if self.kind == 'mlp' else z


class PixelEncoder(tf.keras.layers.Layer):
  """The CURL encoder: conv trunk then head (query and key encoders)."""

  def __init__(self, trunk: ConvTrunk, head: EncoderHead,
               name: str = 'encoder'):
    super().__init__(name=name)
    self.trunk = trunk
    self.head = head

  def call(self, pixels: tf.Tensor) -> tf.Tensor:
    return self.head(self.trunk(pixels))


class StateTrunk(tf.keras.layers.Layer):
  """States mode's stand-in for the conv trunk: the state itself, float32.

  It has no weights, so the critics and the actor read the proprioceptive
  state directly, and the agent's losses and updates run unchanged.
  """

  def call(self, states: tf.Tensor) -> tf.Tensor:
    return tf.cast(states, tf.float32)


class Identity(tf.keras.layers.Layer):
  """States mode's stand-in for an encoder head: no projection."""

  def call(self, features: tf.Tensor) -> tf.Tensor:
    return features


def make_encoder(config, name: str = 'encoder') -> PixelEncoder:
  """Builds an encoder from the config's network fields.

  With config.observation 'states' it is weightless (StateTrunk, Identity):
  state SAC's critics are MLPs on the state, as in pytorch_sac.
  """
  if config.observation == 'states':
    return PixelEncoder(StateTrunk(name='state_trunk'),
                        Identity(name='encoder_head'), name=name)
  dtype = precision.layer_policy(config.precision)
  return PixelEncoder(
      ConvTrunk(config.num_conv_layers, config.num_filters, config.crop_size,
                dtype=dtype),
      EncoderHead(config.encoder_head, config.feature_dim,
                  config.hidden_units, dtype=dtype),
      name=name)


class CriticNetwork(network.Network):
  """Q(o, a): the (possibly shared) encoder, then an MLP 1024-1024-1."""

  def __init__(self, input_tensor_spec, encoder: PixelEncoder,
               hidden_units: int = 1024, name: str = 'CriticNetwork',
               dtype: DtypePolicy = None):
    super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(),
                     name=name)
    self.encoder = encoder
    # Q values in float32: the TD target and the losses are computed from
    # them.
    self.q_head = _mlp(hidden_units, 2, 1, 'q_head', dtype=dtype,
                       output_dtype='float32')

  def q_from_features(self, features: tf.Tensor,
                      actions: tf.Tensor) -> tf.Tensor:
    """Q values [B] from encoder features [B, D] and actions [B, A]."""
    q = self.q_head(tf.concat([features, actions], axis=-1))
    return tf.squeeze(q, axis=-1)

  def call(self, inputs, step_type=(), network_state=(), training=False):
    del step_type, training
    observations, actions = inputs
    return self.q_from_features(self.encoder(observations),
                                actions), network_state


class ActorNetwork(network.Network):
  """Tanh-Gaussian policy on the critic's conv layers with its own head."""

  def __init__(self, input_tensor_spec, action_spec, trunk: ConvTrunk,
               head: EncoderHead, hidden_units: int = 1024,
               log_std_bounds: Tuple[float, float] = (-10.0, 2.0),
               name: str = 'ActorNetwork', dtype: DtypePolicy = None):
    super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(),
                     name=name)
    self.trunk = trunk
    self.head = head
    self._action_spec = action_spec
    num_actions = int(np.prod(action_spec.shape))
    # Mean and log std in float32: the log-probabilities, the entropy and
    # the exported actions are computed from them.
    self.policy_head = _mlp(hidden_units, 2, 2 * num_actions, 'policy_head',
                            dtype=dtype, output_dtype='float32')
    self._log_std_min, self._log_std_max = log_std_bounds

  def conv_features(self, pixels: tf.Tensor) -> tf.Tensor:
    # The actor never trains the conv layers: they belong to the critic's
    # encoder and are trained by the critic and contrastive losses (official
    # code: `detach_encoder=True` for the actor).
    return tf.stop_gradient(self.trunk(pixels))

  def mean_and_log_std(self, conv_features: tf.Tensor):
    """Pre-tanh mean and log std [B, A] from (detached) conv features."""
    out = self.policy_head(self.head(conv_features))
    mean, log_std = tf.split(out, 2, axis=-1)
    # Squash log std smoothly into [log_std_min, log_std_max] (official code).
    log_std = self._log_std_min + 0.5 * (
        self._log_std_max - self._log_std_min) * (tf.tanh(log_std) + 1.0)
    return mean, log_std

  def call(self, observations, step_type=(), network_state=(),
           training=False):
    del step_type, training
    mean, log_std = self.mean_and_log_std(self.conv_features(observations))
    distribution = distribution_utils.SquashToSpecNormal(
        tfp.distributions.MultivariateNormalDiag(mean, tf.exp(log_std)),
        self._action_spec)
    return distribution, network_state


def sample_tanh_gaussian(mean: tf.Tensor, log_std: tf.Tensor,
                         seed: Optional[tf.Tensor] = None,
                         noise: Optional[tf.Tensor] = None):
  """Reparameterised tanh-Gaussian sample and its log-probability.

  Args:
    mean: pre-tanh mean [B, A].
    log_std: pre-tanh log standard deviation [B, A].
    seed: optional stateless seed, shape [2].
    noise: the standard normal noise itself [B, A], instead of a seed (a
      replica passes its rows of the global batch's noise).

  Returns:
    (actions [B, A] in (-1, 1), log_prob [B]).
  """
  if noise is None:
    if seed is None:
      noise = tf.random.normal(tf.shape(mean))
    else:
      noise = tf.random.stateless_normal(tf.shape(mean), seed)
  pre_tanh = mean + noise * tf.exp(log_std)
  gaussian_log_prob = tf.reduce_sum(
      -0.5 * tf.square(noise) - log_std - 0.5 * np.log(2.0 * np.pi), axis=-1)
  # log|d tanh(u)/du| = 2 (log 2 - u - softplus(-2u)): exact and stable, where
  # the official code's log(1 - tanh(u)^2 + 1e-6) is clamped near |a| = 1.
  log_det = tf.reduce_sum(
      2.0 * (np.log(2.0) - pre_tanh - tf.nn.softplus(-2.0 * pre_tanh)),
      axis=-1)
  return tf.tanh(pre_tanh), gaussian_log_prob - log_det


class CurlNetworks:
  """All networks of one CURL-SAC agent, wired for sharing.

  Attributes:
    encoder: the query encoder, shared by both online critics.
    target_encoder: the key encoder, an EMA of `encoder`, shared by both
      target critics (the official code's key encoder is the critic target's).
    critic_1, critic_2, target_critic_1, target_critic_2: TF-Agents critics.
    actor: TF-Agents actor on `encoder.trunk` with its own head.
  """

  def __init__(self, config, observation_spec, action_spec):
    critic_spec = (observation_spec, action_spec)
    dtype = precision.layer_policy(config.precision)
    self.encoder = make_encoder(config, 'encoder')
    self.target_encoder = make_encoder(config, 'target_encoder')

    def critic(encoder, name):
      return CriticNetwork(critic_spec, encoder, config.hidden_units, name,
                           dtype=dtype)

    self.critic_1 = critic(self.encoder, 'critic_1')
    self.critic_2 = critic(self.encoder, 'critic_2')
    self.target_critic_1 = critic(self.target_encoder, 'target_critic_1')
    self.target_critic_2 = critic(self.target_encoder, 'target_critic_2')
    if config.observation == 'states':
      actor_head = Identity(name='actor_encoder_head')
    else:
      actor_head = EncoderHead(config.encoder_head, config.feature_dim,
                               config.hidden_units, name='actor_encoder_head',
                               dtype=dtype)
    self.actor = ActorNetwork(
        observation_spec, action_spec, self.encoder.trunk, actor_head,
        config.hidden_units, (config.log_std_min, config.log_std_max),
        name='actor', dtype=dtype)
    for net in (self.critic_1, self.critic_2, self.target_critic_1,
                self.target_critic_2):
      net.create_variables(critic_spec)
    self.actor.create_variables(observation_spec)

  @property
  def q_heads(self) -> Sequence[tf.keras.Model]:
    return (self.critic_1.q_head, self.critic_2.q_head)

  @property
  def target_q_heads(self) -> Sequence[tf.keras.Model]:
    return (self.target_critic_1.q_head, self.target_critic_2.q_head)

  def critic_variables(self):
    """Encoder (conv + head) and both Q heads: what the critic loss trains."""
    return (list(self.encoder.trainable_variables) +
            [v for head in self.q_heads for v in head.trainable_variables])

  def actor_variables(self):
    """The actor's own head and policy MLP; never the shared conv layers."""
    return (list(self.actor.head.trainable_variables) +
            list(self.actor.policy_head.trainable_variables))

