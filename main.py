r"""Trains CURL-SAC on one DeepMind Control task from pixels, or evaluates it.

  python main.py --config=configs/cartpole_swingup.py --workdir=/tmp/curl
  python main.py --config=configs/smoke.py --workdir=/tmp/smoke \
      --config.seed=2
  python main.py --mode=eval --workdir=/tmp/curl --num_episodes=10 \
      --video_path=/tmp/curl/eval.mp4

`--mode=eval` runs the policy a training run exported to WORKDIR/policy; it
carries its own settings, so it takes no --config.

Bad input (an unknown task or config field, a bad value, a missing config
file or flag, an unusable workdir) ends the run before any work with exit
code 2 and one line on stderr, `curl_tf: error: ...`; the workdir is then not
created.
"""

import os
import sys
from typing import List, NoReturn

# dm_control chooses its OpenGL backend when it is first imported; EGL renders
# headless. Set before any import that may pull dm_control in.
os.environ.setdefault('MUJOCO_GL', 'egl')

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
from ml_collections import config_flags

from curl_tf import config_lib
from curl_tf import console
from curl_tf import estimates
# pylint: enable=g-import-not-at-top,wrong-import-position

_MODE = flags.DEFINE_enum(
    'mode', 'train', ['train', 'eval'],
    'train: train and evaluate (needs --config and --workdir). eval: run the '
    'policy exported to WORKDIR/policy (needs --workdir only).')
_CONFIG = config_flags.DEFINE_config_file(
    'config', None,
    'Config file, e.g. configs/walker_walk.py; override fields with '
    '--config.<field>=<value>.',
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    'workdir', None,
    'Directory for checkpoints, logs and evaluation results; created if '
    'missing (train), read (eval).')
_TPU = flags.DEFINE_string(
    'tpu', None, "train with --config.strategy=tpu: the TPU's name or "
    "grpc://host:port ('local' on a TPU VM).")
_NUM_EPISODES = flags.DEFINE_integer(
    'num_episodes', 10, 'eval: episodes to run.', lower_bound=1)
# dm_control seeds a numpy RandomState, which takes [0, 2**32).
_SEED = flags.DEFINE_integer(
    'seed', None, "eval: the evaluation environment's seed (default: the "
    "training run's evaluation seed, config.seed + 10,000).",
    lower_bound=0, upper_bound=2**32 - 1)
_VIDEO_PATH = flags.DEFINE_string(
    'video_path', None, 'eval: where to write the video of the first episode, '
    '.mp4 or .gif (default: WORKDIR/videos/eval_<env step>.mp4).')

# The flags each mode needs, and those only one mode reads: a flag the mode
# ignores would silently not do what the user asked.
_REQUIRED_FLAGS = {'train': ('config', 'workdir'), 'eval': ('workdir',)}
_MODE_OF_FLAG = {'config': 'train', 'tpu': 'train', 'num_episodes': 'eval',
                 'seed': 'eval', 'video_path': 'eval'}

_ERROR_PREFIX = 'curl_tf: error: '
# Exit code for bad input (argparse's convention for usage errors).
_USAGE_EXIT_CODE = 2


def _fail(message: str) -> NoReturn:
  print(_ERROR_PREFIX + message, file=sys.stderr)
  sys.exit(_USAGE_EXIT_CODE)


def _parse_flags(argv: List[str]) -> List[str]:
  """Parses flags and loads the config; on bad input, one line and exit."""
  try:
    remaining = flags.FLAGS(argv)
    mode = _MODE.value
    for name in _REQUIRED_FLAGS[mode]:
      if not flags.FLAGS[name].present:
        raise config_lib.ConfigError(f'flag --{name} is required with '
                                     f'--mode={mode}')
    for name, only_mode in _MODE_OF_FLAG.items():
      if flags.FLAGS[name].present and only_mode != mode:
        raise config_lib.ConfigError(f'flag --{name} is only read with '
                                     f'--mode={only_mode}')
    if mode == 'train':
      config_lib.check_loaded_config(_CONFIG.value, argv)
      if (_CONFIG.value.get('strategy') == 'tpu') != bool(_TPU.value):
        raise config_lib.ConfigError(
            '--config.strategy=tpu and --tpu=ADDRESS go together')
  except config_lib.ConfigError as e:
    _fail(str(e))
  except Exception as e:  # pylint: disable=broad-except
    # Anything raised here comes from the command line or the config file;
    # config files run arbitrary code, so any exception type can come out.
    _fail(config_lib.describe_config_load_error(e, argv))
  return remaining


def main(argv: List[str]) -> None:
  if len(argv) > 1:
    _fail(f'unexpected arguments: {" ".join(argv[1:])}')
  train = _MODE.value == 'train'
  try:
    # Listing dm_control's tasks imports it, and it logs INFO lines on
    # import: keep a failure to one line on stderr.
    with console.quiet_libraries():
      if train:
        config = _CONFIG.value
        config_lib.validate_config(config)
        workdir = config_lib.prepare_workdir(_WORKDIR.value)
      else:
        workdir = config_lib.existing_workdir(_WORKDIR.value)
  except config_lib.ConfigError as e:
    _fail(str(e))
  if train:
    print(config_lib.describe_budget(config), flush=True)
    print(estimates.describe_estimate(config), flush=True)
  # TensorFlow is imported only now, since bad input should fail at once and
  # the import takes seconds; through the console's filter, so that the run's
  # first lines are ours.
  console.quiet_imports('curl_tf.train_lib' if train else 'curl_tf.eval_lib')
  # pylint: disable=g-import-not-at-top
  try:
    if train:
      from curl_tf import train_lib
      train_lib.train_and_evaluate(config, workdir, tpu_address=_TPU.value)
    else:
      from curl_tf import eval_lib
      eval_lib.print_summary(eval_lib.evaluate_saved_policy(
          workdir, num_episodes=_NUM_EPISODES.value, seed=_SEED.value,
          video_path=_VIDEO_PATH.value))
  except config_lib.ConfigError as e:
    _fail(str(e))
  # pylint: enable=g-import-not-at-top


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
