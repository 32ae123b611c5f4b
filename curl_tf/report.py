r"""Our runs beside the paper: Tables 1 and 2, curves, rliable aggregates.

  python -m curl_tf.report --root=runs/table1 [--out=runs/table1/report]

Reads every ROOT/<task>/seed_<n>/eval.csv (a sweep's layout, see
curl_tf/sweep.py) and writes into OUT:
- report.md: for each task, the mean +- std over seeds of the evaluated
  return at 100k and 500k env steps with the number of seeds, beside the
  CURL paper's and the DrQ re-run's (curl_tf/paper_scores.py, with sources);
  the aggregate metrics; links to the curves; and what is missing.
- <task>.png: the mean learning curve over seeds with a 95% bootstrap band,
  and the paper's 100k and 500k scores marked.
The table is printed too. CURL-Rainbow runs (config.json's `agent:
rainbow`) go beside Table 2 instead, with human-normalised scores (see
curl_tf/atari_report.py); a root may hold both kinds.

Aggregates use rliable (Agarwal et al., 2021): IQM, median, mean and
optimality gap of returns normalised by 1000 (DMC's maximum), with 95%
stratified-bootstrap confidence intervals over runs.

A run that has not reached 100k (or 500k) shows as missing there, never as
zero; a task with fewer than 3 seeds is flagged. Standard deviations are
over seeds, numpy's default (ddof=0).
"""

import dataclasses
import os
import sys
import types
from typing import Callable, Dict, List, Optional, Sequence

from absl import app
from absl import flags
from absl import logging
import numpy as np

from curl_tf import paper_scores
from curl_tf import results



def _define_flags():
  """The command line's flags, defined only when this runs as a program.

  The sweep has a --root too, and both modules are imported together (by
  the tests, by a notebook): flags at import time would collide.
  """
  return types.SimpleNamespace(
      root=flags.DEFINE_string(
          'root', None, 'The sweep root: ROOT/<task>/seed_<n>/eval.csv.'),
      out=flags.DEFINE_string(
          'out', None,
          'Where to write report.md and the PNGs (default: ROOT/report).'),
      reps=flags.DEFINE_integer(
          'reps', 10_000, 'Bootstrap resamples for the confidence intervals.',
          lower_bound=100))


_FLAGS = None

MIN_SEEDS = 3
METRICS = ('IQM', 'median', 'mean', 'optimality gap')


@dataclasses.dataclass
class Cell:
  """One task's scores at one env step."""
  returns: List[float]

  @property
  def n(self) -> int:
    return len(self.returns)

  @property
  def mean(self) -> Optional[float]:
    return float(np.mean(self.returns)) if self.returns else None

  @property
  def std(self) -> Optional[float]:
    return float(np.std(self.returns)) if self.returns else None


@dataclasses.dataclass
class TaskResult:
  """What the report says about one task."""
  task: str
  paper_task: Optional[str]
  runs: List[results.Run]
  cells: Dict[int, Cell]

  @property
  def num_seeds(self) -> int:
    return len(self.runs)

  def notes(self) -> List[str]:
    """Flags: too few seeds, runs short of a column, runs without data."""
    notes = []
    if self.num_seeds < MIN_SEEDS:
      notes.append(f'only {self.num_seeds} seed'
                   f'{"s" if self.num_seeds != 1 else ""} (fewer than '
                   f'{MIN_SEEDS})')
    for run in self.runs:
      if run.problem:
        notes.append(f'seed {run.seed}: {run.problem} ({run.workdir})')
    for step in self.cells:
      short = [f'{r.seed} (at {step_label(r.last_env_step)})' for r in self.runs
               if not r.problem and r.return_at(step) is None]
      if short:
        notes.append(f'{step_label(step)}: seed{"s" if len(short) > 1 else ""} '
                     f'{", ".join(short)} not there')
    if self.paper_task is None:
      notes.append('no config.json: not matched to the paper')
    return notes


def step_label(env_step: int) -> str:
  if env_step and env_step % 1000 == 0:
    return f'{env_step // 1000}k'
  return str(env_step)


def task_results(runs_by_task: Dict[str, List[results.Run]],
                 steps: Sequence[int] = paper_scores.TABLE1_STEPS
                 ) -> List[TaskResult]:
  """Each task's returns at each of `steps`."""
  out = []
  for task, runs in runs_by_task.items():
    paper_task = next((r.paper_task for r in runs if r.paper_task), None)
    cells = {step: Cell(results.returns_at(runs, step)) for step in steps}
    out.append(TaskResult(task, paper_task, runs, cells))
  return out


def score_matrix(tasks: Sequence[TaskResult], env_step: int):
  """Normalised returns at `env_step`, runs x tasks, for rliable.

  rliable's stratified bootstrap takes the same number of runs per task: a
  task with more seeds than the fewest (among tasks that reached the step)
  contributes its lowest-numbered seeds.

  Returns:
    (matrix, task names), or (None, []) when no task reached the step.
  """
  reached = [t for t in tasks if t.cells[env_step].n]
  if not reached:
    return None, []
  n = min(t.cells[env_step].n for t in reached)
  matrix = np.array([t.cells[env_step].returns[:n] for t in reached]).T
  return matrix / paper_scores.DMC_MAX_RETURN, [t.task for t in reached]


def aggregate_metrics(scores: np.ndarray) -> np.ndarray:
  """IQM, median, mean and optimality gap of a runs x tasks matrix."""
  from rliable import metrics  # pylint: disable=g-import-not-at-top
  return np.array([metrics.aggregate_iqm(scores),
                   metrics.aggregate_median(scores),
                   metrics.aggregate_mean(scores),
                   metrics.aggregate_optimality_gap(scores)])


def interval_estimates(scores: np.ndarray, reps: int, seed: int = 0):
  """Point estimates and 95% stratified-bootstrap intervals of the metrics.

  Returns:
    (points, intervals): arrays of shape [4] and [2, 4] (lower, upper), in
    METRICS' order.
  """
  from rliable import library  # pylint: disable=g-import-not-at-top
  # rliable 1.2's StratifiedBootstrap draws its resamples from numpy's
  # global generator, whatever its random_state argument says (which arch
  # also deprecates): seed the global one, so the same runs give the same
  # intervals, and put it back afterwards.
  saved = np.random.get_state()
  np.random.seed(seed)
  try:
    points, intervals = library.get_interval_estimates(
        {'ours': scores}, aggregate_metrics, reps=reps)
  finally:
    np.random.set_state(saved)
  return points['ours'], intervals['ours']


def bootstrap_band(values: Sequence[float], reps: int = 2000,
                   seed: int = 0) -> tuple:
  """95% percentile-bootstrap interval of the mean over seeds."""
  values = np.asarray(values, dtype=np.float64)
  if len(values) < 2:
    return float(values.mean()), float(values.mean())
  rng = np.random.default_rng(seed)
  means = values[rng.integers(0, len(values), (reps, len(values)))].mean(1)
  low, high = np.percentile(means, [2.5, 97.5])
  return float(low), float(high)


def curve(runs: Sequence[results.Run]):
  """Env steps, mean over seeds, band low/high, seeds per step."""
  steps = sorted({row.env_step for run in runs for row in run.rows})
  out = []
  for step in steps:
    values = [row.return_mean for run in runs for row in run.rows
              if row.env_step == step]
    low, high = bootstrap_band(values)
    out.append((step, float(np.mean(values)), low, high, len(values)))
  return out


def new_figure():
  """A (figure, axes) pair of the reports' size, drawn without a display."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt.subplots(figsize=(6, 4))


def plot_mean_curve(ax, runs: Sequence[results.Run],
                    steps_per_x: float = 1.0) -> None:
  """The runs' mean curve and its 95% bootstrap band; x = env step / this."""
  points = curve([r for r in runs if r.rows])
  if not points:
    return
  steps, means, lows, highs, _ = map(np.array, zip(*points))
  x = steps / steps_per_x
  seeds = len(runs)
  ax.plot(x, means, color='C0',
          label=f'curl_tf, mean of {seeds} seed{"s" if seeds > 1 else ""}')
  ax.fill_between(x, lows, highs, color='C0', alpha=0.25,
                  label='95% bootstrap CI')


def save_figure(fig, path: str) -> None:
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_task(task: TaskResult, path: str) -> None:
  """Writes the task's mean curve, bootstrap band and the paper's marks."""
  fig, ax = new_figure()
  plot_mean_curve(ax, task.runs)
  # The DrQ marks sit a little to the right, so both error bars show.
  for system, color, marker, shift in (
      (paper_scores.CURL_PAPER, 'C3', 'o', 0),
      (paper_scores.CURL_DRQ_RERUN, 'C2', 's', 8000)):
    marks = [(step, paper_scores.score(system, task.paper_task or '', step))
             for step in paper_scores.TABLE1_STEPS]
    marks = [(step, s) for step, s in marks if s]
    if marks:
      ax.errorbar([m[0] + shift for m in marks], [m[1][0] for m in marks],
                  yerr=[m[1][1] for m in marks], fmt=marker, color=color,
                  capsize=3, label=f'{system}, mean +- std')
  ax.xaxis.set_major_formatter(lambda x, unused_pos: step_label(int(x)))
  ax.set_xlabel('environment steps')
  ax.set_ylabel('evaluation return')
  ax.set_ylim(0, paper_scores.DMC_MAX_RETURN)
  ax.set_title(task.task)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8, loc='lower right')
  save_figure(fig, path)


def mean_std_text(mean: Optional[float], std: Optional[float], n: int = 0,
         with_n: bool = False) -> str:
  if mean is None:
    return 'missing'
  text = f'{mean:.0f} +- {std:.0f}'
  return f'{text} (n={n})' if with_n else text


def _paper(system: str, task: TaskResult, step: int) -> str:
  score = paper_scores.score(system, task.paper_task or '', step)
  return mean_std_text(*score) if score else 'n/a'


def table_rows(tasks: Sequence[TaskResult]) -> List[List[str]]:
  """Table 1's layout: per task, ours / paper / DrQ re-run at 100k, 500k."""
  header = ['task', 'seeds']
  for step in paper_scores.TABLE1_STEPS:
    header += [f'ours {step_label(step)}', f'CURL paper {step_label(step)}',
               f'DrQ re-run {step_label(step)}']
  rows = [header]
  for task in tasks:
    row = [task.task + (' (!)' if task.notes() else ''), str(task.num_seeds)]
    for step in paper_scores.TABLE1_STEPS:
      cell = task.cells[step]
      row += [mean_std_text(cell.mean, cell.std, cell.n, with_n=True),
              _paper(paper_scores.CURL_PAPER, task, step),
              _paper(paper_scores.CURL_DRQ_RERUN, task, step)]
    rows.append(row)
  return rows


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
  lines = ['| ' + ' | '.join(rows[0]) + ' |',
           '|' + '---|' * len(rows[0])]
  lines += ['| ' + ' | '.join(row) + ' |' for row in rows[1:]]
  return '\n'.join(lines)


def text_table(rows: Sequence[Sequence[str]]) -> str:
  widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
  return '\n'.join('  '.join(c.ljust(w) for c, w in zip(row, widths))
                   for row in rows)


def aggregate_section(tasks: Sequence[TaskResult], reps: int) -> List[str]:
  """The rliable metrics at each Table 1 step, as Markdown lines."""
  lines = ['## Aggregate metrics (rliable)', '',
           'Returns normalised by 1000; 95% stratified-bootstrap confidence '
           f'intervals over runs ({reps} resamples, percentile method). '
           'Higher is better except for the optimality gap.', '']
  lines += ['| env steps | tasks | runs per task | ' + ' | '.join(METRICS)
            + ' |', '|' + '---|' * (3 + len(METRICS))]
  for step in paper_scores.TABLE1_STEPS:
    scores, names = score_matrix(tasks, step)
    if scores is None:
      lines.append(f'| {step_label(step)} | none reached it | | ' +
                   ' | '.join('missing' for _ in METRICS) + ' |')
      continue
    points, intervals = interval_estimates(scores, reps)
    cells = [f'{p:.3f} [{lo:.3f}, {hi:.3f}]'
             for p, lo, hi in zip(points, intervals[0], intervals[1])]
    lines.append(f'| {step_label(step)} | {", ".join(names)} | {scores.shape[0]} | '
                 + ' | '.join(cells) + ' |')
  return lines


def settings_lines(tasks: Sequence[TaskResult]) -> List[str]:
  """What the runs used where it departs from Table 3, per task."""
  lines = []
  for task in tasks:
    configs = [r.config for r in task.runs if r.config]
    if not configs:
      continue
    batch = sorted({c.get('batch_size') for c in configs}, key=str)
    precision = sorted({str(c.get('precision')) for c in configs})
    # Runs from before states mode hold no 'observation': pixels.
    size = sorted({'nothing (states)' if c.get('observation') == 'states'
                   else f'{c.get("image_size")}x{c.get("image_size")} '
                   f'cropped to {c.get("crop_size")}' for c in configs})
    lines.append(f'- {task.task}: batch {", ".join(map(str, batch))}'
                 f'{" (Table 3: 512)" if batch != [512] else ""}; '
                 f'precision {", ".join(precision)}; renders '
                 f'{", ".join(size)}.')
  return lines


def write_report(root: str, out: str, reps: int = 10_000) -> str:
  """Writes report.md and one PNG per task into `out`; returns the table.

  DeepMind Control runs go beside Table 1, CURL-Rainbow's (config.json's
  `agent: rainbow`) beside Table 2 (curl_tf/atari_report.py).

  Raises:
    ResultsError: `root` holds no run.
  """
  # Imported here: atari_report builds on this module's helpers.
  from curl_tf import atari_report  # pylint: disable=g-import-not-at-top
  runs_by_task = results.find_runs(root)
  os.makedirs(out, exist_ok=True)
  lines, printed = [], []
  dmc_runs = {task: runs for task, runs in runs_by_task.items()
              if not atari_report.is_atari(runs)}
  if dmc_runs:
    table1_lines, table1 = table1_section(dmc_runs, root, out, reps)
    lines += table1_lines
    printed.append(table1)
  games = atari_report.game_results(runs_by_task)
  if games:
    table2_lines, table2 = atari_report.section(games, out, reps)
    lines += ([''] if lines else []) + table2_lines
    printed.append(table2)
  with open(os.path.join(out, 'report.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return '\n\n'.join(printed)


def table1_section(runs_by_task: Dict[str, List[results.Run]], root: str,
                   out: str, reps: int):
  """report.md's Table 1 part and the printed table; writes the PNGs."""
  tasks = task_results(runs_by_task)
  rows = table_rows(tasks)
  lines = ['# curl_tf results beside CURL\'s Table 1', '',
           f'Runs under `{os.path.abspath(root)}`. Mean +- std (numpy\'s, '
           'ddof=0) over seeds of the evaluation return (10 episodes, mean '
           'action) at the env step; `missing`: no seed reached it yet. '
           'Paper columns: ' + '; '.join(
               f'{name}: {source}' for name, source in
               paper_scores.SOURCES.items()
               if name in (paper_scores.CURL_PAPER,
                           paper_scores.CURL_DRQ_RERUN)) + '.', '',
           markdown_table(rows), '']
  notes = [f'- {t.task}: {note}' for t in tasks for note in t.notes()]
  for task in tasks:
    plot_task(task, os.path.join(out, f'{task.task}.png'))
  lines = section_lines(lines, settings_lines(tasks), notes,
                        aggregate_section(tasks, reps),
                        [t.task for t in tasks])
  return lines, text_table(rows) + ('\n' + '\n'.join(notes) if notes else '')


def section_lines(head: List[str], settings: List[str], notes: List[str],
                  aggregate: List[str], figures: Sequence[str]) -> List[str]:
  """A table's part of report.md: `head` (title, table), then the runs'
  settings, the flags, the aggregates and the curves (OUT/<name>.png)."""
  lines = list(head)
  if settings:
    lines += ['Settings of these runs:', ''] + settings + ['']
  if notes:
    lines += ['(!) Flags:', ''] + notes + ['']
  lines += aggregate + ['', '## Learning curves', '']
  return lines + [f'![{name}]({name}.png)' for name in figures]


def run_command(argv: List[str], program: str, root: Optional[str],
                out: str, write: Callable[[str], str], written: str) -> None:
  """The body of report's and compare's main: bad input is one line, exit 2.

  Args:
    argv: what absl left of the command line.
    program: 'report' or 'compare', for the messages.
    root: --root.
    out: where to write.
    write: out -> the table to print; raises ResultsError or OSError.
    written: the file to name once written, inside `out`.
  """
  def fail(message: str):
    print(f'curl_tf.{program}: error: {message}', file=sys.stderr)
    sys.exit(2)

  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])}')
  if not root:
    fail('flag --root is required')
  # rliable logs an INFO line per bootstrap; the table is what to read.
  logging.set_verbosity(logging.WARNING)
  try:
    print(write(out))
  except results.ResultsError as e:
    fail(str(e))
  except OSError as e:
    fail(f'cannot write the {program} to {out!r}: {e.strerror}')
  print(f'{program}: {os.path.join(os.path.abspath(out), written)}')


def main(argv: List[str]) -> None:
  root = _FLAGS.root.value
  out = _FLAGS.out.value or os.path.join(root or '', 'report')
  run_command(argv, 'report', root, out,
              lambda out: write_report(root, out, _FLAGS.reps.value),
              'report.md')


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(main)
