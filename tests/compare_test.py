"""Tests for curl_tf.compare on synthetic variant directories.

Returns are chosen so that every mean, std and IQM can be checked by hand.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
from curl_tf import compare
from curl_tf import results

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tempdir(test) -> str:
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


def _write_run(root, variant, seed, rows):
  workdir = results.run_dir(root, variant, seed)
  os.makedirs(workdir)
  with open(os.path.join(workdir, 'eval.csv'), 'w') as f:
    f.write('env_step,return_mean\n')
    for step, value in rows:
      f.write(f'{step},{value}\n')


def _write_variants(root):
  # joint, at 80k: 100, 200, 300, 1000 -> mean 400, std sqrt(500000 / 4) =
  # 353.6, IQM (the middle two) 250. Last two (40k, 80k): 75, 175, 275, 950
  # -> mean 368.75, std sqrt(470468.75 / 4) = 343.0.
  for seed, (mid, final) in enumerate(
      [(50, 100), (150, 200), (250, 300), (900, 1000)], start=1):
    _write_run(root, 'joint', seed, [(0, 1), (40_000, mid), (80_000, final)])
  # official: 200, 600 -> 400 +- 200; its IQM of two runs is their mean.
  _write_run(root, 'official', 1, [(0, 1), (40_000, 100), (80_000, 200)])
  _write_run(root, 'official', 2, [(0, 1), (40_000, 500), (80_000, 600)])
  # cosine: seed 2 stopped at 40k, left out at 80k.
  _write_run(root, 'cosine', 1, [(0, 1), (40_000, 300), (80_000, 350)])
  _write_run(root, 'cosine', 2, [(0, 1), (40_000, 320)])


class CompareTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = _tempdir(self)
    _write_variants(self.root)
    self.items = {v.name: v for v in
                  compare.variants(results.find_runs(self.root))}

  def test_compared_at_the_furthest_step_by_hand(self):
    joint = self.items['joint']
    self.assertEqual(joint.at, 80_000)
    self.assertEqual(joint.finals, [100, 200, 300, 1000])
    self.assertEqual(joint.last_two, [75, 175, 275, 950])
    iqm, low, high = compare.iqm_interval(joint.finals, reps=500)
    self.assertAlmostEqual(iqm, 250.0)
    self.assertBetween(low, 100, 250)
    self.assertBetween(high, 250, 1000)
    iqm, _, _ = compare.iqm_interval(self.items['official'].finals, 500)
    self.assertAlmostEqual(iqm, 400.0)

  def test_short_runs_are_left_out_and_flagged(self):
    cosine = self.items['cosine']
    self.assertEqual(cosine.finals, [350])
    self.assertEqual(cosine.notes(), ['seed 2 (at 40k) short of 80k: left out'])
    self.assertEqual(self.items['joint'].notes(), [])

  def test_table_and_an_earlier_step(self):
    rows = compare.table_rows(list(self.items.values()), reps=500)
    by_name = {row[0]: row for row in rows[1:]}
    self.assertEqual(by_name['joint'][1:4],
                     ['4', '400 +- 354 (n=4)', '369 +- 343 (n=4)'])
    self.assertEqual(by_name['official'][2], '400 +- 200 (n=2)')
    self.assertEqual(by_name['cosine (!)'][2], '350 +- 0 (n=1)')
    self.assertTrue(by_name['joint'][4].startswith('250 ['))
    early = compare.variants(results.find_runs(self.root), at=40_000)
    cosine = [v for v in early if v.name == 'cosine'][0]
    self.assertEqual(cosine.finals, [300, 320])
    self.assertEqual(cosine.notes(), [])
    # Means of the evaluations at 0 and 40k.
    self.assertEqual(cosine.last_two, [150.5, 160.5])

  def test_writes_markdown_and_png(self):
    out = os.path.join(self.root, 'out')
    table = compare.write_comparison(self.root, out, reps=200)
    self.assertIn('joint', table)
    with open(os.path.join(out, 'compare.md')) as f:
      text = f.read()
    self.assertIn('| joint | 4 | 400 +- 354 (n=4) |', text)
    self.assertIn('- cosine: seed 2 (at 40k) short of 80k: left out', text)
    with open(os.path.join(out, 'compare.png'), 'rb') as f:
      self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')


class CommandLineTest(absltest.TestCase):

  def _compare(self, *args):
    return subprocess.run([sys.executable, '-m', 'curl_tf.compare', *args],
                          cwd=_REPO, capture_output=True, text=True,
                          timeout=300, check=False)

  def test_bad_input_is_one_line_and_exit_2(self):
    root = _tempdir(self)
    for args, message in [([], 'flag --root is required'),
                          ([f'--root={root}/absent'], 'is not a directory'),
                          ([f'--root={root}'], 'no run under')]:
      with self.subTest(message):
        result = self._compare(*args)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertLen(lines, 1, result.stderr)
        self.assertIn(message, lines[0])

  def test_prints_the_table(self):
    root = _tempdir(self)
    _write_variants(root)
    result = self._compare(f'--root={root}', '--reps=200')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn('400 +- 200 (n=2)', result.stdout)
    self.assertTrue(os.path.exists(os.path.join(root, 'compare',
                                                'compare.md')))


if __name__ == '__main__':
  absltest.main()
