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

# Two logical CPU devices, for the MirroredStrategy tests (a real one, over
# two replicas, with the same all-reduce and all-gather as on two GPUs).
# Devices can only be split before TensorFlow initialises its runtime, so
# here, before any test runs. Ops still go to /CPU:0 unless a strategy
# places them, and both devices share the CPU's thread pools.
# pylint: disable-next=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # noqa: E402

LOGICAL_CPUS = 2
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices('CPU')[0],
    [tf.config.LogicalDeviceConfiguration()] * LOGICAL_CPUS)


def pytest_configure(config):
  config.addinivalue_line(
      'markers',
      'slow: learning runs and tests that start processes (the entry point, '
      'the benchmark). CI runs them; for quick iterations, pytest -m "not '
      'slow" leaves them out.')
  config.addinivalue_line(
      'markers',
      'official: times the official PyTorch CURL code; needs a checkout of '
      'github.com/MishaLaskin/curl and a Python with torch, named by '
      'CURL_OFFICIAL_REPO and CURL_OFFICIAL_PYTHON, and is skipped (with the '
      'reason) without them, as in CI. pytest -m official runs only these.')


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
