"""Tests for curl_tf.console: TensorFlow's start-up noise goes, errors stay."""

import io
import logging as std_logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from importlib import metadata
from unittest import mock

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized

from curl_tf import cadence
from curl_tf import console

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What `import tensorflow, tf_agents` printed on this project's CI machine
# kind (2 CPU cores, no GPU; TF 2.15.1, tf-agents 0.19, gym 0.23) before
# curl_tf.console, C++ lines first, in order.
RECORDED_TF_NOISE = (
    '2026-11-23 13:33:07.851760: I tensorflow/core/util/port.cc:113] oneDNN '
    'custom operations are on. You may see slightly different numerical '
    'results due to floating-point round-off errors from different '
    'computation orders. To turn them off, set the environment variable '
    '`TF_ENABLE_ONEDNN_OPTS=0`.',
    '2026-11-23 13:33:07.853745: I external/local_tsl/tsl/cuda/'
    'cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will '
    'not be used.',
    '2026-11-23 13:33:07.945606: E external/local_xla/xla/stream_executor/'
    'cuda/cuda_dnn.cc:9261] Unable to register cuDNN factory: Attempting to '
    'register factory for plugin cuDNN when one has already been registered',
    '2026-11-23 13:33:07.945670: E external/local_xla/xla/stream_executor/'
    'cuda/cuda_fft.cc:607] Unable to register cuFFT factory: Attempting to '
    'register factory for plugin cuFFT when one has already been registered',
    '2026-11-23 13:33:07.947794: E external/local_xla/xla/stream_executor/'
    'cuda/cuda_blas.cc:1515] Unable to register cuBLAS factory: Attempting to '
    'register factory for plugin cuBLAS when one has already been registered',
    '2026-11-23 13:33:07.961567: I tensorflow/core/platform/'
    'cpu_feature_guard.cc:182] This TensorFlow binary is optimized to use '
    'available CPU instructions in performance-critical operations.',
    'To enable the following instructions: AVX2 AVX512F AVX512_VNNI '
    'AVX512_BF16 AVX_VNNI AMX_TILE AMX_INT8 AMX_BF16 FMA, in other '
    'operations, rebuild TensorFlow with the appropriate compiler flags.',
    '2026-11-23 13:33:09.112895: W tensorflow/compiler/tf2tensorrt/utils/'
    'py_utils.cc:38] TF-TRT Warning: Could not find TensorRT',
)
CUDA_DRIVERS_LINE = RECORDED_TF_NOISE[1]

# Lines like the noise that say something is wrong: they must show.
REAL_ERRORS = (
    # Another level for the same message.
    RECORDED_TF_NOISE[2].replace(': E ', ': F '),
    # A real cuDNN failure from the same file.
    '2026-11-23 13:33:07.945606: E external/local_xla/xla/stream_executor/'
    'cuda/cuda_dnn.cc:535] Could not create cudnn handle: '
    'CUDNN_STATUS_INTERNAL_ERROR',
    # The registration message from another file.
    '2026-11-23 13:33:07.945606: E some/other/file.cc:1] Unable to register '
    'cuDNN factory: Attempting to register factory for plugin cuDNN when one '
    'has already been registered',
    '2026-11-23 13:33:09.112895: W tensorflow/compiler/tf2tensorrt/utils/'
    'py_utils.cc:38] TF-TRT Warning: TensorRT version mismatch',
    'To enable the following instructions, read this: it is not TF.',
    '2026-11-23 13:36:37.099376: W tensorflow/core/framework/'
    'op_kernel.cc:1839] OP_REQUIRES failed at whole_file_read_ops.cc:141 : '
    'NOT_FOUND: /proc/nope; No such file or directory',
    'Traceback (most recent call last):',
)


def _harmless(line: str) -> bool:
  return bool(console.compile_patterns(
      console.harmless_patterns()).search(line.encode()))


class PatternsTest(parameterized.TestCase):

  @parameterized.parameters(*RECORDED_TF_NOISE)
  def test_recorded_noise_is_harmless_without_a_gpu(self, line):
    with mock.patch.object(console, 'has_nvidia_device', return_value=False):
      self.assertTrue(_harmless(line))

  def test_cuda_drivers_line_shows_on_a_gpu_machine(self):
    # There it means the driver is broken.
    with mock.patch.object(console, 'has_nvidia_device', return_value=True):
      self.assertFalse(_harmless(CUDA_DRIVERS_LINE))
      self.assertTrue(_harmless(RECORDED_TF_NOISE[2]))

  @parameterized.parameters(*REAL_ERRORS)
  def test_real_errors_are_not_harmless(self, line):
    with mock.patch.object(console, 'has_nvidia_device', return_value=False):
      self.assertFalse(_harmless(line))

  def test_filter_keeps_every_other_line_in_order(self):
    source = io.BytesIO(
        ('\n'.join([REAL_ERRORS[0], *RECORDED_TF_NOISE, REAL_ERRORS[1]]) +
         '\nlast line without a newline').encode())
    sink = io.BytesIO()
    console.filter_lines(
        source, sink,
        console.compile_patterns(console.HARMLESS_PATTERNS +
                                 console.NO_GPU_PATTERNS))
    self.assertEqual(
        sink.getvalue().decode(),
        f'{REAL_ERRORS[0]}\n{REAL_ERRORS[1]}\nlast line without a newline')

  def test_gym_has_a_notice_to_leave_out(self):
    # Else the process test's check that the banner is gone shows nothing.
    from gym_notices import notices  # pylint: disable=g-import-not-at-top
    notice = notices.notices[metadata.version('gym')]
    self.assertStartsWith(notice, 'Gym has been unmaintained since 2022')

  def test_quiet_libraries_drops_theirs_and_keeps_ours(self):
    before = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)
    self.addCleanup(logging.set_verbosity, before)
    records = []
    collector = std_logging.Handler()
    collector.emit = records.append
    std_logging.getLogger().addHandler(collector)
    self.addCleanup(std_logging.getLogger().removeHandler, collector)
    stop = cadence.StopOnSignal()
    with console.quiet_libraries('error'):
      # This file stands for a library: it is not under curl_tf/.
      logging.warning('library warning')
      std_logging.getLogger('tensorflow').warning('tensorflow warning')
      logging.error('library error')
      # The Ctrl-C acknowledgement, which came during an export and was
      # lost when this lowered absl's verbosity instead.
      stop._handle(signal.SIGINT, None)  # pylint: disable=protected-access
    with console.quiet_libraries():
      logging.info('library info')
      logging.warning('library warning 2')
    logging.info('library info after')
    self.assertEqual([r.getMessage().split(':')[0] for r in records], [
        'library error', 'SIGINT received', 'library warning 2',
        'library info after'
    ])


# A module imported through quiet_imports: writes to file descriptor 2 as
# C++ code does, one harmless line and one that is not.
NOISY_MODULE = f'''
import os
os.write(2, {(RECORDED_TF_NOISE[2] + chr(10)).encode()!r})
os.write(2, b'noisy_module: E a real error while importing' + bytes([10]))
'''

# Imports through the console, prints a marker, then makes TensorFlow log a
# real op failure from C++ and writes a known-harmless line itself, both
# after the imports.
CHILD = f'''
import os
import sys
sys.path[:0] = [{REPO_ROOT!r}, sys.argv[1]]
from curl_tf import cadence
from curl_tf import console
console.quiet_imports('noisy_module')
print('MARKER', flush=True)
import tensorflow as tf
try:
  tf.io.write_file('/proc/nonexistent/file', 'x')
except tf.errors.NotFoundError:
  print('write failed', flush=True)
os.write(2, {(RECORDED_TF_NOISE[3] + chr(10)).encode()!r})
'''


class QuietImportsProcessTest(absltest.TestCase):
  """A real child process imports TensorFlow and TF-Agents (5-8 s each)."""

  def _run_child(self, **environment):
    module_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, module_dir)
    with open(os.path.join(module_dir, 'noisy_module.py'), 'w') as f:
      f.write(NOISY_MODULE)
    env = dict(os.environ, **environment)
    # conftest.py sets a default; the child must choose for itself.
    if 'TF_CPP_MIN_LOG_LEVEL' not in environment:
      env.pop('TF_CPP_MIN_LOG_LEVEL', None)
    # Importing curl_tf here set this; the child's own import must set it.
    env.pop('TF_ENABLE_ONEDNN_OPTS', None)
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(CHILD), module_dir],
        env=env, capture_output=True, text=True, check=False, timeout=300)

  def test_first_lines_are_ours_and_errors_still_show(self):
    result = self._run_child()
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.splitlines(), ['MARKER', 'write failed'])
    stderr_lines = result.stderr.splitlines()
    # Nothing but what the child and TensorFlow logged on purpose, in order:
    # the import's real error (forwarded during the import), the op failure
    # TensorFlow logs from C++ afterwards, and the harmless line written
    # after the imports, which nothing filters any more.
    self.assertLen(stderr_lines, 3, result.stderr)
    self.assertEqual(stderr_lines[0],
                     'noisy_module: E a real error while importing')
    self.assertRegex(
        stderr_lines[1],
        r'^\d{4}-.*: W tensorflow/core/framework/op_kernel\.cc:\d+\] '
        r'OP_REQUIRES failed at .*NOT_FOUND: /proc/nonexistent')
    self.assertEqual(stderr_lines[2], RECORDED_TF_NOISE[3])
    self.assertNotIn('Gym has been unmaintained', result.stderr)

  def test_users_log_level_wins(self):
    result = self._run_child(TF_CPP_MIN_LOG_LEVEL='0')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.splitlines(), ['MARKER', 'write failed'])
    # TensorFlow's own lines are back, unfiltered (which also shows that
    # this TensorFlow still prints what the test above checks is gone).
    for message in ('Unable to register cuDNN factory',
                    'TF-TRT Warning: Could not find TensorRT'):
      self.assertRegex(result.stderr,
                       re.compile(r'^\d{4}-.*' + re.escape(message),
                                  re.MULTILINE))
    # curl_tf asks TensorFlow for its oneDNN kernels on every CPU (TensorFlow
    # alone turns them on only on CPUs with AVX-512 VNNI/BF16 or AMX), and
    # TensorFlow says so.
    onednn_line = re.compile(r'^\d{4}-.*oneDNN custom operations are on',
                             re.MULTILINE)
    self.assertRegex(result.stderr, onednn_line)
    self.assertEqual(result.stderr.count(RECORDED_TF_NOISE[2]), 1)


if __name__ == '__main__':
  absltest.main()
