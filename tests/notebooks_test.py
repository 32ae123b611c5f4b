"""The Colab notebooks: stored without outputs, and run top to bottom.

The slow test executes every notebook in colab/ headlessly with nbclient, on
the smoke config (CURL_TF_NOTEBOOK_CONFIG=smoke), in a fresh kernel whose
working and temporary directories are the test's, as CI does.
"""

import glob
import os
import re
import sys
import tempfile
import time

from absl.testing import absltest
import nbformat
import pytest

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NOTEBOOKS = sorted(glob.glob(os.path.join(_REPO_ROOT, 'colab', '*.ipynb')))
# Per cell; training the notebooks' smoke budget takes about a minute.
_CELL_TIMEOUT_S = 1800


def _failure(notebook, error) -> str:
  """The failing cell's source and error (without ANSI colours)."""
  for cell in notebook.cells:
    for output in cell.get('outputs', []):
      if output.output_type == 'error':
        traceback = re.sub(r'\x1b\[[0-9;]*m', '', '\n'.join(output.traceback))
        return (f'--- cell ---\n{cell.source}\n--- error ---\n'
                f'{output.ename}: {output.evalue}\n{traceback}')
  return str(error)  # A timeout or a dead kernel: no error output.


def _kernel_env(workdir: str):
  """The kernel's environment: the checkout importable, smoke forced."""
  env = dict(os.environ)
  env.pop('CURL_TF_NOTEBOOK_WORKDIR', None)  # Each notebook trains its own.
  env.update(
      CURL_TF_NOTEBOOK_CONFIG='smoke', MUJOCO_GL='egl',
      TMPDIR=workdir,
      PYTHONPATH=os.pathsep.join(
          p for p in (_REPO_ROOT, env.get('PYTHONPATH')) if p))
  return env


class StoredNotebooksTest(absltest.TestCase):

  def test_there_are_the_three_notebooks(self):
    self.assertEqual(
        [os.path.basename(path) for path in _NOTEBOOKS],
        ['01_quickstart.ipynb', '02_evaluate.ipynb',
         '03_representation.ipynb'])

  def test_notebooks_are_stored_without_outputs(self):
    for path in _NOTEBOOKS:
      notebook = nbformat.read(path, as_version=4)
      nbformat.validate(notebook)
      for i, cell in enumerate(notebook.cells):
        if cell.cell_type != 'code':
          continue
        with self.subTest(notebook=os.path.basename(path), cell=i):
          self.assertEqual(cell.outputs, [])
          self.assertIsNone(cell.execution_count)

  def test_first_code_cell_lets_ci_force_the_smoke_config(self):
    for path in _NOTEBOOKS:
      notebook = nbformat.read(path, as_version=4)
      first = next(c for c in notebook.cells if c.cell_type == 'code')
      with self.subTest(notebook=os.path.basename(path)):
        self.assertIn('SMOKE = True', first.source)
        self.assertIn("'CURL_TF_NOTEBOOK_CONFIG'", first.source)
        self.assertIn("'google.colab' in sys.modules", first.source)


@pytest.mark.slow
@pytest.mark.parametrize('path', _NOTEBOOKS,
                         ids=[os.path.basename(p) for p in _NOTEBOOKS])
def test_notebook_runs_top_to_bottom_on_the_smoke_config(path):
  # Imported here: the fast tests above need nbformat only.
  from nbclient import NotebookClient  # pylint: disable=g-import-not-at-top
  from nbclient import exceptions  # pylint: disable=g-import-not-at-top
  notebook = nbformat.read(path, as_version=4)
  with tempfile.TemporaryDirectory(prefix='notebook_') as workdir:
    client = NotebookClient(
        notebook, kernel_name='python3', timeout=_CELL_TIMEOUT_S,
        resources={'metadata': {'path': workdir}})
    start = time.time()
    try:
      client.execute(env=_kernel_env(workdir))
    except (exceptions.CellExecutionError, exceptions.DeadKernelError,
            exceptions.CellTimeoutError) as e:
      pytest.fail(f'{os.path.basename(path)} failed:\n'
                  f'{_failure(notebook, e)}', pytrace=False)
    print(f'{os.path.basename(path)}: {time.time() - start:.0f} s',
          file=sys.stderr)
  # Every code cell ran, and none wrote an error output.
  for cell in notebook.cells:
    if cell.cell_type == 'code':
      assert cell.execution_count is not None, cell.source
      assert not [o for o in cell.outputs if o.output_type == 'error'], (
          cell.source)
