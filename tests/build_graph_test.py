"""Tests for tools/check_build_graph.py, on hand-made query outputs and trees."""

import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
import pytest

from tools import check_build_graph

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What `bazel query --output=label_kind 'deps(//...)'` prints, cut down: rules,
# source files of the main repository's root package and of a subpackage,
# and of other repositories, a generated file.
_QUERY_OUTPUT = """\
py_library rule //:agent
source file //:curl_tf/agent.py
source file //:main.py
py_test rule //:agent_test
source file //:tests/agent_test.py
source file //tools/bazel:pytest.bzl
source file @pypi//:installed/numpy.txt
source file @bazel_tools//tools/python:python_version.py
generated file //:main
"""


def _git(root, *args):
  subprocess.run(['git', *args], cwd=root, check=True, capture_output=True)


def _make_repository(test_case):
  """Returns a new git repository of empty files, for `test_case` to delete.

  main.py, curl_tf/agent.py and colab/demo.ipynb are tracked; new.py is not,
  ignored/x.py is ignored, deleted.py is tracked and then deleted, and
  colab/README.md is neither Python nor a notebook.
  """
  if shutil.which('git') is None:
    test_case.skipTest('git is not installed: the checker lists files with it')
  root = tempfile.mkdtemp()
  test_case.addCleanup(shutil.rmtree, root)
  for path in ['main.py', 'curl_tf/agent.py', 'colab/demo.ipynb',
               'colab/README.md', 'deleted.py', 'new.py', 'ignored/x.py']:
    os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
    with open(os.path.join(root, path), 'w') as f:
      f.write('')
  with open(os.path.join(root, '.gitignore'), 'w') as f:
    f.write('ignored/\n')
  _git(root, 'init', '-q')
  _git(root, 'add', 'main.py', 'curl_tf', 'colab', 'deleted.py')
  os.remove(os.path.join(root, 'deleted.py'))
  return root


class GraphFilesTest(absltest.TestCase):

  def test_main_repository_source_files_as_paths(self):
    self.assertEqual(
        check_build_graph.graph_files(_QUERY_OUTPUT),
        {'curl_tf/agent.py', 'main.py', 'tests/agent_test.py',
         'tools/bazel/pytest.bzl'})

  def test_empty_output_has_no_files(self):
    self.assertEqual(check_build_graph.graph_files(''), set())


class MissingFromGraphTest(absltest.TestCase):

  def test_names_the_files_no_target_has(self):
    files = ['main.py', 'tools/new.py', 'curl_tf/agent.py', 'colab/a.ipynb']
    graph = check_build_graph.graph_files(_QUERY_OUTPUT)
    self.assertEqual(
        check_build_graph.missing_from_graph(files, graph),
        ['colab/a.ipynb', 'tools/new.py'])

  def test_nothing_missing_when_all_are_in_the_graph(self):
    self.assertEqual(
        check_build_graph.missing_from_graph(
            ['main.py'], {'main.py', 'BUILD'}), [])


class TreeTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = _make_repository(self)

  def test_tracked_and_new_files_not_ignored_or_deleted_ones(self):
    self.assertEqual(
        check_build_graph.repository_files(self.root),
        ['colab/demo.ipynb', 'curl_tf/agent.py', 'main.py', 'new.py'])

  def test_absent_from_tree_names_what_build_names_and_disk_lacks(self):
    self.assertEqual(
        check_build_graph.absent_from_tree(
            {'main.py', 'deleted.py', 'curl_tf/gone.py'}, self.root),
        ['curl_tf/gone.py', 'deleted.py'])


class MainTest(absltest.TestCase):
  """The script as CI runs it, on a small repository and a stand-in Bazel."""

  _ALL = ['colab/demo.ipynb', 'curl_tf/agent.py', 'main.py', 'new.py']

  def setUp(self):
    super().setUp()
    self.root = _make_repository(self)

  def _run(self, fake_bazel_body):
    """Runs the script with a shell script for `bazel`; returns the result."""
    scratch = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, scratch)
    self.bazel_args = os.path.join(scratch, 'args.txt')
    fake_bazel = os.path.join(scratch, 'bazel')
    with open(fake_bazel, 'w') as f:
      f.write(f'#!/bin/sh\necho "$@" > {self.bazel_args}\n{fake_bazel_body}')
    os.chmod(fake_bazel, 0o755)
    return subprocess.run(
        [sys.executable,
         os.path.join(REPO_ROOT, 'tools', 'check_build_graph.py'),
         f'--bazel={fake_bazel}', f'--root={self.root}'],
        capture_output=True, text=True, check=False, timeout=60)

  def _run_with_graph(self, graph):
    # The query's output: the given files, and a rule.
    lines = ['py_library rule //:agent'] + [
        f'source file //:{path}' for path in graph]
    return self._run('cat <<EOF\n' + '\n'.join(lines) + '\nEOF\n')

  def test_passes_when_every_file_is_in_the_graph(self):
    result = self._run_with_graph(self._ALL)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn('all 4 .py and .ipynb files', result.stdout)

  def test_asks_bazel_for_the_whole_graph(self):
    self._run_with_graph(self._ALL)
    with open(self.bazel_args) as f:
      self.assertEqual(
          f.read(), 'query --output=label_kind --noshow_progress deps(//...)\n')

  def test_fails_naming_the_files_left_out(self):
    result = self._run_with_graph(['main.py', 'curl_tf/agent.py'])
    self.assertEqual(result.returncode, 1)
    self.assertIn('2 of 4 files are in no Bazel target', result.stderr)
    self.assertIn('  colab/demo.ipynb\n  new.py\n', result.stderr)

  def test_fails_naming_a_file_build_names_that_does_not_exist(self):
    result = self._run_with_graph(self._ALL + ['deleted.py'])
    self.assertEqual(result.returncode, 1)
    self.assertIn('files that do not exist:\n  deleted.py\n', result.stderr)

  def test_fails_when_the_query_does(self):
    result = self._run('echo "ERROR: no such package" >&2\nexit 7\n')
    self.assertEqual(result.returncode, 1)
    self.assertIn('failed (exit code 7)', result.stderr)


@pytest.mark.slow
class BazelTest(absltest.TestCase):
  """The check itself, with the real Bazel: this repository's BUILD passes."""

  def setUp(self):
    super().setUp()
    if 'TEST_SRCDIR' in os.environ:
      self.skipTest('running under `bazel test`, whose server holds the '
                    'workspace: a nested bazel query would wait for it')
    if shutil.which('bazel') is None:
      self.skipTest('bazel is not installed (.ci/install installs Debian\'s '
                    'bazel-bootstrap)')

  def test_every_file_is_in_the_build_graph(self):
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, 'tools',
                                      'check_build_graph.py')],
        capture_output=True, text=True, check=False, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == '__main__':
  absltest.main()
