"""CURL-SAC as a TF-Agents `SacAgent` with a contrastive train step.

The agent keeps `SacAgent`'s policies (so TF-Agents drivers, metrics and
`PolicySaver` work) and replaces its `_train` with the CURL update, in one of
two modes:

* `joint` (default, the paper's description): the anchor crop goes through the
  encoder once; the critic and contrastive losses are summed and one Adam step
  updates the encoder, both Q heads and W. Actor and alpha are updated in the
  same step, from the same (pre-update) parameters.
* `sequential` (the official code's order): critic step, then actor and alpha,
  then the target EMA, then the contrastive step, each on the parameters the
  previous one left. Unlike the official code, the encoder gets one Adam step
  from the contrastive loss, not two.

Under a tf.distribute strategy (build the agent inside `strategy.scope()`),
each replica runs the step on its equal share of the global batch: gradients
are scaled by 1/replicas and summed by the optimizers' all-reduce, the
contrastive keys are gathered from every replica, and the policy noise is the
global batch's, sliced, so a step matches the single-device step on the same
global batch.
"""

import functools
from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
from tf_agents.agents import tf_agent
from tf_agents.agents.sac import sac_agent
from tf_agents.policies import greedy_policy

from curl_tf.agents.sac import networks
from curl_tf import contrastive
from curl_tf import precision

Batch = Dict[str, tf.Tensor]
Metrics = Dict[str, tf.Tensor]

# PyTorch Adam's epsilon (Keras defaults to 1e-7).
_ADAM_EPSILON = 1e-8


def _adam(learning_rate: float, beta_1: float,
          loss_scale: bool = False) -> tf.keras.optimizers.Optimizer:
  optimizer = tf.keras.optimizers.Adam(
      learning_rate=learning_rate, beta_1=beta_1, beta_2=0.999,
      epsilon=_ADAM_EPSILON, jit_compile=False)
  if loss_scale:
    # float16 gradients underflow without it: Keras' dynamic loss scale
    # (starts at 2^15, halves and skips the step on non-finite gradients,
    # doubles after 2,000 finite steps).
    optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
  return optimizer


class CurlSacAgent(sac_agent.SacAgent):
  """SAC from pixels with the CURL auxiliary loss.

  Call `train(batch)` with a batch from `replay.make_dataset`: a dict of
  uint8 crops 'obs', 'next_obs', 'pos' [B, 84, 84, 3k] and 'action' [B, A],
  'reward' [B], 'discount' [B]. It returns a `LossInfo` whose `extra` holds
  named metrics.
  """

  def __init__(self, config, time_step_spec, action_spec,
               train_step_counter: Optional[tf.Variable] = None):
    if config.update_mode not in ('joint', 'sequential', 'official'):
      raise ValueError(f'unknown update_mode {config.update_mode!r}')
    nets = networks.CurlNetworks(config, time_step_spec.observation,
                                 action_spec)
    num_actions = int(np.prod(action_spec.shape))
    if train_step_counter is None:
      # TF-Agents would fall back on TF's global step, which every agent in
      # the process shares: a second agent (a notebook's, a test's reference)
      # would then start at the first one's step, with other update
      # schedules and other policy noise.
      train_step_counter = tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name='train_step')
    # Optimizers are ours, not SacAgent's: it would convert them to legacy
    # copies, and its own `_train` is never used.
    super().__init__(
        time_step_spec, action_spec,
        critic_network=nets.critic_1,
        critic_network_2=nets.critic_2,
        target_critic_network=nets.target_critic_1,
        target_critic_network_2=nets.target_critic_2,
        actor_network=nets.actor,
        actor_optimizer=None, critic_optimizer=None, alpha_optimizer=None,
        gamma=config.discount,
        initial_log_alpha=float(np.log(config.init_temperature)),
        # Table 3 / official code: -|A|; SacAgent's default is -|A|/2.
        target_entropy=-float(num_actions),
        train_step_counter=train_step_counter)
    self.networks = nets
    # curl_coef 0 is pixel SAC: no similarity, keys or InfoNCE are built.
    self.uses_curl = config.curl_coef > 0
    self.similarity = (contrastive.make_similarity(config)
                       if self.uses_curl else None)
    # W, when the similarity has one (the cosine one has none).
    self.bilinear = (self.similarity if isinstance(
        self.similarity, contrastive.BilinearSimilarity) else None)
    self._config = config
    # The strategy whose scope the agent is built in (TF's default strategy
    # outside any scope): its replicas run every train step.
    self._strategy = tf.distribute.get_strategy()
    loss_scale = precision.resolve(config.precision) == 'mixed_float16'
    self.critic_optimizer = _adam(config.critic_lr, config.beta1, loss_scale)
    self.actor_optimizer = _adam(config.actor_lr, config.beta1, loss_scale)
    # The alpha loss is float32 from end to end: nothing to scale.
    self.alpha_optimizer = _adam(config.alpha_lr, config.alpha_beta1)
    if config.update_mode == 'joint':
      # One optimizer step on critic + contrastive losses: W shares the
      # critic's optimizer. Table 3 uses one learning rate for both.
      self.critic_optimizer.build(self.critic_curl_variables())
      self.curl_optimizer = None
      self._replica_step = self._joint_step
    else:
      self.critic_optimizer.build(nets.critic_variables())
      self.curl_optimizer = None
      if self.uses_curl:
        self.curl_optimizer = _adam(config.encoder_lr, config.beta1,
                                    loss_scale)
        self.curl_optimizer.build(self.curl_variables())
      self._replica_step = self._sequential_step
    self.encoder_optimizer = None
    if config.update_mode == 'official' and self.uses_curl:
      # The official code's second optimizer over the encoder (its
      # encoder_optimizer), stepped with the CURL optimizer on the same
      # contrastive gradient: a departure from the paper we reproduce only
      # in this mode, since Table 1 was produced with it.
      self.encoder_optimizer = _adam(config.encoder_lr, config.beta1,
                                     loss_scale)
      self.encoder_optimizer.build(nets.encoder.trainable_variables)
    # Slots are built eagerly so every trace of the step may apply updates.
    self.actor_optimizer.build(nets.actor_variables())
    self.alpha_optimizer.build([self._log_alpha])
    self.eval_policy = greedy_policy.GreedyPolicy(self.policy)
    # One compiled step per mode; the Python flags select the trace, so
    # skipped actor/target updates cost nothing and need no tf.cond.
    self._step_fn = tf.function(self._step, jit_compile=config.jit_compile)

  # --- Variables ------------------------------------------------------------

  @property
  def strategy(self) -> tf.distribute.Strategy:
    return self._strategy

  @property
  def log_alpha(self) -> tf.Variable:
    return self._log_alpha

  @property
  def target_entropy(self) -> float:
    return self._target_entropy

  def _w(self):
    """[W] with the bilinear similarity, else []."""
    return [self.bilinear.w] if self.bilinear is not None else []

  def curl_variables(self):
    """Query encoder and W: what the contrastive loss trains."""
    return list(self.networks.encoder.trainable_variables) + self._w()

  def critic_curl_variables(self):
    """Encoder, Q heads and W: what the critic and contrastive losses train."""
    return self.networks.critic_variables() + self._w()

  def checkpoint_items(self) -> Dict[str, object]:
    """Everything a resumed run needs, by name, for `tf.train.Checkpoint`.

    Networks (the encoders are reached through the critics and the actor
    too; a checkpoint stores a shared object once), W, log alpha, the train
    step counter, and every optimizer's slots and iteration count.
    """
    nets = self.networks
    items = {
        'encoder': nets.encoder, 'target_encoder': nets.target_encoder,
        'critic_1': nets.critic_1, 'critic_2': nets.critic_2,
        'target_critic_1': nets.target_critic_1,
        'target_critic_2': nets.target_critic_2, 'actor': nets.actor,
        'log_alpha': self._log_alpha,
        'train_step': self.train_step_counter,
        'critic_optimizer': self.critic_optimizer,
        'actor_optimizer': self.actor_optimizer,
        'alpha_optimizer': self.alpha_optimizer,
    }
    if self.bilinear is not None:
      items['bilinear'] = self.bilinear
    if self.curl_optimizer is not None:
      items['curl_optimizer'] = self.curl_optimizer
    if self.encoder_optimizer is not None:
      items['encoder_optimizer'] = self.encoder_optimizer
    return items

  def _initialize(self):
    # Targets start as exact copies of the online encoder and Q heads.
    self._update_targets(encoder_tau=1.0, critic_tau=1.0)

  def _update_targets(self, encoder_tau: float, critic_tau: float):
    nets = self.networks
    contrastive.soft_update(nets.encoder.variables,
                            nets.target_encoder.variables, encoder_tau)
    for online, target in zip(nets.q_heads, nets.target_q_heads):
      contrastive.soft_update(online.variables, target.variables, critic_tau)

  # --- TF-Agents entry point ------------------------------------------------

  def _train(self, experience: Batch, weights=None) -> tf_agent.LossInfo:
    del weights  # Uniform replay: no importance weights.
    step = int(self.train_step_counter.numpy())
    metrics = self._step_fn(
        experience,
        update_actor=step % self._config.actor_update_freq == 0,
        update_targets=step % self._config.critic_target_update_freq == 0)
    return tf_agent.LossInfo(
        loss=metrics['critic_loss'] + metrics.get('curl_loss', 0.0),
        extra=metrics)

  # --- Loss pieces shared by both modes -------------------------------------

  def _alpha(self) -> tf.Tensor:
    return tf.exp(self._log_alpha)

  def _replica_share(self):
    """(index of the running replica, number of replicas), as int32."""
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    return (tf.cast(replica, tf.int32),
            self._strategy.num_replicas_in_sync)

  def _replica_noise(self, seed: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """This replica's rows of the global batch's standard normal noise.

    Drawn for the whole global batch and sliced, so that the noise of an
    example does not depend on how many replicas share the batch (on one
    device the slice is the whole draw).

    Args:
      seed: stateless seed, shape [2].
      like: a [b, A] tensor of the replica's b examples.

    Returns:
      Noise shaped and typed like `like`.
    """
    replica, replicas = self._replica_share()
    rows = tf.shape(like)[0]
    noise = tf.random.stateless_normal(
        tf.concat([[rows * replicas], tf.shape(like)[1:]], axis=0), seed,
        dtype=like.dtype)
    return noise[replica * rows:(replica + 1) * rows]

  def _gradients(self, tape: tf.GradientTape, loss: tf.Tensor,
                 variables: Sequence[tf.Variable],
                 optimizer: Optional[tf.keras.optimizers.Optimizer] = None):
    """Gradients of this replica's share of the global batch's loss.

    Each replica's loss is a mean over its b = B/N examples and the
    optimizers sum the replicas' gradients (all-reduce), so the loss is
    divided by N: the sum is then the gradient of the mean over the global
    batch, as on one device. Under mixed_float16 it is also multiplied by
    the optimizer's loss scale, and the gradients are unscaled after.

    Args:
      tape: the tape that recorded `loss`, no longer recording; it records
        the scaling too.
      loss: the replica's scalar loss, a mean over its examples.
      variables: what to differentiate.
      optimizer: the optimizer that will apply them.

    Returns:
      Gradients aligned with `variables`.
    """
    scaled = isinstance(optimizer,
                        tf.keras.mixed_precision.LossScaleOptimizer)
    with tape:
      share = loss / self._strategy.num_replicas_in_sync
      if scaled:
        share = optimizer.get_scaled_loss(share)
    gradients = tape.gradient(share, variables)
    if scaled:
      gradients = optimizer.get_unscaled_gradients(gradients)
    return gradients

  def noise_seeds(self, step: tf.Tensor):
    """Stateless seeds of the policy noise at train step `step`.

    Seeding the noise from (config.seed, step) makes a step reproducible and
    lets a test replay it exactly.

    Returns:
      (seed for a' ~ pi(.|s') in the TD target, seed for a ~ pi(.|s) in the
      actor loss), each shape [2].
    """
    base = tf.stack([tf.constant(self._config.seed, tf.int64),
                     tf.cast(step, tf.int64)])
    next_seed, actor_seed = tf.unstack(
        tf.random.experimental.stateless_split(base, 2))
    return next_seed, actor_seed

  def td_target(self, next_features_target: tf.Tensor, next_conv: tf.Tensor,
                batch: Batch, seed: tf.Tensor) -> tf.Tensor:
    """r + gamma * d * (min_i Q'_i(s', a') - alpha log pi(a'|s')), a' ~ pi.

    Args:
      next_features_target: target-encoder features of next_obs.
      next_conv: online conv features of next_obs (the actor's input).
      batch: the training batch.
      seed: stateless seed of the noise of a'.

    Returns:
      The TD target [B], with no gradient.
    """
    nets = self.networks
    mean, log_std = nets.actor.mean_and_log_std(next_conv)
    next_action, next_log_prob = networks.sample_tanh_gaussian(
        mean, log_std, noise=self._replica_noise(seed, mean))
    target_q = tf.minimum(
        nets.target_critic_1.q_from_features(next_features_target,
                                             next_action),
        nets.target_critic_2.q_from_features(next_features_target,
                                             next_action))
    soft_value = target_q - self._alpha() * next_log_prob
    # The discount is 1 at dm_control's time limit: we bootstrap through it.
    target = batch['reward'] + self._gamma * batch['discount'] * soft_value
    # Semi-gradient TD: no gradient through the target.
    return tf.stop_gradient(target)

  def critic_loss(self, features: tf.Tensor, batch: Batch,
                  td_target: tf.Tensor):
    """Sum of both Q heads' MSE to the TD target (official code); metrics."""
    nets = self.networks
    q1 = nets.critic_1.q_from_features(features, batch['action'])
    q2 = nets.critic_2.q_from_features(features, batch['action'])
    loss = (tf.reduce_mean(tf.square(q1 - td_target)) +
            tf.reduce_mean(tf.square(q2 - td_target)))
    return loss, {'critic_loss': loss, 'q1_mean': tf.reduce_mean(q1),
                  'q2_mean': tf.reduce_mean(q2),
                  'td_target_mean': tf.reduce_mean(td_target)}

  def curl_keys(self, pos: tf.Tensor) -> tf.Tensor:
    """Keys of the positives, from `config.key_encoder`'s encoder."""
    if self._config.key_encoder == 'query':
      # Figure 5's "no EMA" ablation: the query encoder encodes the keys
      # too; curl_loss stops their gradient.
      return self.networks.encoder(pos)
    return self.networks.target_encoder(pos)

  def curl_loss(self, queries: tf.Tensor, keys: tf.Tensor):
    """InfoNCE of queries against the keys, weighted by curl_coef; metrics.

    Returns:
      (curl_coef x InfoNCE, metrics with the unweighted InfoNCE).
    """
    # Keys get no gradient (MoCo): from the momentum encoder they could not
    # train it anyway, and from the query encoder ("no EMA") the paper's
    # ablation treats them as targets too.
    keys = tf.stop_gradient(keys)
    # Every replica's keys: each query has the global batch's B - 1
    # negatives, as on one device. (An InfoNCE over the replica's own b keys
    # would be a different, easier objective.)
    all_keys = tf.distribute.get_replica_context().all_gather(keys, axis=0)
    replica, _ = self._replica_share()
    rows = tf.shape(queries)[0]
    positives = replica * rows + tf.range(rows)
    logits = self.similarity.logits(queries, all_keys)
    loss = contrastive.info_nce_loss(logits, positives)
    return self._config.curl_coef * loss, {
        'curl_loss': loss,
        'curl_accuracy': contrastive.top1_accuracy(logits, positives)}

  def actor_and_alpha_gradients(self, conv: tf.Tensor,
                                critic_features: tf.Tensor, seed: tf.Tensor):
    """Gradients of the actor loss (actor variables) and alpha loss.

    Args:
      conv: conv features of the anchor crop.
      critic_features: critic encoder features of the same crop.
      seed: stateless seed of the noise of a ~ pi(.|s).

    Returns:
      (actor gradients aligned with `networks.actor_variables()`, the
      gradient of log alpha, metrics).
    """
    nets = self.networks
    # The actor loss trains neither the conv layers nor the critic's head:
    # both inputs are constants here (official: detach_encoder=True and an
    # optimizer holding only actor parameters).
    conv = tf.stop_gradient(conv)
    critic_features = tf.stop_gradient(critic_features)
    alpha = self._alpha()
    actor_variables = nets.actor_variables()
    with tf.GradientTape() as actor_tape:
      mean, log_std = nets.actor.mean_and_log_std(conv)
      actions, log_prob = networks.sample_tanh_gaussian(
          mean, log_std, noise=self._replica_noise(seed, mean))
      q = tf.minimum(nets.critic_1.q_from_features(critic_features, actions),
                     nets.critic_2.q_from_features(critic_features, actions))
      # alpha is a constant in the actor loss.
      actor_loss = tf.reduce_mean(tf.stop_gradient(alpha) * log_prob - q)
    actor_gradients = self._gradients(actor_tape, actor_loss,
                                      actor_variables, self.actor_optimizer)
    with tf.GradientTape() as alpha_tape:
      # The entropy error is a constant: this loss only moves log alpha.
      entropy_error = tf.stop_gradient(-log_prob - self._target_entropy)
      alpha_loss = tf.reduce_mean(tf.exp(self._log_alpha) * entropy_error)
    alpha_gradient, = self._gradients(alpha_tape, alpha_loss,
                                      [self._log_alpha])
    return actor_gradients, alpha_gradient, {
        'actor_loss': actor_loss, 'alpha_loss': alpha_loss,
        'entropy': -tf.reduce_mean(log_prob)}

  def _apply_actor_and_alpha(self, actor_gradients, alpha_gradient) -> None:
    self.actor_optimizer.apply_gradients(
        zip(actor_gradients, self.networks.actor_variables()))
    self.alpha_optimizer.apply_gradients(
        [(alpha_gradient, self._log_alpha)])

  def _step(self, batch: Batch, update_actor: bool,
            update_targets: bool) -> Metrics:
    """One train step on a global batch, run by every replica.

    Args:
      batch: the global batch; under a strategy with several replicas, as
        `strategy.experimental_distribute_dataset` hands it out (each replica
        its share).
      update_actor: whether the actor and alpha are updated this step.
      update_targets: whether the target networks are.

    Returns:
      Metrics, each a mean over the global batch.
    """
    per_replica = self._strategy.run(
        functools.partial(self._replica_step, update_actor=update_actor,
                          update_targets=update_targets), args=(batch,))
    # Replicas hold equal shares, so the mean of their means is the global
    # batch's mean.
    metrics = {
        name: self._strategy.reduce(tf.distribute.ReduceOp.MEAN, value,
                                    axis=None)
        for name, value in per_replica.items()}
    if update_targets and self._config.update_mode == 'joint':
      # After every optimizer step, on the updated online weights.
      self._update_targets(self._config.encoder_tau, self._config.critic_tau)
    self.train_step_counter.assign_add(1)
    metrics['alpha'] = self._alpha()
    return metrics

  # --- The two train steps, as each replica runs them -----------------------

  def joint_gradients(self, batch: Batch, update_actor: bool):
    """All gradients of one joint step, from the current parameters.

    Conv passes per image: anchor forward and backward, one online forward of
    next_obs (for a'), and one target forward of next_obs and pos, fused into
    a single 2B batch because they share weights.

    Args:
      batch: the training batch.
      update_actor: whether to compute the actor and alpha gradients.

    Returns:
      (gradients aligned with `critic_curl_variables()`, (actor gradients,
      alpha gradient) or None, metrics).
    """
    nets = self.networks
    next_seed, actor_seed = self.noise_seeds(self.train_step_counter)
    batch_size = tf.shape(batch['obs'])[0]
    # No-gradient forwards: the TD target and the contrastive keys.
    next_conv = nets.encoder.trunk(batch['next_obs'])
    momentum_keys = (self.uses_curl and
                     self._config.key_encoder == 'momentum')
    if momentum_keys:
      # One target pass over next_obs and the positives: shared weights.
      target_features = nets.target_encoder(
          tf.concat([batch['next_obs'], batch['pos']], axis=0))
      next_features_target = target_features[:batch_size]
      keys = target_features[batch_size:]
    else:
      next_features_target = nets.target_encoder(batch['next_obs'])
      keys = self.curl_keys(batch['pos']) if self.uses_curl else None
    td_target = self.td_target(next_features_target, next_conv, batch,
                               next_seed)

    # The no-gradient forwards finish (and free their activations) before the
    # anchor's forward and backward start, which lowers the step's peak memory.
    done = [td_target] + ([keys] if keys is not None else [])
    with tf.control_dependencies(done):
      anchor = tf.identity(batch['obs'])
    with tf.GradientTape() as tape:
      conv = nets.encoder.trunk(anchor)
      # The anchor's features serve both losses: one encoder pass.
      features = nets.encoder.head(conv)
      total_loss, metrics = self.critic_loss(features, batch, td_target)
      if self.uses_curl:
        curl_loss, curl_metrics = self.curl_loss(features, keys)
        total_loss += curl_loss
        metrics.update(curl_metrics)
    gradients = self._gradients(tape, total_loss,
                                self.critic_curl_variables(),
                                self.critic_optimizer)
    actor_and_alpha = None
    if update_actor:
      # The anchor's conv features, reused (detached) for the actor.
      actor_gradients, alpha_gradient, actor_metrics = (
          self.actor_and_alpha_gradients(conv, features, actor_seed))
      actor_and_alpha = (actor_gradients, alpha_gradient)
      metrics.update(actor_metrics)
    return gradients, actor_and_alpha, metrics

  def _joint_step(self, batch: Batch, update_actor: bool,
                  update_targets: bool) -> Metrics:
    """Critic + contrastive in one Adam step; actor and alpha alongside.

    The targets are updated by `_step`, after every replica's step.
    """
    del update_targets
    gradients, actor_and_alpha, metrics = self.joint_gradients(
        batch, update_actor)
    if actor_and_alpha is not None:
      self._apply_actor_and_alpha(*actor_and_alpha)
    self.critic_optimizer.apply_gradients(
        zip(gradients, self.critic_curl_variables()))
    metrics['batch_reward'] = tf.reduce_mean(batch['reward'])
    return metrics

  def _sequential_step(self, batch: Batch, update_actor: bool,
                       update_targets: bool) -> Metrics:
    """The official code's order: critic, actor+alpha, targets, contrastive.

    With update_mode 'official', the contrastive gradient is applied to the
    encoder by two Adam optimizers, as the official code does.
    """
    nets = self.networks
    next_seed, actor_seed = self.noise_seeds(self.train_step_counter)
    next_conv = nets.encoder.trunk(batch['next_obs'])
    td_target = self.td_target(nets.target_encoder(batch['next_obs']),
                               next_conv, batch, next_seed)
    critic_variables = nets.critic_variables()
    with tf.GradientTape() as tape:
      critic_loss, metrics = self.critic_loss(
          nets.encoder(batch['obs']), batch, td_target)
    self.critic_optimizer.apply_gradients(zip(
        self._gradients(tape, critic_loss, critic_variables,
                        self.critic_optimizer), critic_variables))

    if update_actor:
      # Fresh features from the just-updated encoder, as the official code.
      conv = nets.encoder.trunk(batch['obs'])
      actor_gradients, alpha_gradient, actor_metrics = (
          self.actor_and_alpha_gradients(conv, nets.encoder.head(conv),
                                         actor_seed))
      self._apply_actor_and_alpha(actor_gradients, alpha_gradient)
      metrics.update(actor_metrics)
    if update_targets:
      # Variables of every replica change together: in cross-replica context.
      tf.distribute.get_replica_context().merge_call(
          lambda _: self._update_targets(self._config.encoder_tau,
                                         self._config.critic_tau))

    if self.uses_curl:
      metrics.update(self._contrastive_update(batch))
    metrics['batch_reward'] = tf.reduce_mean(batch['reward'])
    return metrics

  def _contrastive_update(self, batch: Batch) -> Metrics:
    """The sequential modes' last sub-step: the contrastive loss alone."""
    nets = self.networks
    variables = self.curl_variables()
    keys = self.curl_keys(batch['pos'])
    with tf.GradientTape() as tape:
      curl_loss, metrics = self.curl_loss(nets.encoder(batch['obs']), keys)
    gradients = self._gradients(tape, curl_loss, variables,
                                self.curl_optimizer)
    if self.encoder_optimizer is not None:
      # 'official': its encoder optimizer steps first on the same gradient
      # (Adam's step does not depend on the weights, so the order does not
      # change the result).
      num_encoder = len(nets.encoder.trainable_variables)
      self.encoder_optimizer.apply_gradients(
          zip(gradients[:num_encoder], variables[:num_encoder]))
    self.curl_optimizer.apply_gradients(zip(gradients, variables))
    return metrics
