"""Tests for curl_tf.report and curl_tf.results on run directories written here.

The runs are synthetic, with returns chosen so that every mean, std and
aggregate below can be checked by hand.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np

from curl_tf import paper_scores
from curl_tf import report
from curl_tf import results

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tempdir(test) -> str:
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


def _write_run(root, task, seed, rows, domain_task=None, action_repeat=8,
               batch_size=128):
  """A workdir as training leaves it: config.json and eval.csv."""
  workdir = results.run_dir(root, task, seed)
  os.makedirs(workdir)
  if domain_task:
    domain, task_name = domain_task
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      json.dump({'domain_name': domain, 'task_name': task_name,
                 'action_repeat': action_repeat, 'batch_size': batch_size,
                 'precision': 'float32', 'image_size': 100, 'crop_size': 84,
                 'seed': seed}, f)
  if rows is not None:
    with open(os.path.join(workdir, 'eval.csv'), 'w') as f:
      f.write('env_step,agent_step,return_mean,return_std,return_min,'
              'return_max,num_episodes,wall_time_s\n')
      for step, value in rows:
        f.write(f'{step},{step // action_repeat},{value},0,0,0,10,1.0\n')
  return workdir


def _write_sweep(root):
  """Three tasks: complete, one seed, and one with a crashed seed."""
  cartpole = ('cartpole', 'swingup')
  # 100k: 500, 600, 700 -> mean 600, std sqrt(20000 / 3) = 81.65.
  # 500k: seeds 1 and 2 only (seed 3 crashed after 200k) -> 850 +- 50.
  _write_run(root, 'cartpole_swingup', 1,
             [(0, 10), (100_000, 500), (300_000, 700), (500_000, 800)],
             cartpole)
  _write_run(root, 'cartpole_swingup', 2,
             [(0, 20), (100_000, 600), (300_000, 750), (500_000, 900)],
             cartpole)
  _write_run(root, 'cartpole_swingup', 3,
             [(0, 30), (100_000, 700), (200_000, 720)], cartpole)
  # One seed, short of 500k.
  _write_run(root, 'walker_walk', 1, [(0, 40), (100_000, 400)],
             ('walker', 'walk'), action_repeat=2)
  # Seed 2 crashed before its first evaluation: no eval.csv.
  _write_run(root, 'finger_spin', 1, [(0, 1), (100_000, 700)],
             ('finger', 'spin'), action_repeat=2)
  _write_run(root, 'finger_spin', 2, None, ('finger', 'spin'),
             action_repeat=2)
  _write_run(root, 'finger_spin', 3, [(0, 1), (100_000, 800)],
             ('finger', 'spin'), action_repeat=2)


class ResultsTest(absltest.TestCase):

  def test_finds_runs_by_task_and_seed(self):
    root = _tempdir(self)
    _write_sweep(root)
    with open(os.path.join(root, 'walker_walk', 'seed_1.log'), 'w') as f:
      f.write('a sweep log beside the workdir, not a run\n')
    runs = results.find_runs(root)
    self.assertEqual(sorted(runs), ['cartpole_swingup', 'finger_spin',
                                    'walker_walk'])
    self.assertEqual([r.seed for r in runs['finger_spin']], [1, 2, 3])
    self.assertEqual(runs['finger_spin'][1].problem, 'no eval.csv')
    self.assertEqual(runs['cartpole_swingup'][2].last_env_step, 200_000)
    self.assertEqual(runs['walker_walk'][0].paper_task, 'walker_walk')

  def test_return_at_allows_one_action_repeat_of_lateness(self):
    root = _tempdir(self)
    # Action repeat 6: the evaluation due at 100k happens at 100,002.
    workdir = _write_run(root, 't', 1, [(99_996, 1.0), (100_002, 2.0)],
                         ('cartpole', 'swingup'), action_repeat=6)
    run = results.read_run(workdir, 't', 1)
    self.assertEqual(run.return_at(100_000), 2.0)
    self.assertIsNone(run.return_at(100_003))

  def test_bad_roots_and_files(self):
    root = _tempdir(self)
    with self.assertRaisesRegex(results.ResultsError, 'no run under'):
      results.find_runs(root)
    with self.assertRaisesRegex(results.ResultsError, 'not a directory'):
      results.find_runs(os.path.join(root, 'absent'))
    workdir = _write_run(root, 't', 1, None)
    with open(os.path.join(workdir, 'eval.csv'), 'w') as f:
      f.write('step,value\n1,2\n')
    self.assertIn('no column env_step, return_mean',
                  results.read_run(workdir, 't', 1).problem)


class ReportTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = _tempdir(self)
    _write_sweep(self.root)
    self.tasks = {t.task: t for t in report.task_results(
        results.find_runs(self.root))}

  def test_cells_by_hand(self):
    cartpole = self.tasks['cartpole_swingup']
    self.assertEqual(cartpole.cells[100_000].n, 3)
    self.assertAlmostEqual(cartpole.cells[100_000].mean, 600.0)
    self.assertAlmostEqual(cartpole.cells[100_000].std, np.sqrt(20000 / 3))
    self.assertEqual(cartpole.cells[500_000].returns, [800.0, 900.0])
    self.assertAlmostEqual(cartpole.cells[500_000].std, 50.0)
    self.assertEqual(self.tasks['finger_spin'].cells[100_000].returns,
                     [700.0, 800.0])
    self.assertEqual(self.tasks['walker_walk'].cells[500_000].n, 0)

  def test_table_beside_the_paper_shows_missing_never_zero(self):
    rows = report.table_rows(list(self.tasks.values()))
    by_task = {row[0]: row for row in rows[1:]}
    self.assertEqual(rows[0][:5], ['task', 'seeds', 'ours 100k',
                                   'CURL paper 100k', 'DrQ re-run 100k'])
    self.assertEqual(by_task['cartpole_swingup (!)'],
                     ['cartpole_swingup (!)', '3', '600 +- 82 (n=3)',
                      '582 +- 146', '592 +- 170', '850 +- 50 (n=2)',
                      '841 +- 45', '861 +- 30'])
    self.assertEqual(by_task['walker_walk (!)'][2:6],
                     ['400 +- 0 (n=1)', '403 +- 24', '344 +- 132',
                      'missing'])

  def test_flags(self):
    self.assertEqual(self.tasks['cartpole_swingup'].notes(),
                     ['500k: seed 3 (at 200k) not there'])
    self.assertIn('only 1 seed (fewer than 3)',
                  self.tasks['walker_walk'].notes())
    finger = self.tasks['finger_spin'].notes()
    self.assertTrue(any(n.startswith('seed 2: no eval.csv') for n in finger),
                    finger)

  def test_score_matrix_takes_the_fewest_seeds_lowest_first(self):
    scores, names = report.score_matrix(list(self.tasks.values()), 100_000)
    self.assertEqual(names, ['cartpole_swingup', 'finger_spin',
                             'walker_walk'])
    np.testing.assert_allclose(scores, [[0.5, 0.7, 0.4]])
    scores, names = report.score_matrix(list(self.tasks.values()), 500_000)
    self.assertEqual(names, ['cartpole_swingup'])
    np.testing.assert_allclose(scores, [[0.8], [0.9]])

  def test_aggregates_by_hand(self):
    # Two tasks, four runs; normalised scores, one above 1.
    scores = np.array([[0.1, 0.5], [0.2, 0.6], [0.3, 0.9], [1.2, 0.8]])
    # IQM: sorted 0.1 0.2 0.3 0.5 0.6 0.8 0.9 1.2, the middle four -> 0.55.
    # Task means 0.45 and 0.7: median and mean 0.575.
    # Optimality gap: 1 - mean(min(x, 1)) = 1 - 4.4 / 8 = 0.45.
    np.testing.assert_allclose(report.aggregate_metrics(scores),
                               [0.55, 0.575, 0.575, 0.45])
    points, intervals = report.interval_estimates(scores, reps=2000)
    np.testing.assert_allclose(points, [0.55, 0.575, 0.575, 0.45])
    self.assertTrue(np.all(intervals[0] <= points + 1e-9))
    self.assertTrue(np.all(points <= intervals[1] + 1e-9))
    self.assertTrue(np.all(intervals[1] - intervals[0] > 0.01))
    _, again = report.interval_estimates(scores, reps=2000)
    np.testing.assert_array_equal(intervals, again)
    # Identical runs: nothing to resample, a zero-width interval.
    _, flat = report.interval_estimates(np.full((3, 2), 0.5), reps=500)
    np.testing.assert_allclose(flat[0], flat[1])

  def test_bootstrap_band_and_curve(self):
    low, high = report.bootstrap_band([500.0, 600.0, 700.0])
    self.assertTrue(500 <= low < 600 < high <= 700, (low, high))
    self.assertEqual(report.bootstrap_band([400.0]), (400.0, 400.0))
    points = report.curve(self.tasks['cartpole_swingup'].runs)
    self.assertEqual([p[0] for p in points],
                     [0, 100_000, 200_000, 300_000, 500_000])
    self.assertEqual([p[4] for p in points], [3, 3, 1, 2, 2])
    self.assertAlmostEqual(points[0][1], 20.0)
    self.assertAlmostEqual(points[3][1], 725.0)

  def test_writes_markdown_and_pngs(self):
    out = os.path.join(self.root, 'report')
    text = report.write_report(self.root, out, reps=500)
    self.assertIn('cartpole_swingup (!)  3      600 +- 82 (n=3)', text)
    with open(os.path.join(out, 'report.md')) as f:
      markdown = f.read()
    self.assertIn('| cartpole_swingup (!) | 3 | 600 +- 82 (n=3) | 582 +- 146 '
                  '| 592 +- 170 | 850 +- 50 (n=2) | 841 +- 45 | 861 +- 30 |',
                  markdown)
    self.assertIn('- walker_walk: only 1 seed (fewer than 3)', markdown)
    self.assertIn('- cartpole_swingup: batch 128 (Table 3: 512); precision '
                  'float32; renders 100x100 cropped to 84.', markdown)
    # 100k aggregates over one run of each task: IQM of 0.5, 0.7, 0.4 is
    # their mean (a quarter of 3 values rounds down to none trimmed).
    self.assertIn('| 100k | cartpole_swingup, finger_spin, walker_walk | 1 | '
                  '0.533 [0.533, 0.533]', markdown)
    self.assertIn('| 500k | cartpole_swingup | 2 | 0.850 [0.800, 0.900]',
                  markdown)
    for task in ('cartpole_swingup', 'finger_spin', 'walker_walk'):
      self.assertIn(f'![{task}]({task}.png)', markdown)
      with open(os.path.join(out, f'{task}.png'), 'rb') as f:
        self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')
    self.assertNotIn('| 0 +- 0', markdown)

  def test_settings_of_a_state_run(self):
    root = _tempdir(self)
    workdir = _write_run(root, 'state_sac', 1, [(0, 1), (100_000, 800)],
                         ('cartpole', 'swingup'))
    path = os.path.join(workdir, 'config.json')
    with open(path) as f:
      config = json.load(f)
    config['observation'] = 'states'
    with open(path, 'w') as f:
      json.dump(config, f)
    tasks = report.task_results(results.find_runs(root))
    self.assertEqual(report.settings_lines(tasks), [
        '- state_sac: batch 128 (Table 3: 512); precision float32; renders '
        'nothing (states).'])

  def test_paper_scores_are_table1(self):
    self.assertEqual(paper_scores.score(paper_scores.CURL_PAPER,
                                        'cartpole_swingup', 100_000),
                     (582, 146))
    self.assertEqual(paper_scores.score(paper_scores.CURL_DRQ_RERUN,
                                        'walker_walk', 500_000), (906, 56))
    self.assertIsNone(paper_scores.score(paper_scores.PIXEL_SAC,
                                         'walker_walk', 500_000))
    for system, tasks in paper_scores.SCORES.items():
      self.assertLen(tasks, 6, system)
      self.assertIn(system, paper_scores.SOURCES)


class CommandLineTest(absltest.TestCase):

  def _report(self, *args):
    return subprocess.run([sys.executable, '-m', 'curl_tf.report', *args],
                          cwd=_REPO, capture_output=True, text=True,
                          timeout=300, check=False)

  def test_bad_root_is_one_line_and_exit_2(self):
    root = _tempdir(self)
    for args, message in [([], 'flag --root is required'),
                          ([f'--root={root}/absent'], 'is not a directory'),
                          ([f'--root={root}'], 'no run under')]:
      with self.subTest(message):
        result = self._report(*args)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertLen(lines, 1, result.stderr)
        self.assertIn(message, lines[0])

  def test_prints_the_table_and_writes_the_report(self):
    root = _tempdir(self)
    _write_sweep(root)
    result = self._report(f'--root={root}', '--reps=200')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn('600 +- 82 (n=3)', result.stdout)
    self.assertTrue(os.path.exists(os.path.join(root, 'report',
                                                'report.md')))


if __name__ == '__main__':
  absltest.main()
