"""Fails if a Python file or notebook of the repository is in no Bazel target.

    python tools/check_build_graph.py

Asks Bazel for the whole graph, `bazel query 'deps(//...)'` (so it also
checks that every BUILD file and WORKSPACE load), and compares the source
files in it with the repository's .py and .ipynb files: those git tracks,
and new ones it does not ignore, so a file is caught before its commit too.
Prints the files that no target names, and the files BUILD names that do not
exist (a query loads with them; only a build would fail), and exits 1 if
there are any. Standard library only: CI runs it before the tests.
"""

import argparse
import os
import subprocess
import sys

# The files every target must account for: code, and notebooks (the data of
# the test that runs them).
CHECKED_SUFFIXES = ('.py', '.ipynb')

QUERY = 'deps(//...)'
# How --output=label_kind starts a source file's line: `source file //:main.py`.
_SOURCE_FILE = 'source file '

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def repository_files(root):
  """Returns the checked files git tracks or would track under `root`.

  Args:
    root: The repository's top directory.

  Returns:
    Sorted paths relative to `root`, '/'-separated; files deleted from the
    working tree but still tracked are left out.
  """
  patterns = ['*' + suffix for suffix in CHECKED_SUFFIXES]
  listed = subprocess.run(
      ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard',
       '--', *patterns],
      cwd=root, check=True, capture_output=True, text=True).stdout
  paths = {path for path in listed.split('\0') if path}
  return sorted(
      path for path in paths if os.path.isfile(os.path.join(root, path)))


def graph_files(query_output):
  """Returns the main repository's source files in a label_kind query output.

  Args:
    query_output: What `bazel query --output=label_kind` printed, one
      `<kind> <label>` a line.

  Returns:
    The set of paths relative to the workspace root: `//:main.py` is
    `main.py`, `//tools/bazel:pytest.bzl` is `tools/bazel/pytest.bzl`. Other
    repositories' files (`@pypi//...`) and rules are left out.
  """
  paths = set()
  for line in query_output.splitlines():
    if not line.startswith(_SOURCE_FILE):
      continue
    label = line[len(_SOURCE_FILE):].strip()
    if not label.startswith('//'):
      continue
    package, _, name = label[2:].partition(':')
    paths.add(f'{package}/{name}' if package else name)
  return paths


def missing_from_graph(files, graph):
  """Returns, sorted, the `files` that are not in `graph`."""
  return sorted(set(files) - set(graph))


def absent_from_tree(graph, root):
  """Returns, sorted, the paths in `graph` with no file under `root`."""
  return sorted(
      path for path in graph if not os.path.exists(os.path.join(root, path)))


def query_graph(root, bazel='bazel'):
  """Runs the Bazel query in `root`; returns its output (label_kind lines).

  Raises:
    subprocess.CalledProcessError: if the graph does not load; Bazel's own
      messages have gone to stderr.
  """
  return subprocess.run(
      [bazel, 'query', '--output=label_kind', '--noshow_progress', QUERY],
      cwd=root, check=True, stdout=subprocess.PIPE, text=True).stdout


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument(
      '--bazel', default=os.environ.get('BAZEL', 'bazel'),
      help='the Bazel to run (default: $BAZEL, else bazel on the PATH)')
  parser.add_argument(
      '--root', default=REPO_ROOT,
      help='the workspace and git checkout (default: the one holding this '
      'script)')
  args = parser.parse_args(argv)

  files = repository_files(args.root)
  try:
    graph = graph_files(query_graph(args.root, args.bazel))
  except subprocess.CalledProcessError as error:
    print(f'check_build_graph: `bazel query {QUERY!r}` failed '
          f'(exit code {error.returncode}); see above.', file=sys.stderr)
    return 1
  missing = missing_from_graph(files, graph)
  if missing:
    print(f'check_build_graph: {len(missing)} of {len(files)} files are in '
          'no Bazel target; add them to BUILD (srcs, or data for configs '
          'and notebooks):', file=sys.stderr)
    for path in missing:
      print(f'  {path}', file=sys.stderr)
  absent = absent_from_tree(graph, args.root)
  if absent:
    print('check_build_graph: BUILD names files that do not exist:',
          file=sys.stderr)
    for path in absent:
      print(f'  {path}', file=sys.stderr)
  if missing or absent:
    return 1
  print(f'check_build_graph: all {len(files)} .py and .ipynb files are in '
        'the Bazel graph.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
