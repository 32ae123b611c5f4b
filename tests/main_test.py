"""Tests main.py as a user runs it: bad input gives one line and no workdir."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from absl.testing import absltest
from absl.testing import parameterized

from curl_tf import config_lib

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(REPO_ROOT, 'main.py')
SMOKE = os.path.join(REPO_ROOT, 'configs', 'smoke.py')
EVAL_LIB = os.path.join(REPO_ROOT, 'curl_tf', 'eval_lib.py')


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

  def _run(self, *args, timeout=120):
    # From a directory other than the repo root, as a user might.
    return subprocess.run(
        [sys.executable, MAIN, *args], cwd=self.root,
        env=_environment(), capture_output=True, text=True, check=False,
        timeout=timeout)

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


  def test_eval_mode_needs_only_the_workdir(self):
    self._assert_one_line_error(
        self._run('--mode=eval'),
        'flag --workdir is required with --mode=eval')
    # No --config, and the next check is the workdir's.
    result = self._run('--mode=eval', f'--workdir={self.workdir}')
    self._assert_one_line_error(result,
                                f"workdir '{self.workdir}' does not exist")
    self.assertFalse(os.path.exists(self.workdir))

  @parameterized.named_parameters(
      ('unknown_mode', ['--mode=test'], ['--mode=test', 'train|eval']),
      ('no_episodes', ['--mode=eval', '--num_episodes=0'],
       ['--num_episodes=0', 'not a positive integer']),
      ('negative_seed', ['--mode=eval', '--seed=-1'], ['--seed=-1']),
      ('config_in_eval_mode', ['--mode=eval', f'--config={SMOKE}'],
       ['flag --config is only read with --mode=train']),
      ('episodes_in_train_mode', [f'--config={SMOKE}', '--num_episodes=3'],
       ['flag --num_episodes is only read with --mode=eval']),
      ('video_in_train_mode', [f'--config={SMOKE}', '--video_path=v.mp4'],
       ['flag --video_path is only read with --mode=eval']),
  )
  def test_bad_mode_flags(self, args, fragments):
    result = self._run(f'--workdir={self.workdir}', *args)
    self._assert_one_line_error(result, *fragments)
    self.assertFalse(os.path.exists(self.workdir))

  # Only while the module is missing: it is written in parallel with main.py.
  @unittest.skipUnless(os.path.exists(EVAL_LIB),
                       'curl_tf/eval_lib.py does not exist yet')
  def test_eval_without_an_exported_policy(self):
    # The one line also shows that importing TensorFlow printed nothing.
    os.mkdir(self.workdir)
    result = self._run('--mode=eval', f'--workdir={self.workdir}')
    self._assert_one_line_error(
        result,
        f"no exported policy at '{os.path.join(self.workdir, 'policy')}'")

  def test_a_train_run_opens_with_our_lines(self):
    # The workdir holds another run's config, so main.py prints its opening
    # lines, imports TensorFlow and all that train_lib imports, and then
    # train_and_evaluate refuses before any work.
    os.mkdir(self.workdir)
    with open(os.path.join(self.workdir, config_lib.RUN_CONFIG_FILE),
              'w') as f:
      json.dump({'seed': 99}, f)
    result = self._run(f'--config={SMOKE}', f'--workdir={self.workdir}')
    self.assertEqual(result.returncode, 2, result.stderr)
    lines = result.stdout.splitlines()
    self.assertLen(lines, 2, result.stdout)
    self.assertStartsWith(
        lines[0], 'cartpole swingup: 4000 env steps = 500 agent steps')
    self.assertStartsWith(
        lines[1], "estimated wall-clock on a 2-core CPU like the benchmark's: ")
    self.assertIn('(400 updates at', lines[1])
    # No TensorFlow, CUDA or gym lines: only the refusal.
    error_lines = result.stderr.splitlines()
    self.assertLen(error_lines, 1, result.stderr)
    self.assertStartsWith(error_lines[0], 'curl_tf: error: ')
    self.assertIn('another config', error_lines[0])

  def test_only_unreadable_checkpoints(self):
    # A workdir whose one checkpoint is damaged: refused with one line, and
    # nothing in it is touched.
    checkpoints = os.path.join(self.workdir, 'checkpoints')
    os.makedirs(checkpoints)
    files = {os.path.join(checkpoints, 'manifest-000002000.json'): '{bad',
             os.path.join(checkpoints, 'agent-000002000.index'): 'x',
             os.path.join(self.workdir, 'eval.csv'): 'env_step\n0\n2000\n'}
    for path, text in files.items():
      with open(path, 'w') as f:
        f.write(text)
    result = self._run(f'--config={SMOKE}', f'--workdir={self.workdir}')
    error_lines = result.stderr.splitlines()
    self.assertLen(error_lines, 1, result.stderr)
    self.assertEqual(result.returncode, 2, result.stderr)
    self.assertStartsWith(error_lines[0], 'curl_tf: error: no readable '
                          f'checkpoint in {checkpoints}')
    self.assertIn('manifest-000002000.json', error_lines[0])
    for path, text in files.items():
      with open(path) as f:
        self.assertEqual(f.read(), text, path)
    self.assertCountEqual(os.listdir(checkpoints),
                          ['manifest-000002000.json', 'agent-000002000.index'])


if __name__ == '__main__':
  absltest.main()
