"""Tests for curl_tf.atari_report: CURL-Rainbow runs beside Table 2.

The runs are synthetic, with scores chosen so that every human-normalised
score (HNS) and aggregate below can be checked by hand against Table 2's
random and human columns.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np

from curl_tf import atari_report
from curl_tf import paper_scores
from curl_tf import results

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 100k agent steps at frame skip 4: eval.csv's env steps are frames.
_END = 400_000


def _write_run(root, task, seed, rows, game, config=None):
  """A CURL-Rainbow workdir as training leaves it."""
  workdir = results.run_dir(root, task, seed)
  os.makedirs(workdir)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    json.dump(config or {'agent': 'rainbow', 'game': game,
                         'action_repeat': 4, 'batch_size': 32,
                         'num_eval_episodes': 10, 'seed': seed}, f)
  with open(os.path.join(workdir, 'eval.csv'), 'w') as f:
    f.write('env_step,agent_step,return_mean,return_std,return_min,'
            'return_max,num_episodes,wall_time_s\n')
    for step, value in rows:
      f.write(f'{step},{step // 4},{value},0,0,0,10,1.0\n')


def _write_games(root):
  # Boxing: random 0.1, human 12.1, so HNS = (score - 0.1) / 12.
  # Scores 6.1 and 12.1: HNS 0.5 and 1.0; mean 9.1 +- 3.0.
  _write_run(root, 'boxing', 1, [(0, 0), (200_000, 3), (_END, 6.1)], 'boxing')
  _write_run(root, 'boxing', 2, [(0, 1), (200_000, 5), (_END, 12.1)],
             'boxing')
  # Breakout: random 1.7, human 31.8. Seed 1 scores 1.7 (HNS 0); seed 2
  # stopped at 200k frames (50k agent steps).
  _write_run(root, 'breakout', 1, [(0, 0), (200_000, 1), (_END, 1.7)],
             'breakout')
  _write_run(root, 'breakout', 2, [(0, 0), (200_000, 9)], 'breakout')


def _tempdir(test):
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


class AtariReportTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = _tempdir(self)
    _write_games(self.root)
    self.games = atari_report.game_results(results.find_runs(self.root))

  def test_scores_at_100k_agent_steps_and_hns_by_hand(self):
    boxing, breakout = self.games
    self.assertEqual((boxing.game, boxing.frames), ('boxing', _END))
    self.assertEqual(boxing.scores, [6.1, 12.1])
    np.testing.assert_allclose(boxing.normalized(), [0.5, 1.0])
    # Seed 2 never reached 400k frames: missing, not zero.
    self.assertEqual(breakout.scores, [1.7])
    np.testing.assert_allclose(breakout.normalized(), [0.0], atol=1e-12)
    self.assertEqual(breakout.notes(),
                     ['seed 2: at 200,000 frames, short of 400,000'])
    self.assertEqual(boxing.notes(), [])

  def test_table_rows_beside_table2(self):
    rows = atari_report.table_rows(self.games)
    self.assertEqual(rows[0], ['game', 'seeds', 'ours at 100k', 'ours HNS',
                               'CURL', 'Data-Efficient Rainbow', 'SimPLe',
                               'random', 'human'])
    # Table 2's boxing row: CURL 4.8, DER 0.2, SimPLe 9.1, random 0.1,
    # human 12.1.
    self.assertEqual(rows[1], ['boxing', '2', '9.1 +- 3.0 (n=2)', '0.750',
                               '4.8', '0.2', '9.1', '0.1', '12.1'])
    self.assertEqual(rows[2], ['breakout (!)', '2', '1.7 +- 0.0 (n=1)',
                               '0.000', '18.2', '1.9', '16.4', '1.7',
                               '31.8'])

  def test_aggregates_by_hand(self):
    matrix, names = atari_report.hns_matrix(self.games)
    # Breakout has one run at 100k, so each game gives its first seed.
    self.assertEqual(names, ['boxing', 'breakout'])
    np.testing.assert_allclose(matrix, [[0.5, 0.0]], atol=1e-12)
    lines = '\n'.join(atari_report.aggregate_lines(self.games, reps=200))
    # IQM, median and mean of {0.5, 0} are 0.25; the optimality gap (below
    # 1) is mean(1 - x) = 0.75. One run per game: the interval is the point.
    self.assertIn('| ours | 0.250 [0.250, 0.250] | 0.250 [0.250, 0.250] | '
                  '0.250 [0.250, 0.250] | 0.750 [0.750, 0.750] |', lines)
    # CURL's Table 2 HNS: boxing (4.8 - 0.1) / 12 = 0.3917, breakout
    # (18.2 - 1.7) / 30.1 = 0.5482: median = mean = 0.4699.
    self.assertIn('| CURL (Table 2) | | 0.470 | 0.470 | |', lines)
    # Data-Efficient Rainbow: (0.2 - 0.1) / 12 = 0.0083 and (1.9 - 1.7) /
    # 30.1 = 0.0066: 0.0075.
    self.assertIn('| Data-Efficient Rainbow (Table 2) | | 0.007 | 0.007 | |',
                  lines)

  def test_no_game_at_100k(self):
    root = _tempdir(self)
    _write_run(root, 'pong', 1, [(0, -21)], 'pong')
    games = atari_report.game_results(results.find_runs(root))
    self.assertEqual(atari_report.hns_matrix(games), (None, []))
    self.assertIn('No game has reached 100k agent steps yet.',
                  atari_report.aggregate_lines(games, reps=200))
    self.assertEqual(atari_report.table_rows(games)[1][2:4],
                     ['missing', 'n/a'])

  def test_game_outside_table2_is_flagged(self):
    root = _tempdir(self)
    _write_run(root, 'tetris', 1, [(0, 0), (_END, 5)], 'tetris')
    games = atari_report.game_results(results.find_runs(root))
    self.assertEqual(games[0].notes(), ["game 'tetris' is not in Table 2"])
    self.assertEqual(atari_report.table_rows(games)[1][3:5], ['n/a', 'n/a'])
    self.assertEqual(atari_report.hns_matrix(games), (None, []))

  def test_report_command_writes_both_tables(self):
    # A DeepMind Control run beside the Atari ones: each goes to its table.
    workdir = results.run_dir(self.root, 'cartpole_swingup', 1)
    os.makedirs(workdir)
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      json.dump({'domain_name': 'cartpole', 'task_name': 'swingup',
                 'action_repeat': 8, 'batch_size': 128}, f)
    with open(os.path.join(workdir, 'eval.csv'), 'w') as f:
      f.write('env_step,return_mean\n0,20\n100000,600\n')
    out = os.path.join(self.root, 'report')
    result = subprocess.run(
        [sys.executable, '-m', 'curl_tf.report', f'--root={self.root}',
         f'--out={out}', '--reps=200'], cwd=_REPO, capture_output=True,
        text=True, timeout=300, check=False)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn('9.1 +- 3.0 (n=2)', result.stdout)
    self.assertIn('breakout: seed 2: at 200,000 frames', result.stdout)
    with open(os.path.join(out, 'report.md')) as f:
      text = f.read()
    self.assertIn("# curl_tf results beside CURL's Table 1", text)
    self.assertIn("# curl_tf CURL-Rainbow beside CURL's Table 2", text)
    self.assertIn('| cartpole_swingup (!) | 1 | 600 +- 0 (n=1) |', text)
    self.assertIn('| boxing | 2 | 9.1 +- 3.0 (n=2) | 0.750 |', text)
    self.assertNotIn('| boxing', text.split('Table 2')[0])
    for name in ('boxing', 'breakout', 'cartpole_swingup'):
      self.assertTrue(os.path.getsize(os.path.join(out, f'{name}.png')))

  def test_paper_columns_are_table2s(self):
    self.assertEqual(set(atari_report.PAPER_COLUMNS) |
                     {paper_scores.RANDOM, paper_scores.HUMAN},
                     set(paper_scores.TABLE2['pong']))


if __name__ == '__main__':
  absltest.main()
