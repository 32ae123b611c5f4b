"""Our CURL-Rainbow runs beside the paper's Table 2 (Atari100k).

curl_tf.report hands it the runs whose config.json says `agent: rainbow`;
`python -m curl_tf.report --root=runs/atari` is the command. For each game:
the mean +- std over seeds of the evaluated score at 100k agent steps (400k
frames; eval.csv counts frames), its human-normalised score (HNS, Table 2's
random and human columns), and Table 2's CURL, Data-Efficient Rainbow,
SimPLe, random and human scores. Then the aggregates over the games run:
rliable's IQM, median, mean and optimality gap of the HNS with 95%
stratified-bootstrap intervals over runs, and the mean and median HNS of
each paper column over the same games, so that the rows compare. A run
short of 100k counts as missing, never as zero.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np

from curl_tf import paper_scores
from curl_tf import report
from curl_tf import results

# Table 2's budget, in agent steps; eval.csv's env steps are frames.
AGENT_STEPS = 100_000
# Atari100k's frame skip, for runs whose config.json lacks it.
DEFAULT_ACTION_REPEAT = 4
PAPER_COLUMNS = (paper_scores.CURL_RAINBOW, paper_scores.DER,
                 paper_scores.SIMPLE)


def is_atari(runs: Sequence[results.Run]) -> bool:
  """Whether a task's runs are CURL-Rainbow's (their config says so)."""
  return any(run.config.get('agent') == 'rainbow' for run in runs)


@dataclasses.dataclass
class GameResult:
  """One game's runs and their scores at 100k agent steps."""
  task: str
  game: Optional[str]
  runs: List[results.Run]

  @property
  def frames(self) -> int:
    repeat = next((int(r.config['action_repeat']) for r in self.runs
                   if 'action_repeat' in r.config), DEFAULT_ACTION_REPEAT)
    return AGENT_STEPS * repeat

  @property
  def scores(self) -> List[float]:
    return results.returns_at(self.runs, self.frames)

  @property
  def in_table2(self) -> bool:
    return self.game in paper_scores.TABLE2

  def normalized(self) -> List[float]:
    return [paper_scores.human_normalized(self.game, s) for s in self.scores]

  def notes(self) -> List[str]:
    notes = []
    if not self.in_table2:
      notes.append(f'game {self.game!r} is not in Table 2')
    for run in self.runs:
      if run.problem:
        notes.append(f'seed {run.seed}: {run.problem} ({run.workdir})')
      elif run.return_at(self.frames) is None:
        notes.append(f'seed {run.seed}: at {run.last_env_step:,} frames, '
                     f'short of {self.frames:,}')
    return notes


def game_results(runs_by_task: Dict[str, List[results.Run]]
                 ) -> List[GameResult]:
  """The Atari tasks among `runs_by_task`, in its order."""
  return [GameResult(task, next((r.config.get('game') for r in runs
                                 if r.config.get('game')), None), runs)
          for task, runs in runs_by_task.items() if is_atari(runs)]


def _number(value: float) -> str:
  return f'{value:,.1f}' if abs(value) < 100 else f'{value:,.0f}'


def table_rows(games: Sequence[GameResult]) -> List[List[str]]:
  """Table 2's layout, our columns first."""
  rows = [['game', 'seeds', 'ours at 100k', 'ours HNS',
           *PAPER_COLUMNS, paper_scores.RANDOM, paper_scores.HUMAN]]
  for game in games:
    scores = game.scores
    ours = (f'{_number(np.mean(scores))} +- {_number(np.std(scores))} '
            f'(n={len(scores)})' if scores else 'missing')
    hns = (f'{np.mean(game.normalized()):.3f}'
           if scores and game.in_table2 else 'n/a')
    paper = paper_scores.TABLE2.get(game.game, {})
    rows.append([game.task + (' (!)' if game.notes() else ''),
                 str(len(game.runs)), ours, hns] +
                [_number(paper[c]) if paper else 'n/a'
                 for c in (*PAPER_COLUMNS, paper_scores.RANDOM,
                           paper_scores.HUMAN)])
  return rows


def hns_matrix(games: Sequence[GameResult]):
  """Runs x games HNS at 100k for rliable, or (None, []) if none reached it.

  The stratified bootstrap needs as many runs per game: a game with more
  seeds than the fewest contributes its lowest-numbered ones.
  """
  reached = [g for g in games if g.in_table2 and g.scores]
  if not reached:
    return None, []
  n = min(len(g.scores) for g in reached)
  return (np.array([g.normalized()[:n] for g in reached]).T,
          [g.game for g in reached])


def aggregate_lines(games: Sequence[GameResult], reps: int) -> List[str]:
  """Our rliable aggregates, and the paper columns' on the same games."""
  matrix, names = hns_matrix(games)
  lines = ['## Aggregate human-normalised scores at 100k agent steps', '']
  if matrix is None:
    return lines + ['No game has reached 100k agent steps yet.']
  points, intervals = report.interval_estimates(matrix, reps)
  lines += [f'Over {len(names)} game{"s" if len(names) > 1 else ""} '
            f'({", ".join(names)}), {matrix.shape[0]} run'
            f'{"s" if matrix.shape[0] > 1 else ""} each; 95% stratified-'
            f'bootstrap intervals ({reps} resamples). The paper columns are '
            'single scores per game: their mean and median over the same '
            'games.', '',
            '| system | ' + ' | '.join(report.METRICS) + ' |',
            '|' + '---|' * (1 + len(report.METRICS)),
            '| ours | ' + ' | '.join(
                f'{p:.3f} [{lo:.3f}, {hi:.3f}]'
                for p, lo, hi in zip(points, intervals[0], intervals[1]))
            + ' |']
  for column in PAPER_COLUMNS:
    hns = [paper_scores.human_normalized(
        g, paper_scores.TABLE2[g][column]) for g in names]
    lines.append(f'| {column} (Table 2) | | {np.median(hns):.3f} | '
                 f'{np.mean(hns):.3f} | |')
  return lines


def plot_game(game: GameResult, path: str) -> None:
  """The mean curve over seeds, its band, and Table 2's scores marked."""
  fig, ax = report.new_figure()
  # eval.csv's env steps are frames; the x axis is agent steps.
  report.plot_mean_curve(ax, game.runs, steps_per_x=game.frames / AGENT_STEPS)
  paper = paper_scores.TABLE2.get(game.game)
  if paper:
    for column, color, marker in zip(PAPER_COLUMNS, ('C3', 'C2', 'C1'),
                                     'osD'):
      ax.plot([AGENT_STEPS], [paper[column]], marker, color=color,
              label=f'{column} (Table 2)')
    for column, style in ((paper_scores.RANDOM, ':'),
                          (paper_scores.HUMAN, '--')):
      ax.axhline(paper[column], color='gray', linestyle=style, linewidth=1,
                 label=f'{column} (Table 2)')
  ax.xaxis.set_major_formatter(
      lambda x, unused_pos: report.step_label(int(x)))
  ax.set_xlabel('agent steps (x4 frames)')
  ax.set_ylabel('evaluation score')
  ax.set_title(game.task)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, loc='best')
  report.save_figure(fig, path)


def settings_lines(games: Sequence[GameResult]) -> List[str]:
  """How the runs evaluated, where it matters for comparing with Table 2."""
  lines = []
  for game in games:
    configs = [r.config for r in game.runs if r.config]
    episodes = sorted({c.get('num_eval_episodes') for c in configs}, key=str)
    batch = sorted({c.get('batch_size') for c in configs}, key=str)
    if configs:
      lines.append(f'- {game.task}: {", ".join(map(str, episodes))} '
                   f'evaluation episodes; batch {", ".join(map(str, batch))}.')
  return lines


def section(games: Sequence[GameResult], out: str, reps: int):
  """report.md's Table 2 part (Markdown lines) and the table to print;
  writes <task>.png to out."""
  rows = table_rows(games)
  lines = ['# curl_tf CURL-Rainbow beside CURL\'s Table 2', '',
           'Mean +- std (numpy\'s, ddof=0) over seeds of the evaluation score '
           '(raw game score, whole games) at 100k agent steps; HNS = (score - '
           'random) / (human - random). Paper columns: '
           f'{paper_scores.TABLE2_SOURCE}.', '',
           report.markdown_table(rows), '']
  notes = [f'- {g.task}: {note}' for g in games for note in g.notes()]
  for game in games:
    plot_game(game, f'{out}/{game.task}.png')
  lines = report.section_lines(lines, settings_lines(games), notes,
                               aggregate_lines(games, reps),
                               [g.task for g in games])
  return lines, report.text_table(rows) + (
      '\n' + '\n'.join(notes) if notes else '')
