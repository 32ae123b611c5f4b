"""Wall time, CPU time and memory of this process, for the benchmarks.

Every timed function must block until its work is done (read a value back
with `float(...)` or `.numpy()`), so that asynchronous execution cannot
flatter it.
"""

import gc
import time
from typing import Callable, List, Sequence, Tuple

import numpy as np
import psutil


def time_calls(fn: Callable[[], object], count: int) -> List[float]:
  """Seconds of each of `count` calls of `fn` (which must block)."""
  seconds = []
  for _ in range(count):
    start = time.perf_counter()
    fn()
    seconds.append(time.perf_counter() - start)
  return seconds


def median_and_mean_ms(seconds: Sequence[float]) -> Tuple[float, float]:
  ms = 1000.0 * np.asarray(seconds)
  return float(np.median(ms)), float(np.mean(ms))


def rss() -> int:
  """Resident bytes of this process, after a garbage collection."""
  gc.collect()
  return psutil.Process().memory_info().rss


def cpu_seconds() -> float:
  # All threads of this process: tf.data's, Reverb's server and client.
  times = psutil.Process().cpu_times()
  return times.user + times.system
