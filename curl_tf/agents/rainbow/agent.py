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
from tf_agents.networks import network as network_lib
from tf_agents.policies import categorical_q_policy
from tf_agents.policies import epsilon_greedy_policy
from tf_agents.policies import greedy_policy

from curl_tf import contrastive
from curl_tf import optimizers
from curl_tf.agents.rainbow import losses
from curl_tf.agents.rainbow import networks
from curl_tf.agents.rainbow import replay

Batch = Dict[str, tf.Tensor]
Metrics = Dict[str, tf.Tensor]

# curl_rainbow's agent.py lowers the contrastive loss's weight to 0.01 for
# these games and keeps 1 for the others.
CURL_COEF_0_01_GAMES = ('pong', 'boxing', 'private_eye', 'freeway')


def curl_coef(config) -> float:
  """config.curl_coef, or curl_rainbow's weight for the game when None."""
  if config.curl_coef is not None:
    return float(config.curl_coef)
  return 0.01 if config.game in CURL_COEF_0_01_GAMES else 1.0


# A priority of 0 would never be sampled again; the CE can round to it.
_MIN_PRIORITY = 1e-6


class _ReturnDistributions(network_lib.Network):
  """The online network as TF-Agents' categorical Q-network: log-probs.

  TF-Agents' CategoricalQPolicy takes the expected return per action from
  these (softmax over atoms, times the support). One wrapper acts with
  fresh noise, the other with the noise off; both share the layers.
  """

  def __init__(self, model: networks.RainbowNetwork, observation_spec,
               num_atoms: int, noisy: bool, name: str):
    super().__init__(input_tensor_spec=observation_spec, state_spec=(),
                     name=name)
    self._model = model
    self._noisy = noisy
    self._num_atoms = num_atoms

  @property
  def num_atoms(self) -> int:
    return self._num_atoms

  def call(self, observation, step_type=None, network_state=(),
           training=False):
    del step_type, training  # The noise is set at construction.
    return self._model(observation, noisy=self._noisy), network_state


class CurlRainbowAgent(tf.Module):
  """Online, target and momentum networks, W, one Adam optimiser, policies.

  `collect_policy` is greedy in the expected return with fresh noise (noisy
  nets explore; no epsilon), `eval_policy` is epsilon-greedy with the noise
  off, as curl_rainbow's evaluation. Both are TF-Agents policies, so the
  loop's drivers, PolicySaver export and checkpointing treat this agent as
  the SAC one.
  """

  def __init__(self, config, time_step_spec, action_spec,
               name: str = 'curl_rainbow'):
    super().__init__(name=name)
    num_actions = int(action_spec.maximum) - int(action_spec.minimum) + 1
    self.num_actions = num_actions
    self.time_step_spec = time_step_spec
    self.action_spec = action_spec
    self._curl_coef = curl_coef(config)
    self._curl_logit_scale = config.curl_logit_scale
    self._momentum_tau = 1.0 - config.curl_momentum
    self._clip_norm = config.max_gradient_norm

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
    # PyTorch's Adam, as curl_rainbow's: its epsilon (1.5e-4) is added after
    # the bias correction, where Keras' would be added before it.
    self.optimizer = optimizers.TorchAdam(
        learning_rate=config.learning_rate, epsilon=config.adam_epsilon)
    observation_spec = time_step_spec.observation

    def q_policy(noisy):
      return greedy_policy.GreedyPolicy(categorical_q_policy.CategoricalQPolicy(
          time_step_spec, action_spec,
          _ReturnDistributions(self.online, observation_spec,
                               config.num_atoms, noisy,
                               name='noisy' if noisy else 'mean'),
          min_q_value=config.v_min, max_q_value=config.v_max))

    self.collect_policy = q_policy(noisy=True)
    self.eval_policy = epsilon_greedy_policy.EpsilonGreedyPolicy(
        q_policy(noisy=False), epsilon=config.eval_epsilon)
    self.train_step_counter = tf.Variable(0, dtype=tf.int64, trainable=False,
                                          name='train_step')
    # New replay items' priority; kept here so the checkpoint holds it.
    self.max_priority = replay.MaxPriority()
    frames = tf.zeros([1] + observation_spec.shape.as_list(),
                      observation_spec.dtype)
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

  def checkpoint_items(self) -> Dict[str, object]:
    """Everything a resumed run needs, by name, for `tf.train.Checkpoint`."""
    return {'online': self.online, 'target': self.target,
            'momentum': self.momentum, 'W': self.similarity.w,
            'optimizer': self.optimizer,
            'train_step': self.train_step_counter,
            'max_priority': self.max_priority.variable}

  def update_target(self) -> None:
    """Copies the online network into the target network."""
    contrastive.soft_update(self.online.weights, self.target.weights, tau=1.0)

  def expected_q(self, frames: tf.Tensor, noisy: bool) -> tf.Tensor:
    """[B, A] expected returns sum_j z_j p_j(s, a)."""
    return tf.reduce_sum(tf.exp(self.online(frames, noisy=noisy)) * self.atoms,
                         axis=-1)

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
