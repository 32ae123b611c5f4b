"""Where the learner runs: a tf.distribute strategy from `config.strategy`.

The agent is built inside `strategy.scope()`, so its variables are mirrored
on every replica, and `agent.train` runs each step on every replica with its
share of the global batch (agents/sac/agent.py says how the step stays the
same objective as on one device). The replay pipeline stays on the host: Reverb
and the crops run on the CPU, and `experimental_distribute_dataset` splits
each global batch.

Tested here on logical CPU devices only (tests/distribution_test.py); a
real multi-GPU or TPU run has not been made.
"""

import functools
from typing import Optional, Tuple

import tensorflow as tf

from curl_tf import config_lib

STRATEGIES = ('auto', 'default', 'mirrored', 'tpu')


class StrategyError(config_lib.ConfigError):
  """The strategy asked for cannot be built here (one line for the user)."""


def make_strategy(name: str,
                  tpu_address: Optional[str] = None) -> tf.distribute.Strategy:
  """The strategy `config.strategy` names.

  Args:
    name: one of STRATEGIES. 'auto': mirrored over every GPU if there are
      two or more, the one GPU if there is one, else TF's default strategy
      (the CPU). 'mirrored': every GPU, or where there is none every logical
      CPU device (as tests configure them).
    tpu_address: for 'tpu', the TPU's gRPC address or name ('local' on a TPU
      VM).

  Returns:
    The strategy; TF's default strategy for 'default'.

  Raises:
    StrategyError: unknown name, or 'tpu' without an address or unreachable.
  """
  if name not in STRATEGIES:
    raise StrategyError(f'strategy must be one of {STRATEGIES}, got {name!r}')
  gpus = tf.config.list_logical_devices('GPU')
  if name == 'auto':
    if len(gpus) > 1:
      name = 'mirrored'
    elif len(gpus) == 1:
      return tf.distribute.OneDeviceStrategy(gpus[0].name)
    else:
      name = 'default'
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    devices = gpus or tf.config.list_logical_devices('CPU')
    return _mirrored_strategy(tuple(d.name for d in devices))
  return _tpu_strategy(tpu_address)


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(devices: Tuple[str, ...]) -> tf.distribute.Strategy:
  # One per device set and process: each MirroredStrategy numbers its
  # collective ops from the same start, and the runtime that matches them is
  # the process's, so a second strategy over the same devices (a notebook's
  # second run, a test's) would collide with the first's collectives.
  return tf.distribute.MirroredStrategy(list(devices))


def _tpu_strategy(tpu_address: Optional[str]) -> tf.distribute.TPUStrategy:
  if not tpu_address:
    raise StrategyError("strategy 'tpu' needs --tpu=ADDRESS (the TPU's name "
                        "or grpc://host:port; 'local' on a TPU VM)")
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu_address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, tf.errors.OpError) as e:
    first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise StrategyError(
        f'cannot reach the TPU {tpu_address!r}: {first_line}') from None
  return tf.distribute.TPUStrategy(resolver)


def describe(strategy: tf.distribute.Strategy) -> str:
  """One line for the log, e.g. 'MirroredStrategy, 2 replica(s) (...)'."""
  try:
    devices = strategy.extended.worker_devices
  except RuntimeError:
    # TF's default strategy has none: TF places each op.
    return 'default strategy (one device, placed by TensorFlow)'
  return (f'{type(strategy).__name__}, '
          f'{strategy.num_replicas_in_sync} replica(s) '
          f'({", ".join(devices)})')


def check_batch_size(strategy: tf.distribute.Strategy,
                     batch_size: int) -> None:
  """Every replica gets an equal share of the global batch, or none runs.

  Equal shares are what make the mean of the replicas' means the global
  batch's mean (agents/sac/agent.py).

  Raises:
    StrategyError: `batch_size` is not a multiple of the replica count.
  """
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise StrategyError(
        f'batch_size {batch_size} does not split evenly over {replicas} '
        f'replicas ({describe(strategy)}); use a multiple of {replicas}')
