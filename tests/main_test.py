"""Tests main.py as a user runs it: bad input gives one line and no workdir."""

import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
from absl.testing import parameterized

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(REPO_ROOT, 'main.py')
SMOKE = os.path.join(REPO_ROOT, 'configs', 'smoke.py')

def _environment():
  env = dict(os.environ)
  # Bad input must fail before TensorFlow is imported; with TF's own log
  # filter unset, an import would show up as extra stderr lines.
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)
  return env


class MainTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.root)
    self.workdir = os.path.join(self.root, 'run')

  def _run(self, *args):
    # From a directory other than the repo root, as a user might. The happy
    # path runs for real in train_lib_test.py.
    return subprocess.run(
        [sys.executable, MAIN, *args], cwd=self.root,
        env=_environment(), capture_output=True, text=True, check=False,
        timeout=120)

  def _assert_one_line_error(self, result, *fragments):
    # main.py's documented exit code for bad input (argparse's for usage).
    self.assertEqual(result.returncode, 2, result.stderr)
    self.assertNotIn('Traceback', result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    self.assertLen(lines, 1, result.stderr)
    self.assertStartsWith(lines[0], 'curl_tf: error: ')
    for fragment in fragments:
      self.assertIn(fragment, lines[0])
    self.assertEqual(result.stdout, '')

  @parameterized.named_parameters(
      ('unknown_domain', ['--config.domain_name=cartpol'],
       ["('cartpol', 'swingup')", "did you mean 'cartpole'?"]),
      ('unknown_task', ['--config.task_name=swingupp'],
       ["('cartpole', 'swingupp')", 'swingup_sparse']),
      ('unknown_field', ['--config.batch_sise=3'],
       ["unknown config field 'batch_sise'", 'batch_size']),
      ('bad_value', ['--config.batch_size=-1'],
       ['config.batch_size must be a positive integer, got -1']),
      ('unparsable_value', ['--config.batch_size=abc'],
       ['--config.batch_size=abc']),
      ('bad_choice', ['--config.update_mode=parallel'],
       ['config.update_mode', 'joint, sequential']),
      ('unknown_flag', ['--bogus=1'], ["'bogus'"]),
      ('extra_argument', ['extra'], ['unexpected arguments: extra']),
  )
  def test_bad_config(self, args, fragments):
    result = self._run(f'--config={SMOKE}', f'--workdir={self.workdir}',
                       *args)
    self._assert_one_line_error(result, *fragments)
    self.assertFalse(os.path.exists(self.workdir))

  def test_missing_config_file(self):
    missing = os.path.join(self.root, 'nope.py')
    for extra in ([], ['--config.batch_size=3']):
      result = self._run(f'--config={missing}', f'--workdir={self.workdir}',
                         *extra)
      self._assert_one_line_error(result, f'config file not found: {missing}')
      self.assertFalse(os.path.exists(self.workdir))

  def test_config_file_that_raises(self):
    broken = os.path.join(self.root, 'broken.py')
    with open(broken, 'w') as f:
      f.write('def get_config():\n  return 1 / 0\n')
    result = self._run(f'--config={broken}', f'--workdir={self.workdir}')
    self._assert_one_line_error(result, 'ZeroDivisionError')

  def test_missing_workdir_flag(self):
    self._assert_one_line_error(self._run(f'--config={SMOKE}'), '--workdir')

  def test_missing_config_flag(self):
    result = self._run(f'--workdir={self.workdir}')
    self._assert_one_line_error(result, '--config')
    self.assertFalse(os.path.exists(self.workdir))

  def test_workdir_in_proc(self):
    result = self._run(f'--config={SMOKE}', '--workdir=/proc/forbidden')
    self._assert_one_line_error(result, "workdir '/proc/forbidden'")

  def test_workdir_under_a_file(self):
    blocker = os.path.join(self.root, 'file')
    with open(blocker, 'w') as f:
      f.write('x')
    workdir = os.path.join(blocker, 'new', 'run')
    result = self._run(f'--config={SMOKE}', f'--workdir={workdir}')
    self._assert_one_line_error(result, f"workdir '{workdir}'",
                                'Not a directory')
    self.assertEqual(os.listdir(self.root), ['file'])


if __name__ == '__main__':
  absltest.main()
