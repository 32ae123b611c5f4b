"""pytest setup shared by all tests: environment defaults and import path."""

import os
import sys

# dm_control chooses its OpenGL backend when first imported; EGL renders
# headless. Must be set before any test module imports dm_control.
os.environ.setdefault('MUJOCO_GL', 'egl')
# Hide TensorFlow's C++ INFO and WARNING lines (oneDNN, CUDA stubs); errors
# still show.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# Tests import `curl_tf` and run `main.py` from the repository root, wherever
# pytest was started.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)


def pytest_configure(config):
  config.addinivalue_line(
      'markers',
      'slow: learning runs and tests that start processes (the entry point, '
      'the benchmark). CI runs them; for quick iterations, pytest -m "not '
      'slow" leaves them out.')


def pytest_collection_modifyitems(config, items):
  """Drops tf.test.TestCase's `test_session` helper from collection.

  It is a context manager TensorFlow keeps for TF1 graph tests, not a test;
  pytest would otherwise report it as skipped in every test class.
  """
  kept = [item for item in items if item.name != 'test_session']
  deselected = [item for item in items if item.name == 'test_session']
  if deselected:
    config.hook.pytest_deselected(items=deselected)
    items[:] = kept
