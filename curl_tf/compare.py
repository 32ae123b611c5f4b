r"""Variants of one task side by side: the ablations' and update modes' table.

  python -m curl_tf.compare --root=runs/ablations [--at=80000] \
      [--out=runs/ablations/compare]

Each directory ROOT/<variant>/seed_<n>/ (a sweep over several configs of the
same task, e.g. configs/learning_check.py and configs/ablations/*.py) is one
variant. For each, at env step AT (default: the furthest step any run
reached, the budget when the runs are done):
- the evaluated return at AT, mean +- std over seeds (numpy, ddof=0), n;
- the score the learning test uses, the mean of the last two evaluations up
  to AT, mean +- std;
- the IQM of the return at AT over runs with its 95% bootstrap interval
  (rliable; with one task the stratified bootstrap resamples runs).
It writes compare.md (the table, flags and the curves' link) and
compare.png (every variant's mean curve with a 95% bootstrap band), and
prints the table. Runs short of AT are left out and flagged, never zero.
"""

import dataclasses
import os
import types
from typing import Dict, List, Optional, Sequence

from absl import app
from absl import flags
import numpy as np

from curl_tf import paper_scores
from curl_tf import report
from curl_tf import results


def _define_flags():
  """Flags, defined only when this runs as a program (see report.py)."""
  return types.SimpleNamespace(
      root=flags.DEFINE_string(
          'root', None, 'The sweep root: ROOT/<variant>/seed_<n>/eval.csv.'),
      at=flags.DEFINE_integer(
          'at', None, 'Env step to compare at (default: the furthest any '
          'run reached).', lower_bound=1),
      out=flags.DEFINE_string(
          'out', None,
          'Where to write compare.md and compare.png (default: ROOT/compare).'),
      reps=flags.DEFINE_integer(
          'reps', 10_000, 'Bootstrap resamples for the intervals.',
          lower_bound=100))


_FLAGS = None


@dataclasses.dataclass
class Variant:
  """One variant's runs and their scores at the compared step."""
  name: str
  runs: List[results.Run]
  at: int

  @property
  def finals(self) -> List[float]:
    """Each run's return at `at` (runs that reached it)."""
    return results.returns_at(self.runs, self.at)

  @property
  def last_two(self) -> List[float]:
    """Each run's mean of its last two evaluations up to `at`."""
    scores = []
    for run in self.runs:
      rows = [r for r in run.rows if r.env_step <= self.at]
      if run.return_at(self.at) is not None and len(rows) >= 2:
        scores.append(float(np.mean([r.return_mean for r in rows[-2:]])))
    return scores

  def notes(self) -> List[str]:
    notes = [f'seed {r.seed}: {r.problem}' for r in self.runs if r.problem]
    short = [f'{r.seed} (at {report.step_label(r.last_env_step)})'
             for r in self.runs
             if not r.problem and r.return_at(self.at) is None]
    if short:
      notes.append(f'seed{"s" if len(short) > 1 else ""} {", ".join(short)} '
                   f'short of {report.step_label(self.at)}: left out')
    return notes


def variants(runs_by_task: Dict[str, List[results.Run]],
             at: Optional[int] = None) -> List[Variant]:
  """The variants under a root, compared at `at` (default: furthest step)."""
  if at is None:
    at = max((r.last_env_step or 0 for runs in runs_by_task.values()
              for r in runs), default=0)
  return [Variant(name, runs, at) for name, runs in runs_by_task.items()]


def iqm_interval(returns: Sequence[float], reps: int):
  """IQM of returns over runs and its 95% bootstrap interval, in returns."""
  scale = paper_scores.DMC_MAX_RETURN
  scores = np.asarray(returns, np.float64)[:, None] / scale
  points, intervals = report.interval_estimates(scores, reps)
  return points[0] * scale, intervals[0][0] * scale, intervals[1][0] * scale


def _mean_std(values: Sequence[float]) -> str:
  cell = report.Cell(list(values))
  return report.mean_std_text(cell.mean, cell.std, cell.n, with_n=True)


def table_rows(items: Sequence[Variant], reps: int) -> List[List[str]]:
  at = report.step_label(items[0].at) if items else ''
  rows = [['variant', 'seeds', f'return at {at}',
           'mean of last two evaluations', f'IQM at {at} [95% CI]']]
  for item in items:
    finals = item.finals
    if finals:
      iqm, low, high = iqm_interval(finals, reps)
      iqm_text = f'{iqm:.0f} [{low:.0f}, {high:.0f}]'
    else:
      iqm_text = 'missing'
    rows.append([
        item.name + (' (!)' if item.notes() else ''), str(len(item.runs)),
        _mean_std(finals), _mean_std(item.last_two), iqm_text])
  return rows


def plot(items: Sequence[Variant], path: str) -> None:
  """Every variant's mean curve over seeds with its 95% bootstrap band."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for i, item in enumerate(items):
    points = report.curve([r for r in item.runs if r.rows])
    if not points:
      continue
    steps, means, lows, highs, _ = map(np.array, zip(*points))
    color = f'C{i % 10}'
    ax.plot(steps, means, color=color,
            label=f'{item.name} ({len(item.runs)} seeds)')
    ax.fill_between(steps, lows, highs, color=color, alpha=0.15)
  ax.xaxis.set_major_formatter(
      lambda x, unused_pos: report.step_label(int(x)))
  ax.set_xlabel('environment steps')
  ax.set_ylabel('evaluation return')
  ax.set_title('mean over seeds, 95% bootstrap band')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8, loc='upper left')
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def write_comparison(root: str, out: str, at: Optional[int] = None,
                     reps: int = 10_000) -> str:
  """Writes compare.md and compare.png into `out`; returns the table.

  Raises:
    ResultsError: `root` holds no run.
  """
  items = variants(results.find_runs(root), at)
  os.makedirs(out, exist_ok=True)
  rows = table_rows(items, reps)
  notes = [f'- {item.name}: {note}' for item in items
           for note in item.notes()]
  lines = [f'# Variants under `{os.path.abspath(root)}`', '',
           'Evaluation return (10 episodes, mean action) at the env step; '
           'mean +- std over seeds (numpy, ddof=0). IQM over runs with a 95% '
           f'bootstrap interval ({reps} resamples, rliable).', '',
           report.markdown_table(rows), '']
  if notes:
    lines += ['(!) Flags:', ''] + notes + ['']
  plot(items, os.path.join(out, 'compare.png'))
  lines += ['![learning curves](compare.png)']
  with open(os.path.join(out, 'compare.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return report.text_table(rows) + ('\n' + '\n'.join(notes) if notes else '')


def main(argv: List[str]) -> None:
  root = _FLAGS.root.value
  out = _FLAGS.out.value or os.path.join(root or '', 'compare')
  report.run_command(
      argv, 'compare', root, out,
      lambda out: write_comparison(root, out, _FLAGS.at.value,
                                   _FLAGS.reps.value),
      'compare.md')


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(main)
