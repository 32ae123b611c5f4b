"""Imports TensorFlow and TF-Agents without their start-up noise.

On a CPU machine, importing TensorFlow 2.15 and TF-Agents 0.19 writes a dozen
lines to stderr before a run says anything. Where each comes from:

  line (level)                                   printed by, when
  oneDNN custom operations are on (I)            C++ tensorflow/core/util/
                                                 port.cc, as TF's library loads
  Could not find cuda drivers on your machine,   C++ tsl/cuda/cudart_stub.cc,
  GPU will not be used. (I, twice)               once per TF shared library
  Unable to register cuDNN / cuFFT / cuBLAS      C++ xla/stream_executor/cuda,
  factory (E, one line each)                     static initialisers: the
                                                 plugins are registered twice
                                                 (tensorflow/tensorflow#62075),
                                                 on every machine, GPU or not
  This TensorFlow binary is optimized ... and    C++ cpu_feature_guard.cc
  To enable the following instructions: ... (I)
  TF-TRT Warning: Could not find TensorRT (W)    C++ tf2tensorrt/utils/
                                                 py_utils.cc, when `import
                                                 tensorflow` imports
                                                 tensorflow.python.compiler.
                                                 tensorrt
  Gym has been unmaintained since 2022 ...       Python, gym/__init__.py
  (3 lines)                                      prints gym_notices' notice to
                                                 sys.stderr; tf_agents imports
                                                 gym (environments.suite_gym)

Why not the usual switches: the cuDNN/cuFFT/cuBLAS lines are at ERROR level,
so `TF_CPP_MIN_LOG_LEVEL=3` would hide real errors with them; and all the C++
lines come from loading the libraries, before any device is looked at, so
`CUDA_VISIBLE_DEVICES=''` changes none of them (tried).

What `quiet_imports` does instead, only while it imports:

- file descriptor 2 goes through a pipe to a small filter process that
  writes every line to the real stderr at once, except those matching
  `HARMLESS_PATTERNS` (the lines above, each matched with its level and
  source file). The cuda-drivers line is dropped only where no NVIDIA device
  exists: on a GPU machine it says something is wrong;
- gym is imported with sys.stderr captured, and everything it wrote is
  written again except the exact notice gym_notices holds for gym's version;
- absl's verbosity is WARNING, so INFO lines that libraries log as they load
  (dm_control: its OpenGL backend, the MuJoCo version) are left out.

Afterwards stderr is the process's own again: anything TensorFlow logs later,
even a line that matches a pattern, shows. A user who set
TF_CPP_MIN_LOG_LEVEL has chosen what TensorFlow shows: then nothing is
filtered (the gym notice is still left out).

Why a process and not a thread: the C++ lines are written while Python holds
the GIL (a shared library's initialisers run inside dlopen), so a thread
could not read the pipe until the library had loaded. If the library aborted
(e.g. a missing CPU instruction), its last words would be lost, and more than
a pipe's 64 KiB of log (verbose logging) would block the import forever. The
filter process forwards each line as it comes, and sees the end of its input
when we restore stderr or when our process dies.

Usage, before anything imports TensorFlow (main.py, or a notebook's first
cell):

  from curl_tf import console
  console.quiet_imports()            # tensorflow and tf_agents
  console.quiet_imports('curl_tf.train_lib')   # and what train_lib imports
"""

import contextlib
import glob
import importlib
import io
import os
import re
import signal
import subprocess
import sys
from typing import BinaryIO, Iterator, Pattern, Sequence

# Log records made by code under this directory are the run's own.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _tf_log_line(level: str, source_file: str, message: str) -> str:
  """A regex for one line of TensorFlow 2.15's C++ log, prefix included.

  Args:
    level: I, W or E.
    source_file: the file that logs it, without its directory.
    message: the start of the message, literally.

  Returns:
    The pattern, e.g. for `2026-11-21 10:00:00.123456: E external/local_xla/
    xla/stream_executor/cuda/cuda_dnn.cc:9261] Unable to register ...`.
  """
  return (r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ' + level + r' (\S+/)?' +
          re.escape(source_file) + r':\d+\] ' + re.escape(message))


# Lines known to be harmless here, each on its own line of output (see the
# module docstring for where each comes from).
HARMLESS_PATTERNS = (
    _tf_log_line('I', 'port.cc', 'oneDNN custom operations are on.'),
    _tf_log_line(
        'E', 'cuda_dnn.cc', 'Unable to register cuDNN factory: Attempting to '
        'register factory for plugin cuDNN when one has already been '
        'registered'),
    _tf_log_line(
        'E', 'cuda_fft.cc', 'Unable to register cuFFT factory: Attempting to '
        'register factory for plugin cuFFT when one has already been '
        'registered'),
    _tf_log_line(
        'E', 'cuda_blas.cc', 'Unable to register cuBLAS factory: Attempting '
        'to register factory for plugin cuBLAS when one has already been '
        'registered'),
    _tf_log_line(
        'I', 'cpu_feature_guard.cc', 'This TensorFlow binary is optimized to '
        'use available CPU instructions in performance-critical operations.'),
    # The second line of the cpu_feature_guard message.
    r'^To enable the following instructions: [A-Z0-9_ ]+, in other '
    r'operations, rebuild TensorFlow with the appropriate compiler flags\.$',
    # We never convert graphs with TF-TRT.
    _tf_log_line('W', 'py_utils.cc',
                 'TF-TRT Warning: Could not find TensorRT'),
)
# Harmless only on a machine without an NVIDIA GPU.
NO_GPU_PATTERNS = (
    _tf_log_line('I', 'cudart_stub.cc', 'Could not find cuda drivers on your '
                 'machine, GPU will not be used.'),
)

# TensorFlow reads its log level from here; see the module docstring.
_USER_LOG_LEVEL = 'TF_CPP_MIN_LOG_LEVEL'
# How long to wait for the filter process to write its last lines.
_FILTER_EXIT_TIMEOUT_S = 10.0


def has_nvidia_device() -> bool:
  """Whether the NVIDIA kernel driver sees a GPU (without importing CUDA)."""
  return os.path.exists('/proc/driver/nvidia') or bool(
      glob.glob('/dev/nvidia[0-9]*'))


def harmless_patterns() -> Sequence[str]:
  """The patterns of the lines `quiet_imports` leaves out on this machine."""
  if has_nvidia_device():
    return HARMLESS_PATTERNS
  return HARMLESS_PATTERNS + NO_GPU_PATTERNS


def compile_patterns(patterns: Sequence[str]) -> Pattern[bytes]:
  """One bytes regex matching a line that matches any of `patterns`."""
  return re.compile(
      b'|'.join(b'(?:' + p.encode() + b')' for p in patterns))


def filter_lines(source: BinaryIO, sink: BinaryIO,
                 harmless: Pattern[bytes]) -> None:
  """Copies `source` to `sink` line by line, leaving out harmless lines.

  Args:
    source: read until its end.
    sink: flushed after each line, so nothing waits in a buffer if the
      writer's process dies.
    harmless: lines it matches (without their line end) are left out.
  """
  for line in source:
    if not harmless.search(line.rstrip(b'\r\n')):
      sink.write(line)
      sink.flush()


@contextlib.contextmanager
def _filtered_stderr(patterns: Sequence[str]) -> Iterator[None]:
  """Sends file descriptor 2 through a filter process inside the block."""
  sys.stderr.flush()
  try:
    real_stderr = os.dup(2)
  except OSError:  # No stderr to filter (e.g. a daemon's closed fd 2).
    yield
    return
  read_end, write_end = os.pipe()
  try:
    # -I -S: the filter needs only the standard library, and neither the
    # user's environment nor site-packages can change what it does.
    child = subprocess.Popen(
        [sys.executable, '-I', '-S', os.path.abspath(__file__), *patterns],
        stdin=read_end, stdout=real_stderr)
  except OSError:
    os.close(read_end)
    os.close(write_end)
    os.close(real_stderr)
    yield
    return
  os.close(read_end)
  os.dup2(write_end, 2)
  os.close(write_end)
  try:
    yield
  finally:
    sys.stderr.flush()
    # The pipe's last write end closes here, so the filter sees its end.
    os.dup2(real_stderr, 2)
    os.close(real_stderr)
    try:
      child.wait(timeout=_FILTER_EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
      # Something kept a copy of the pipe; the filter ends with it.
      pass


def _import_gym_without_notice() -> None:
  """Imports gym, leaving out the notice gym_notices holds for its version."""
  captured = io.StringIO()
  gym = None
  try:
    with contextlib.redirect_stderr(captured):
      import gym  # pylint: disable=g-import-not-at-top
  except ImportError:
    pass  # TF-Agents' environments need gym; without it, nothing to silence.
  finally:
    text = captured.getvalue()
    notice = None
    if gym is not None:
      try:
        # pylint: disable-next=g-import-not-at-top
        from gym_notices import notices
        notice = notices.notices.get(gym.__version__)
      except ImportError:
        pass
    if notice:
      text = text.replace(notice + '\n', '', 1)
    sys.stderr.write(text)


@contextlib.contextmanager
def quiet_libraries(level_name: str = 'warning') -> Iterator[None]:
  """Below `level_name`, lets only curl_tf's own log records out of the block.

  dm_control logs INFO lines when first imported (its OpenGL backend, the
  MuJoCo version), which would come before the run's own; a SavedModel
  export logs about eight INFO and WARNING lines of its internals (renamed
  signature arguments, untraced functions, fingerprints) at every
  evaluation.

  Why a filter on the handlers and not a lower verbosity: a record of ours
  logged inside the block must still show. Ctrl-C can arrive during an
  export, and the signal handler's warning (cadence.StopOnSignal) would
  otherwise be dropped, leaving the user to wonder whether it was heard.

  Args:
    level_name: 'warning' or 'error'.

  Yields:
    Nothing; loggers and handlers are as before after the block.
  """
  # The standard library only: the filter process imports this file.
  import logging  # pylint: disable=g-import-not-at-top
  threshold = {'warning': logging.WARNING, 'error': logging.ERROR}[level_name]

  def keep(record: logging.LogRecord) -> bool:
    return (record.levelno >= threshold or
            os.path.abspath(record.pathname).startswith(_PACKAGE_DIR))

  # On the handlers, for records any library makes on its own logger
  # (PyOpenGL's, when dm_control loads it); and on the loggers absl and
  # TensorFlow make records on, for a handler added inside the block (absl
  # calls logging.basicConfig when it logs before app.run added its own).
  loggers = [logging.getLogger(name) for name in ('', 'absl', 'tensorflow')]
  filtered = loggers + [h for logger in loggers for h in logger.handlers]
  for item in filtered:
    item.addFilter(keep)
  try:
    yield
  finally:
    for item in filtered:
      item.removeFilter(keep)


def quiet_imports(*module_names: str) -> None:
  """Imports TensorFlow, TF-Agents and `module_names` without their noise.

  Call it before anything imports TensorFlow; imports done before it are
  cached and print nothing more. Every line written during the imports that
  is not on the short list of known-harmless lines (`harmless_patterns()`)
  still reaches stderr.

  Args:
    *module_names: further modules to import (e.g. 'curl_tf.train_lib'),
      whose imports may load more of TensorFlow.
  """
  names = ('tensorflow', 'tf_agents', *module_names)
  if all(name in sys.modules for name in names):
    return
  if _USER_LOG_LEVEL in os.environ:
    quiet = contextlib.nullcontext()
  else:
    quiet = _filtered_stderr(harmless_patterns())
  with quiet, quiet_libraries():
    _import_gym_without_notice()
    for name in names:
      importlib.import_module(name)


if __name__ == '__main__':
  # The filter process of _filtered_stderr: stdin -> stdout (our stderr).
  # Ctrl-C reaches the whole process group: the importing process handles
  # it, and the filter still forwards its last lines until the pipe closes.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  filter_lines(sys.stdin.buffer, sys.stdout.buffer,
               compile_patterns(sys.argv[1:]))
