"""What a run writes for people: eval.csv, TensorBoard events, the console.

A resumed run appends to the files of the run it continues. What the earlier
process wrote after its last checkpoint is dropped first (`prune_after`), so
that no step appears twice and no curve runs backward.
"""

import csv
import glob
import os
import time
from typing import Dict, Optional

import tensorflow as tf

EVAL_CSV_FIELDS = ('env_step', 'agent_step', 'return_mean', 'return_std',
                   'return_min', 'return_max', 'num_episodes', 'wall_time_s')


class EvalCsv:
  """Appends one row per evaluation to WORKDIR/eval.csv."""

  def __init__(self, path: str):
    self.path = path
    if not os.path.exists(path):
      with open(path, 'w', newline='') as f:
        csv.writer(f).writerow(EVAL_CSV_FIELDS)

  def append(self, row: Dict[str, float]) -> None:
    with open(self.path, 'a', newline='') as f:
      csv.writer(f).writerow([row[k] for k in EVAL_CSV_FIELDS])

  def rows(self):
    with open(self.path, newline='') as f:
      return list(csv.DictReader(f))


def _prune_eval_csv(path: str, max_env_step: int) -> int:
  """Drops rows after `max_env_step`; returns how many."""
  if not os.path.exists(path):
    return 0
  with open(path, newline='') as f:
    rows = list(csv.reader(f))
  header, body = rows[:1], rows[1:]
  kept = [row for row in body if int(row[0]) <= max_env_step]
  if len(kept) == len(body):
    return 0
  tmp = f'{path}.tmp'
  with open(tmp, 'w', newline='') as f:
    csv.writer(f).writerows(header + kept)
  os.replace(tmp, path)
  return len(body) - len(kept)


def _prune_event_file(path: str, max_step: int) -> int:
  """Rewrites a TensorBoard event file without events after `max_step`."""
  records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
  kept = []
  for record in records:
    event = tf.compat.v1.Event.FromString(record)
    # Events without a summary (the file-version header) have step 0.
    if event.step <= max_step or not event.HasField('summary'):
      kept.append(record)
  if len(kept) == len(records):
    return 0
  tmp = f'{path}.tmp'
  with tf.io.TFRecordWriter(tmp) as writer:
    for record in kept:
      writer.write(record)
  os.replace(tmp, path)
  return len(records) - len(kept)


def prune_after(workdir: str, env_step: int) -> Dict[str, int]:
  """Drops eval.csv rows and TensorBoard events after `env_step`.

  Args:
    workdir: The run's workdir.
    env_step: The step the run resumes from (-1 for a run that starts over
      because it never completed a checkpoint).

  Returns:
    Counts of dropped eval rows and events.
  """
  dropped_events = 0
  for path in glob.glob(os.path.join(workdir, 'events.out.tfevents.*')):
    if not path.endswith('.tmp'):
      dropped_events += _prune_event_file(path, env_step)
  return {'eval_rows': _prune_eval_csv(os.path.join(workdir, 'eval.csv'),
                                       env_step),
          'events': dropped_events}


class Progress:
  """Env steps/s, ETA and the last eval return, for the console."""

  def __init__(self, num_env_steps: int, start_env_step: int = 0):
    self.num_env_steps = num_env_steps
    self.start_time = time.time()
    self._last_time = self.start_time
    self._last_env_step = start_env_step
    self.last_eval: Optional[str] = None

  def rate(self, env_step: int) -> float:
    """Env steps per second since the previous call."""
    now = time.time()
    steps_per_s = (env_step - self._last_env_step) / max(
        now - self._last_time, 1e-9)
    self._last_time, self._last_env_step = now, env_step
    return steps_per_s

  def line(self, env_step: int, steps_per_s: float) -> str:
    remaining_s = (self.num_env_steps - env_step) / max(steps_per_s, 1e-9)
    eta = time.strftime('%H:%M:%S', time.gmtime(remaining_s))
    return (f'env_step {env_step}/{self.num_env_steps} '
            f'({100.0 * env_step / self.num_env_steps:.1f}%) | '
            f'{steps_per_s:.1f} env steps/s | ETA {eta} | '
            f'last eval {self.last_eval or "-"}')
