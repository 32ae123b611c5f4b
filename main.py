r"""Trains and evaluates CURL-SAC on one DeepMind Control task from pixels.

  python main.py --config=configs/cartpole_swingup.py --workdir=/tmp/curl
  python main.py --config=configs/smoke.py --workdir=/tmp/smoke \
      --config.seed=2

Bad input (an unknown task or config field, a bad value, a missing config
file, an unusable workdir) ends the run before any work with exit code 2 and
one line on stderr, `curl_tf: error: ...`; the workdir is then not created.
"""

import ast
import os
import re
import sys
from typing import List, NoReturn

# dm_control chooses its OpenGL backend when it is first imported; EGL renders
# headless. Set before any import that may pull dm_control in.
os.environ.setdefault('MUJOCO_GL', 'egl')

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
from absl import logging
import ml_collections
from ml_collections import config_flags

from curl_tf import config_lib
# pylint: enable=g-import-not-at-top,wrong-import-position

_CONFIG = config_flags.DEFINE_config_file(
    'config', None,
    'Config file, e.g. configs/walker_walk.py; override fields with '
    '--config.<field>=<value>.',
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    'workdir', None,
    'Directory for checkpoints, logs and evaluation results; created if '
    'missing.')
flags.mark_flags_as_required(['config', 'workdir'])

_ERROR_PREFIX = 'curl_tf: error: '
# Exit code for bad input (argparse's convention for usage errors).
_USAGE_EXIT_CODE = 2


def _fail(message: str) -> NoReturn:
  print(_ERROR_PREFIX + message, file=sys.stderr)
  sys.exit(_USAGE_EXIT_CODE)


def _one_line(message: str) -> str:
  """Folds a multi-line error message into one line, dropping tracebacks."""
  lines = [line.strip() for line in str(message).splitlines() if line.strip()]
  if not lines:
    return 'unknown error'
  if any(line.startswith('Traceback') for line in lines):
    # config_flags embeds the config file's traceback: keep the headline and
    # the exception itself.
    return f'{lines[0]} {lines[-1]}'
  return ' '.join(lines)


def _missing_config_file(argv: List[str]) -> str:
  """The --config path in `argv` if it is not a file, else ''."""
  # Read from argv: config_flags records the path only once the whole config
  # flag, overrides included, parsed without error.
  path = ''
  for i, arg in enumerate(argv):
    if arg.startswith('--config='):
      path = arg[len('--config='):]
    elif arg == '--config' and i + 1 < len(argv):
      path = argv[i + 1]
  path = path.split(':', 1)[0]  # 'file.py:arg' passes 'arg' to get_config.
  return path if path and not os.path.isfile(path) else ''


def _error_text(error: Exception) -> str:
  """str(error), unquoted when the exception holds a quoted string."""
  text = str(error)
  if len(text) > 1 and text[0] == text[-1] and text[0] in '"\'':
    # KeyError (and config_dict's AttributeError built from one) quotes its
    # message.
    try:
      unquoted = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      return text
    if isinstance(unquoted, str):
      return unquoted
  return text


def _config_error(error: Exception, argv: List[str]) -> str:
  """Describes an exception raised while loading or overriding the config."""
  missing = _missing_config_file(argv)
  if missing:
    return f'config file not found: {missing}'
  if isinstance(error, flags.Error):
    return _one_line(str(error))
  text = _error_text(error)
  if isinstance(error, (AttributeError, KeyError)):
    # A locked ConfigDict rejects an unknown field with the message
    # "'name'\nDid you mean ...?".
    name, _, hint = text.partition('\n')
    if re.fullmatch(r"'[\w.]+'", name):
      hint = _one_line(hint)
      return f'unknown config field {name}' + (f' ({hint})' if hint else '')
  return f'cannot load the config: {type(error).__name__}: {_one_line(text)}'


def _parse_flags(argv: List[str]) -> List[str]:
  """Parses flags and loads the config; on bad input, one line and exit."""
  try:
    remaining = flags.FLAGS(argv)
    config = _CONFIG.value
  except Exception as e:  # pylint: disable=broad-except
    # Anything raised here comes from the command line or the config file;
    # config files run arbitrary code, so any exception type can come out.
    _fail(_config_error(e, argv))
  if not isinstance(config, ml_collections.ConfigDict):
    # config_flags defers a failure to read the file until first use.
    missing = _missing_config_file(argv)
    _fail(f'config file not found: {missing}' if missing else
          f'--config did not give a ConfigDict (got {type(config).__name__})')
  return remaining


def main(argv: List[str]) -> None:
  if len(argv) > 1:
    _fail(f'unexpected arguments: {" ".join(argv[1:])}')
  config = _CONFIG.value
  # Listing dm_control's tasks imports it, and it logs INFO lines on import:
  # keep a failure to one line on stderr.
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.WARNING)
  try:
    config_lib.validate_config(config)
    workdir = config_lib.prepare_workdir(_WORKDIR.value)
  except config_lib.ConfigError as e:
    _fail(str(e))
  finally:
    logging.set_verbosity(verbosity)
  print(config_lib.describe_budget(config), flush=True)
  # Imported only now: TensorFlow takes seconds to import, and bad input
  # should fail at once.
  from curl_tf import train_lib  # pylint: disable=g-import-not-at-top
  try:
    train_lib.train_and_evaluate(config, workdir)
  except config_lib.ConfigError as e:
    _fail(str(e))


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
