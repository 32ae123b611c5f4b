"""Number formats: what the hardware runs fastest, as Keras dtype policies.

'mixed_bfloat16' keeps float32 master weights (Keras mixed precision) and
computes the convolutions and dense layers in bfloat16. What stays float32,
and why, is decided where the layers are built (agents/sac/networks.py): the
LayerNorms, every network's output layer (so features, Q values, the
policy's mean and log std, and everything computed from them, the InfoNCE
logits, the TD target, the log-probabilities and the losses, are float32),
and the EMA of the target weights, which acts on the float32 variables.

bfloat16 has float32's exponent range, so unlike float16 it needs no loss
scaling. 'mixed_float16' is the same split in float16, for GPUs before
Ampere (Volta, Turing), whose tensor cores run float16 but not bfloat16:
float16's range is narrow (smallest normal 6e-5), so the agent's optimizers
are wrapped in Keras' LossScaleOptimizer (agents/sac/agent.py). 'auto'
never picks it.
"""

import functools
from typing import FrozenSet, Optional

import tensorflow as tf

PRECISIONS = ('float32', 'mixed_bfloat16', 'mixed_float16', 'auto')

# CPU flags (Linux /proc/cpuinfo) of the units that run bfloat16 natively:
# Intel AMX tiles (Sapphire Rapids and later), and AVX512-BF16 dot products
# (Cooper Lake, AMD Zen 4). oneDNN uses them for convolutions and matmuls;
# without them bfloat16 is emulated and slower than float32.
_AMX_FLAGS = frozenset({'amx_bf16', 'amx_tile'})
_AVX512_BF16_FLAG = 'avx512_bf16'


@functools.lru_cache(maxsize=1)
def cpu_flags() -> FrozenSet[str]:
  """The CPU's feature flags, empty where /proc/cpuinfo does not exist."""
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('flags'):
          return frozenset(line.split(':', 1)[1].split())
  except OSError:
    pass
  return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
  """The CPU's model name, e.g. 'Intel(R) Xeon(R) Processor'."""
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return 'unknown'


def cpu_has_amx() -> bool:
  return _AMX_FLAGS <= cpu_flags()


def _gpus_support_bfloat16() -> Optional[bool]:
  """True if every GPU is Ampere or newer, False if one is older, None if
  there is no GPU."""
  gpus = tf.config.list_physical_devices('GPU')
  if not gpus:
    return None
  for gpu in gpus:
    capability = tf.config.experimental.get_device_details(gpu).get(
        'compute_capability', (0, 0))
    if tuple(capability) < (8, 0):
      return False
  return True


def resolve(precision: str) -> str:
  """The precision to use for `precision` ('auto' decided here).

  'auto' picks mixed_bfloat16 on TPUs, on Ampere-or-newer GPUs, and on CPUs
  with AMX (measured on one: the encoder's forward and backward 2.4x faster
  than float32). Everywhere else float32: on a CPU with AVX512-BF16 but no
  AMX the gain is not established, and emulated bfloat16 is slower.

  Args:
    precision: one of PRECISIONS.

  Returns:
    'float32', 'mixed_bfloat16' or 'mixed_float16'.
  """
  if precision not in PRECISIONS:
    raise ValueError(f'precision must be one of {PRECISIONS}, got '
                     f'{precision!r}')
  if precision != 'auto':
    return precision
  if tf.config.list_logical_devices('TPU'):
    return 'mixed_bfloat16'
  gpus = _gpus_support_bfloat16()
  if gpus is not None:
    return 'mixed_bfloat16' if gpus else 'float32'
  return 'mixed_bfloat16' if cpu_has_amx() else 'float32'


def layer_policy(precision: str) -> Optional[tf.keras.mixed_precision.Policy]:
  """The Keras dtype policy of the compute-heavy layers (None: float32)."""
  resolved = resolve(precision)
  if resolved == 'float32':
    return None
  return tf.keras.mixed_precision.Policy(resolved)
