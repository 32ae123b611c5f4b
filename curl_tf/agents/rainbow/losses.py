"""C51's distributional target and loss, with importance weights.

Bellemare et al. (2017), Algorithm 1: the target distribution of a sampled
transition is the next state's return distribution (for the action the online
network picks: double Q, as Rainbow), shifted by the n-step return and shrunk
by the discount, then projected back onto the fixed support. The loss is the
cross-entropy of the online distribution of the taken action against it.
"""

import tensorflow as tf


def support(num_atoms: int, v_min: float, v_max: float) -> tf.Tensor:
  """The atoms z_0 < ... < z_{N-1}, evenly spaced on [v_min, v_max]."""
  return tf.linspace(tf.constant(v_min, tf.float32), v_max, num_atoms)


def project_distribution(atoms: tf.Tensor, next_probs: tf.Tensor,
                         returns: tf.Tensor,
                         bootstrap_discounts: tf.Tensor) -> tf.Tensor:
  """Projects r + gamma_n z onto the support (C51's Phi T z).

  Each shifted atom, clipped to [v_min, v_max], gives its probability to its
  two neighbouring atoms in proportion to closeness: atom j receives
  p_i * max(0, 1 - |Tz_i - z_j| / dz). An atom that lands exactly on z_j
  gives it everything (Kaixhin's Rainbow, which curl_rainbow forks, moves
  mass by floor and ceil indices and needs a fix for that case; this form
  does not).

  Args:
    atoms: [N] support.
    next_probs: [B, N] probabilities of the next state's distribution.
    returns: [B] n-step returns.
    bootstrap_discounts: [B] gamma^m times the episode's discounts over the
      m steps: 0 when the episode terminated within them.

  Returns:
    [B, N] target probabilities.
  """
  v_min, v_max = atoms[0], atoms[-1]
  delta = atoms[1] - atoms[0]
  shifted = tf.clip_by_value(
      returns[:, None] + bootstrap_discounts[:, None] * atoms[None, :],
      v_min, v_max)
  # [B, N_shifted, N_support]: how much of shifted atom i goes to atom j.
  closeness = tf.maximum(
      0.0, 1.0 - tf.abs(shifted[:, :, None] - atoms[None, None, :]) / delta)
  return tf.einsum('bi,bij->bj', next_probs, closeness)


def cross_entropy(target_probs: tf.Tensor, log_probs: tf.Tensor) -> tf.Tensor:
  """[B] per-transition loss -sum_j m_j log p_j (target held constant)."""
  # The target is a fixed label; only the online log-probabilities learn.
  target_probs = tf.stop_gradient(target_probs)
  return -tf.reduce_sum(target_probs * log_probs, axis=-1)


def importance_weights(probabilities: tf.Tensor, table_size: tf.Tensor,
                       exponent: tf.Tensor) -> tf.Tensor:
  """Prioritised replay's (N P(i))^-beta, divided by the batch's largest.

  Schaul et al. (2016), section 3.4; curl_rainbow normalises by the max over
  the batch, as here.

  Args:
    probabilities: [B] sampling probabilities P(i).
    table_size: number of items N, scalar or [B].
    exponent: beta, annealed from 0.4 to 1.

  Returns:
    [B] weights in (0, 1].
  """
  weights = tf.pow(
      tf.cast(table_size, tf.float32) * probabilities, -exponent)
  return weights / tf.reduce_max(weights)


def n_step_targets(rewards: tf.Tensor, discounts: tf.Tensor,
                   lengths: tf.Tensor, gamma: float):
  """The n-step return and the discount of its bootstrap.

  For a transition at t with m <= n steps of its episode after it (fewer
  than n near the episode's end):
  R = sum_{k<m} gamma^k r_{t+k} and the bootstrap from state t+m is weighted
  gamma^m d_{t+1} ... d_{t+m}, where d is the environment's discount: 0 at a
  termination (no bootstrap), 1 at a time limit (bootstrap through it).

  Args:
    rewards: [B, n] r_t ... r_{t+n-1}, zero past the m steps.
    discounts: [B, n] d_{t+1} ... d_{t+n}, one past the m steps.
    lengths: [B] int m.
    gamma: the discount factor.

  Returns:
    (returns [B], bootstrap_discounts [B]).
  """
  n = rewards.shape[-1]
  powers = tf.pow(tf.constant(gamma, tf.float32), tf.range(n, dtype=tf.float32))
  # The discounts of the steps before each reward: 1 for r_t, d_{t+1} for
  # r_{t+1}, ...; a termination is an episode's last step, so this only
  # matters to the bootstrap, but it keeps the sum right for any input.
  alive = tf.math.cumprod(discounts, axis=-1, exclusive=True)
  returns = tf.reduce_sum(powers * alive * rewards, axis=-1)
  bootstrap = tf.pow(tf.constant(gamma, tf.float32),
                     tf.cast(lengths, tf.float32)) * tf.reduce_prod(
                         discounts, axis=-1)
  return returns, bootstrap
