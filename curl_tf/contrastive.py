"""The CURL contrastive objective: similarities, InfoNCE, momentum update."""

from typing import Optional, Sequence

import tensorflow as tf


class BilinearSimilarity(tf.Module):
  """sim(q, k) = q^T W k with a learned W (paper eq. 4, Figure 5).

  W is [feature_dim, feature_dim], initialised uniform in [0, 1) as in the
  official code (the paper's pseudocode says `rand(z_dim, z_dim)`).
  """

  def __init__(self, feature_dim: int = 50, seed=None,
               name: str = 'bilinear'):
    super().__init__(name=name)
    self.w = tf.Variable(
        tf.random.uniform([feature_dim, feature_dim], seed=seed), name='W')

  def logits(self, queries: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
    """[B, B] logits q_i^T W k_j, minus each row's max.

    Args:
      queries: anchors from the query encoder, [B, D].
      keys: keys from the momentum encoder, [B, D]; row i is the positive of
        query i and the other rows are its negatives.

    Returns:
      Logits [B, B]. Subtracting the row max changes no softmax and keeps
      exp() finite (the paper's pseudocode does it).
    """
    logits = tf.matmul(queries, tf.matmul(self.w, keys, transpose_b=True))
    return logits - tf.reduce_max(logits, axis=1, keepdims=True)


class CosineSimilarity(tf.Module):
  """sim(q, k) = q.k / (|q| |k| temperature): Figure 5's cosine ablation.

  No parameters. The logits lie in [-1/temperature, 1/temperature], so no
  row max needs subtracting.
  """

  def __init__(self, temperature: float, name: str = 'cosine'):
    super().__init__(name=name)
    self.temperature = temperature

  def logits(self, queries: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
    """[B, K] cosine similarities of queries and keys over the temperature."""
    queries = tf.math.l2_normalize(queries, axis=1)
    keys = tf.math.l2_normalize(keys, axis=1)
    return tf.matmul(queries, keys, transpose_b=True) / self.temperature


def make_similarity(config):
  """The similarity `config.similarity` names ('bilinear' or 'cosine')."""
  if config.similarity == 'bilinear':
    return BilinearSimilarity(config.feature_dim)
  if config.similarity == 'cosine':
    return CosineSimilarity(config.curl_temperature)
  raise ValueError(f'unknown similarity {config.similarity!r}')


def info_nce_loss(logits: tf.Tensor,
                  positives: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Mean cross-entropy of each query's positive key among all keys.

  Args:
    logits: [B, K] query-by-key logits.
    positives: column of each row's positive key, [B]; by default the
      diagonal (arange(B)). A replica holding rows [r b, (r + 1) b) of the
      keys gathered from every replica passes r b + arange(b).

  Returns:
    The loss, a scalar.
  """
  if positives is None:
    positives = tf.range(tf.shape(logits)[0])
  return tf.reduce_mean(
      tf.nn.sparse_softmax_cross_entropy_with_logits(positives, logits))


def top1_accuracy(logits: tf.Tensor,
                  positives: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Fraction of queries whose highest logit is their own positive."""
  if positives is None:
    positives = tf.range(tf.shape(logits)[0])
  return tf.reduce_mean(tf.cast(
      tf.equal(tf.argmax(logits, axis=1, output_type=positives.dtype),
               positives), tf.float32))


def soft_update(online: Sequence[tf.Variable], target: Sequence[tf.Variable],
                tau: float) -> None:
  """target <- tau * online + (1 - tau) * target, variable by variable.

  Table 3: tau = 0.05 for the encoder (the key encoder, i.e. momentum 0.95 in
  the paper's theta_k = m theta_k + (1 - m) theta_q) and 0.01 for the Q heads.
  """
  if len(online) != len(target):
    raise ValueError(
        f'{len(online)} online variables but {len(target)} target variables')
  for source, dest in zip(online, target):
    if source.shape != dest.shape:
      raise ValueError(
          f'shape mismatch: {source.name} {source.shape} vs '
          f'{dest.name} {dest.shape}')
    dest.assign(tau * source + (1.0 - tau) * dest)
