"""Reads what training runs wrote: a sweep's layout and each run's eval.csv.

A sweep writes ROOT/<task>/seed_<n>/, each an ordinary workdir. This module
only reads (the report and the sweep both use it) and imports neither
TensorFlow nor dm_control, so reading results takes no seconds of start-up.
"""

import csv
import dataclasses
import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence

EVAL_CSV = 'eval.csv'
RUN_CONFIG = 'config.json'
_SEED_DIR = re.compile(r'seed_(\d+)')


class ResultsError(ValueError):
  """A results root or file that cannot be read; the message says why."""


@dataclasses.dataclass(frozen=True)
class EvalRow:
  env_step: int
  return_mean: float


@dataclasses.dataclass
class Run:
  """One workdir's evaluations, in env-step order."""
  task: str
  seed: int
  workdir: str
  rows: List[EvalRow]
  config: Dict[str, Any]
  # Why the run has no readable evaluations, if so.
  problem: Optional[str] = None

  @property
  def last_env_step(self) -> Optional[int]:
    return self.rows[-1].env_step if self.rows else None

  @property
  def paper_task(self) -> Optional[str]:
    """`<domain>_<task>` from the run's config, as paper_scores keys it."""
    if 'domain_name' in self.config and 'task_name' in self.config:
      return f'{self.config["domain_name"]}_{self.config["task_name"]}'
    return None

  def return_at(self, env_step: int) -> Optional[float]:
    """The evaluated return at `env_step`, or None if not reached.

    Evaluations happen at the first env step at or past each multiple of
    `eval_every_env_steps`; env steps come in units of the action repeat,
    so the row for `env_step` may be up to one action repeat later.
    """
    tolerance = int(self.config.get('action_repeat', 1))
    for row in self.rows:
      if env_step <= row.env_step < env_step + tolerance:
        return row.return_mean
    return None


def read_eval_csv(path: str) -> List[EvalRow]:
  """The rows of one eval.csv, sorted by env step.

  Raises:
    ResultsError: the file is unreadable or lacks the needed columns.
  """
  try:
    with open(path, newline='') as f:
      reader = csv.DictReader(f)
      missing = {'env_step', 'return_mean'} - set(reader.fieldnames or ())
      if missing:
        raise ResultsError(f'{path}: no column {", ".join(sorted(missing))}')
      rows = [EvalRow(int(r['env_step']), float(r['return_mean']))
              for r in reader]
  except OSError as e:
    raise ResultsError(f'cannot read {path}: {e.strerror}') from None
  except (TypeError, ValueError) as e:
    if isinstance(e, ResultsError):
      raise
    raise ResultsError(f'{path}: unreadable row ({e})') from None
  return sorted(rows, key=lambda row: row.env_step)


def read_run_config(workdir: str) -> Dict[str, Any]:
  """The run's config.json as a dict, or {} if it has none or it is bad."""
  try:
    with open(os.path.join(workdir, RUN_CONFIG)) as f:
      config = json.load(f)
  except (OSError, ValueError):
    return {}
  return config if isinstance(config, dict) else {}


def read_run(workdir: str, task: str, seed: int) -> Run:
  """One run; a missing or unreadable eval.csv is recorded as its problem."""
  path = os.path.join(workdir, EVAL_CSV)
  config = read_run_config(workdir)
  if not os.path.exists(path):
    return Run(task, seed, workdir, [], config, problem='no eval.csv')
  try:
    rows = read_eval_csv(path)
  except ResultsError as e:
    return Run(task, seed, workdir, [], config, problem=str(e))
  if not rows:
    return Run(task, seed, workdir, [], config, problem='no evaluation yet')
  return Run(task, seed, workdir, rows, config)


def run_dir(root: str, task: str, seed: int) -> str:
  """Where a sweep puts one task's seed: ROOT/<task>/seed_<n>."""
  return os.path.join(root, task, f'seed_{seed}')


def find_runs(root: str) -> Dict[str, List[Run]]:
  """Every ROOT/<task>/seed_<n>/ run, by task, seeds in order.

  Raises:
    ResultsError: `root` is not a directory, or holds no seed directory.
  """
  if not os.path.isdir(root):
    raise ResultsError(f'results root {root!r} is not a directory')
  runs = {}
  for task in sorted(os.listdir(root)):
    task_dir = os.path.join(root, task)
    if not os.path.isdir(task_dir):
      continue
    seeds = sorted(int(m.group(1)) for m in map(_SEED_DIR.fullmatch,
                                                   os.listdir(task_dir))
                   if m and os.path.isdir(os.path.join(task_dir, m.group(0))))
    if seeds:
      runs[task] = [read_run(run_dir(root, task, s), task, s) for s in seeds]
  if not runs:
    raise ResultsError(f'no run under {root!r}: expected '
                       f'{os.path.join(root, "<task>", "seed_<n>")}/')
  return runs


def returns_at(runs: Sequence[Run], env_step: int) -> List[float]:
  """The returns at `env_step` of the runs that reached it."""
  values = [run.return_at(env_step) for run in runs]
  return [v for v in values if v is not None]
