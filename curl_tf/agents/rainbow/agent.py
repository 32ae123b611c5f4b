"""CURL in Data-Efficient Rainbow: the train step and the acting rules.

One update, on a prioritised batch from agents/rainbow/replay.py:
- C51 with double Q (Rainbow): the online network picks the next action at
  s_{t+m}, the target network's distribution for it is shifted by the n-step
  return and projected; the loss is its cross-entropy with the online
  distribution of the taken action at s_t, unaugmented, as curl_rainbow.
- CURL: anchors are online codes of one random shift of s_t, keys the
  momentum network's codes of another; logits q^T W k with the row max
  subtracted, times 0.1 (curl_rainbow's agent.py); InfoNCE with the
  diagonal as positives.
- loss = mean_i(w_i CE_i) + coef * InfoNCE, one Adam step on the online
  network and W, the gradient's global norm clipped to 10; then the momentum
  network moves 0.001 of the way to the online one (momentum 0.999, every
  update). The target network is copied every 2,000 updates by the loop.

Two departures from curl_rainbow, both where its code mixes the contrastive
loss into prioritised replay: there the sampled items' new priorities are
CE_i + coef * InfoNCE (the batch's InfoNCE added to every item), and the
InfoNCE is multiplied by the importance weights along with the CE. Here
priorities are the CE alone (Schaul et al.'s TD-error analogue, as
Data-Efficient Rainbow) and the InfoNCE, a loss on the batch's
representations rather than on its returns, is not importance-weighted.
"""

from typing import Dict

import tensorflow as tf

from curl_tf import contrastive
from curl_tf.agents.rainbow import losses
from curl_tf.agents.rainbow import networks

Batch = Dict[str, tf.Tensor]
Metrics = Dict[str, tf.Tensor]

# A priority of 0 would never be sampled again; the CE can round to it.
_MIN_PRIORITY = 1e-6


class CurlRainbowAgent(tf.Module):
  """Online, target and momentum networks, W, and one Adam optimiser."""

  def __init__(self, config, num_actions: int, name: str = 'curl_rainbow'):
    super().__init__(name=name)
    self.num_actions = num_actions
    self._curl_coef = config.curl_coef
    self._curl_logit_scale = config.curl_logit_scale
    self._momentum_tau = 1.0 - config.curl_momentum
    self._clip_norm = config.max_gradient_norm
    self._eval_epsilon = config.eval_epsilon

    def network(name):
      return networks.RainbowNetwork(
          num_actions, num_atoms=config.num_atoms,
          hidden_units=config.hidden_units, sigma0=config.noisy_sigma0,
          code_units=config.curl_code_units, name=name)

    self.online = network('online')
    self.target = network('target')
    self.momentum = network('momentum')
    self.similarity = contrastive.BilinearSimilarity(config.curl_code_units)
    self.atoms = losses.support(config.num_atoms, config.v_min, config.v_max)
    self.optimizer = tf.keras.optimizers.Adam(
        learning_rate=config.learning_rate, epsilon=config.adam_epsilon)
    self.train_step_counter = tf.Variable(0, dtype=tf.int64, trainable=False,
                                          name='train_step')
    frames = tf.zeros([1, config.frame_size, config.frame_size,
                       config.history], tf.uint8)
    for net in (self.online, self.target, self.momentum):
      net.log_probs_and_codes(frames)
    self.optimizer.build(self.trainable_weights)
    self.update_target()
    # The momentum encoder starts as a copy of the online one (curl_rainbow's
    # initialize_momentum_net).
    contrastive.soft_update(self._curl_online_variables(),
                            self._curl_momentum_variables(), tau=1.0)

  @property
  def trainable_weights(self):
    return self.online.trainable_weights + [self.similarity.w]

  def _curl_online_variables(self):
    return (self.online.encoder.trainable_weights +
            self.online.projection.trainable_weights)

  def _curl_momentum_variables(self):
    return (self.momentum.encoder.trainable_weights +
            self.momentum.projection.trainable_weights)

  def update_target(self) -> None:
    """Copies the online network into the target network."""
    contrastive.soft_update(self.online.weights, self.target.weights, tau=1.0)

  def expected_q(self, frames: tf.Tensor, noisy: bool) -> tf.Tensor:
    """[B, A] expected returns sum_j z_j p_j(s, a)."""
    return tf.reduce_sum(tf.exp(self.online(frames, noisy=noisy)) * self.atoms,
                         axis=-1)

  @tf.function
  def collect_action(self, frames: tf.Tensor) -> tf.Tensor:
    """Greedy with fresh noise: noisy nets explore (no epsilon), [B] int32."""
    return tf.argmax(self.expected_q(frames, noisy=True), axis=-1,
                     output_type=tf.int32)

  @tf.function
  def eval_action(self, frames: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Noise off, epsilon-greedy with eval_epsilon, as curl_rainbow's test."""
    greedy = tf.argmax(self.expected_q(frames, noisy=False), axis=-1,
                       output_type=tf.int32)
    batch = tf.shape(frames)[0]
    explore_seed, action_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 2))
    explore = tf.random.stateless_uniform([batch], explore_seed) < (
        self._eval_epsilon)
    random_actions = tf.random.stateless_uniform(
        [batch], action_seed, maxval=self.num_actions, dtype=tf.int32)
    return tf.where(explore, random_actions, greedy)

  def losses(self, batch: Batch, is_exponent: tf.Tensor) -> Metrics:
    """The step's losses; differentiable in the online network and W."""
    batch_size = tf.shape(batch['obs'])[0]
    # One pass for s_t and s_{t+m}: the two share the noise sample, as
    # curl_rainbow's online passes share theirs.
    online_log_probs = self.online(
        tf.concat([batch['obs'], batch['next_obs']], axis=0), noisy=True)
    log_probs, next_online_log_probs = (online_log_probs[:batch_size],
                                        online_log_probs[batch_size:])
    # Double Q: the online network chooses, the target network evaluates;
    # the choice is a label, no gradient goes through it.
    next_actions = tf.argmax(
        tf.reduce_sum(tf.exp(tf.stop_gradient(next_online_log_probs)) *
                      self.atoms, axis=-1), axis=-1, output_type=tf.int32)
    next_probs = tf.exp(tf.gather(
        self.target(batch['next_obs'], noisy=True), next_actions,
        batch_dims=1))
    target_probs = losses.project_distribution(
        self.atoms, next_probs, batch['return'], batch['bootstrap_discount'])
    taken = tf.gather(log_probs, batch['action'], batch_dims=1)
    cross_entropy = losses.cross_entropy(target_probs, taken)
    weights = losses.importance_weights(batch['probability'],
                                        batch['table_size'], is_exponent)
    q_loss = tf.reduce_mean(weights * cross_entropy)

    metrics = {'q_loss': q_loss, 'cross_entropy': cross_entropy,
               'importance_weight_mean': tf.reduce_mean(weights)}
    loss = q_loss
    if self._curl_coef:
      queries = self.online.codes(batch['anchor'])
      # Keys come from the momentum network and carry no gradient (MoCo).
      keys = tf.stop_gradient(self.momentum.codes(batch['positive']))
      logits = self.similarity.logits(queries, keys) * self._curl_logit_scale
      curl_loss = contrastive.info_nce_loss(logits)
      loss += self._curl_coef * curl_loss
      metrics['curl_loss'] = curl_loss
      metrics['curl_accuracy'] = contrastive.top1_accuracy(logits)
    metrics['loss'] = loss
    return metrics

  @tf.function
  def train(self, batch: Batch, is_exponent: tf.Tensor) -> Metrics:
    """One update; returns metrics and 'priorities' [B] for the sampled keys.

    Args:
      batch: from agents/rainbow/replay.make_dataset.
      is_exponent: the importance-sampling exponent beta for this update.
    """
    variables = self.trainable_weights
    with tf.GradientTape() as tape:
      metrics = self.losses(batch, is_exponent)
    gradients = tape.gradient(metrics['loss'], variables)
    gradients, norm = tf.clip_by_global_norm(gradients, self._clip_norm)
    self.optimizer.apply_gradients(zip(gradients, variables))
    contrastive.soft_update(self._curl_online_variables(),
                            self._curl_momentum_variables(),
                            tau=self._momentum_tau)
    self.train_step_counter.assign_add(1)
    metrics['gradient_norm'] = norm
    metrics['priorities'] = tf.maximum(metrics.pop('cross_entropy'),
                                       _MIN_PRIORITY)
    return metrics
