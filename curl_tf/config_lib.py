"""Checks a config and a workdir before training, and converts step units.

Everything here is cheap and imports neither TensorFlow nor a renderer, so
`main.py` can reject bad input in a fraction of a second, with one line.

Units: the paper's tables and the config count environment steps
(`*_env_steps`); the train loop counts agent steps, one per action, each worth
`action_repeat` environment steps.
"""

import ast
import difflib
import json
import math
import numbers
import os
import re
import runpy
import tempfile
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from absl import flags
import ml_collections

# dm_control chooses its OpenGL backend when it is first imported (here, to
# list the suite's tasks); EGL renders headless. Same default as envs/dmc.py.
os.environ.setdefault('MUJOCO_GL', 'egl')


class ConfigError(ValueError):
  """Bad user input: a config value or a workdir. The message is one line."""


# --- Step units -------------------------------------------------------------


def env_to_agent_steps(env_steps: int, action_repeat: int) -> int:
  """Agent steps that fit in `env_steps` environment steps (rounded down)."""
  return env_steps // action_repeat


def agent_to_env_steps(agent_steps: int, action_repeat: int) -> int:
  """Environment steps taken by `agent_steps` agent steps."""
  return agent_steps * action_repeat


def num_agent_steps(config: ml_collections.ConfigDict) -> int:
  """The training budget, `config.num_env_steps`, in agent steps."""
  return env_to_agent_steps(config.num_env_steps, config.action_repeat)


def describe_budget(config: ml_collections.ConfigDict) -> str:
  """One line stating the run's budget and schedule in both step units."""
  ar = config.action_repeat
  if config.agent == 'rainbow':
    return (
        f'Atari {config.game}: {config.num_env_steps} frames = '
        f'{num_agent_steps(config)} agent steps (frame skip {ar}); updates '
        f'from agent step {config.learning_starts_agent_steps}; '
        f'{config.num_eval_episodes} eval games every '
        f'{config.eval_every_env_steps} frames '
        f'({env_to_agent_steps(config.eval_every_env_steps, ar)} agent steps)')
  return (
      f'{config.domain_name} {config.task_name}: {config.num_env_steps} env '
      f'steps = {num_agent_steps(config)} agent steps (action repeat {ar}); '
      f'{config.num_random_agent_steps} random agent steps first; '
      f'{config.num_eval_episodes} eval episodes every '
      f'{config.eval_every_env_steps} env steps '
      f'({env_to_agent_steps(config.eval_every_env_steps, ar)} agent steps)')


# --- Tasks --------------------------------------------------------------------


def suite_tasks() -> Tuple[Tuple[str, str], ...]:
  """The dm_control suite's (domain, task) pairs, without building any env.

  Lives here rather than in envs/dmc.py because that imports TF-Agents (and so
  TensorFlow), which takes seconds; dm_control.suite alone does not.
  """
  from dm_control import suite  # pylint: disable=g-import-not-at-top
  return tuple(suite.ALL_TASKS)


def _check_task(domain: str, task: str) -> None:
  tasks = suite_tasks()
  if (domain, task) in tasks:
    return
  pair = f'({domain!r}, {task!r})'
  domains = sorted({d for d, _ in tasks})
  if domain in domains:
    domain_tasks = ', '.join(sorted(t for d, t in tasks if d == domain))
    raise ConfigError(f'unknown dm_control task {pair}: domain {domain!r} has '
                      f'tasks {domain_tasks}')
  close = difflib.get_close_matches(domain, domains, n=1)
  hint = f'did you mean {close[0]!r}? ' if close else ''
  raise ConfigError(f'unknown dm_control task {pair}: no domain {domain!r} '
                    f'({hint}domains: {", ".join(domains)})')


# --- Field checks -------------------------------------------------------------

# A check returns None when the value is fine, else what it should be.
_Check = Callable[[Any], Optional[str]]


def _is_int(value: Any) -> bool:
  # bool is an int subclass; True is not a batch size.
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
  return (isinstance(value, numbers.Real) and not isinstance(value, bool) and
          math.isfinite(value))


def _positive_int(value):
  return None if _is_int(value) and value > 0 else 'a positive integer'


def _non_negative_int(value):
  return None if _is_int(value) and value >= 0 else 'a non-negative integer'


def _seed(value):
  # np.random.RandomState (dm_control's task seed) takes [0, 2**32); below
  # 2**31 leaves room for offsets such as the evaluation environment's.
  ok = _is_int(value) and 0 <= value < 2**31
  return None if ok else 'an integer in [0, 2**31)'


def _camera(value):
  # dm_control: -1 is the free camera, 0.. the model's cameras.
  return None if _is_int(value) and value >= -1 else 'an integer >= -1'


def _name(value):
  return None if isinstance(value, str) and value else 'a non-empty string'


def _one_of(*choices: str) -> _Check:
  def check(value):
    return None if value in choices else f'one of {", ".join(choices)}'
  return check


def _positive(value):
  return None if _is_real(value) and value > 0 else 'a positive number'


def _non_negative(value):
  return None if _is_real(value) and value >= 0 else 'a number >= 0'


def _finite(value):
  return None if _is_real(value) else 'a finite number'


def _in_interval(low: float, high: float, closed_low: bool,
                 closed_high: bool) -> _Check:
  text = (('[' if closed_low else '(') + f'{low}, {high}' +
          (']' if closed_high else ')'))
  def check(value):
    if not _is_real(value):
      return f'a number in {text}'
    above = value >= low if closed_low else value > low
    below = value <= high if closed_high else value < high
    return None if above and below else f'a number in {text}'
  return check


def _none_or(check: _Check) -> _Check:
  def none_or_check(value):
    expected = None if value is None else check(value)
    return None if expected is None else f'None or {expected}'
  return none_or_check


def _bool(value):
  return None if isinstance(value, bool) else 'True or False'


# The fields every agent's config has (the training loop's) and what each
# must be.
_LOOP_CHECKS = {
    'agent': _one_of('sac', 'rainbow'),
    'action_repeat': _positive_int,
    'num_env_steps': _positive_int,
    'num_random_agent_steps': _non_negative_int,
    'eval_every_env_steps': _positive_int,
    'num_eval_episodes': _positive_int,
    'log_every_env_steps': _positive_int,
    'checkpoint_every_env_steps': _positive_int,
    'replay_capacity': _positive_int,
    'batch_size': _positive_int,
    'prefetch_batches': _positive_int,
    'hidden_units': _positive_int,
    'discount': _in_interval(0.0, 1.0, True, True),
    'precision': _one_of('float32', 'mixed_bfloat16', 'mixed_float16',
                         'auto'),
    'strategy': _one_of('auto', 'default', 'mirrored', 'tpu'),
    'seed': _seed,
}

# CURL-SAC's own fields: the rest of configs/default.py. A test keeps the two
# in step.
_SAC_CHECKS = {
    'observation': _one_of('pixels', 'states'),
    'domain_name': _name,
    'task_name': _name,
    'frame_stack': _positive_int,
    'image_size': _positive_int,
    'crop_size': _positive_int,
    'camera_id': _camera,
    'num_conv_layers': _positive_int,
    'num_filters': _positive_int,
    'feature_dim': _positive_int,
    'encoder_head': _one_of('linear', 'mlp'),
    'log_std_min': _finite,
    'log_std_max': _finite,
    'init_temperature': _positive,
    'critic_lr': _positive,
    'actor_lr': _positive,
    'encoder_lr': _positive,
    'alpha_lr': _positive,
    'beta1': _in_interval(0.0, 1.0, True, False),
    'alpha_beta1': _in_interval(0.0, 1.0, True, False),
    'critic_tau': _in_interval(0.0, 1.0, False, True),
    'encoder_tau': _in_interval(0.0, 1.0, False, True),
    'critic_target_update_freq': _positive_int,
    'actor_update_freq': _positive_int,
    'update_mode': _one_of('joint', 'sequential', 'official'),
    'similarity': _one_of('bilinear', 'cosine'),
    'curl_temperature': _positive,
    'key_encoder': _one_of('momentum', 'query'),
    'curl_coef': _non_negative,
    'jit_compile': _bool,
}

# CURL-Rainbow's own fields: the rest of configs/atari/default.py. A test
# keeps the two in step.
_RAINBOW_CHECKS = {
    'game': _name,
    'noop_max': _positive_int,
    'max_episode_frames': _positive_int,
    'frame_size': _positive_int,
    'history': _positive_int,
    'learning_starts_agent_steps': _non_negative_int,
    'eval_epsilon': _in_interval(0.0, 1.0, True, True),
    'noisy_sigma0': _non_negative,
    'num_atoms': _positive_int,
    'v_min': _finite,
    'v_max': _finite,
    'multi_step': _positive_int,
    'target_update_period': _positive_int,
    'learning_rate': _positive,
    'adam_epsilon': _positive,
    'max_gradient_norm': _positive,
    'priority_exponent': _in_interval(0.0, 1.0, True, True),
    'is_exponent_start': _in_interval(0.0, 1.0, True, True),
    'curl_coef': _none_or(_non_negative),
    'curl_momentum': _in_interval(0.0, 1.0, True, False),
    'curl_code_units': _positive_int,
    'curl_logit_scale': _positive,
    'shift_pad': _non_negative_int,
}

_AGENT_CHECKS = {
    'sac': {**_LOOP_CHECKS, **_SAC_CHECKS},
    'rainbow': {**_LOOP_CHECKS, **_RAINBOW_CHECKS},
}

# Configs counted in environment steps; the loop counts agent steps, so these
# must be whole agent steps or the reported budget would not be the one run.
_ENV_STEP_FIELDS = ('num_env_steps', 'eval_every_env_steps',
                    'log_every_env_steps', 'checkpoint_every_env_steps')


def field_names(agent: str = 'sac') -> Sequence[str]:
  """The fields of an agent's configs (configs/default.py for 'sac',
  configs/atari/default.py for 'rainbow')."""
  return tuple(_AGENT_CHECKS[agent])


def _conv_output_size(crop_size: int, num_conv_layers: int) -> int:
  # The official encoder: 3x3 VALID convolutions, stride 2 first then 1.
  return (crop_size - 3) // 2 + 1 - 2 * (num_conv_layers - 1)


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming the first bad field of `config`.

  Args:
    config: a full config, as configs/default.py (CURL-SAC) or
      configs/atari/default.py (CURL-Rainbow) builds it.

  Raises:
    ConfigError: a field is missing, unknown or has a bad value, or the
      (domain_name, task_name) pair is not a dm_control suite task.
  """
  present = set(config.keys())
  if 'agent' not in present:
    raise ConfigError('config is missing field(s) agent')
  agent = config.agent
  if agent not in _AGENT_CHECKS:
    raise ConfigError(f'config.agent must be {_LOOP_CHECKS["agent"](agent)}'
                      f', got {agent!r}')
  checks = _AGENT_CHECKS[agent]
  missing = [name for name in checks if name not in present]
  if missing:
    raise ConfigError(f'config is missing field(s) {", ".join(missing)}')
  unknown = sorted(present - set(checks))
  if unknown:
    raise ConfigError(f'unknown config field(s) {", ".join(unknown)}')
  for name, check in checks.items():
    value = config[name]
    expected = check(value)
    if expected is not None:
      raise ConfigError(f'config.{name} must be {expected}, got {value!r}')
  _validate_loop(config)
  if agent == 'sac':
    _validate_sac(config)
  else:
    _validate_rainbow(config)


def _validate_loop(config: ml_collections.ConfigDict) -> None:
  """The checks across the loop's fields."""
  if config.batch_size > config.replay_capacity:
    raise ConfigError(f'config.batch_size ({config.batch_size}) exceeds '
                      f'config.replay_capacity ({config.replay_capacity})')
  for name in _ENV_STEP_FIELDS:
    if config[name] % config.action_repeat:
      raise ConfigError(
          f'config.{name} ({config[name]}) must be a multiple of '
          f'config.action_repeat ({config.action_repeat}): env steps are '
          'counted in whole agent steps')
  if config.num_random_agent_steps >= num_agent_steps(config):
    raise ConfigError(
        f'config.num_random_agent_steps ({config.num_random_agent_steps}) '
        f'leaves no learning in the budget of {num_agent_steps(config)} agent '
        f'steps (num_env_steps={config.num_env_steps})')


def _validate_rainbow(config: ml_collections.ConfigDict) -> None:
  """CURL-Rainbow's checks across fields; the game must be an ale-py ROM."""
  if config.v_min >= config.v_max:
    raise ConfigError(f'config.v_min ({config.v_min}) must be below '
                      f'config.v_max ({config.v_max})')
  if config.learning_starts_agent_steps >= num_agent_steps(config):
    raise ConfigError(
        f'config.learning_starts_agent_steps '
        f'({config.learning_starts_agent_steps}) leaves no learning in the '
        f'budget of {num_agent_steps(config)} agent steps')
  if config.action_repeat < 2:
    raise ConfigError('config.action_repeat (the frame skip) must be at least '
                      f'2: frames are max-pooled over the last two, got '
                      f'{config.action_repeat}')
  # The one-process, float32 learner is what exists for Rainbow.
  if config.precision != 'float32' or config.strategy != 'default':
    raise ConfigError(
        'the Rainbow agent runs in float32 on one device: config.precision '
        f'must be float32 and config.strategy default, got '
        f'{config.precision!r} and {config.strategy!r}')
  from ale_py import roms  # pylint: disable=g-import-not-at-top
  if config.game not in roms.get_all_rom_ids():
    raise ConfigError(f'config.game {config.game!r} is not an Atari game '
                      'ale-py has a ROM for (e.g. ms_pacman, pong)')


def _validate_sac(config: ml_collections.ConfigDict) -> None:
  """CURL-SAC's checks across fields; the task must be a suite task."""
  if config.observation == 'states':
    # No frames and no encoder: the fields that would silently do nothing
    # are refused instead.
    if config.frame_stack != 1:
      raise ConfigError(
          f'config.observation=states stacks no frames: config.frame_stack '
          f'must be 1, got {config.frame_stack}')
    if config.curl_coef != 0:
      raise ConfigError(
          f'config.observation=states has no encoder to train contrastively: '
          f'config.curl_coef must be 0, got {config.curl_coef}')
  elif config.crop_size >= config.image_size:
    raise ConfigError(f'config.crop_size ({config.crop_size}) must be smaller '
                      f'than config.image_size ({config.image_size})')
  if (config.observation == 'pixels' and
      _conv_output_size(config.crop_size, config.num_conv_layers) < 1):
    raise ConfigError(f'config.num_conv_layers ({config.num_conv_layers}) '
                      f'leaves no pixels of a {config.crop_size}-pixel crop')
  if config.log_std_min >= config.log_std_max:
    raise ConfigError(f'config.log_std_min ({config.log_std_min}) must be '
                      f'below config.log_std_max ({config.log_std_max})')
  if config.update_mode == 'joint' and config.encoder_lr != config.critic_lr:
    # Joint mode takes one Adam step on critic + contrastive losses, so the
    # encoder has one learning rate (Table 3 uses the same for both).
    raise ConfigError(
        f'config.update_mode=joint uses one learning rate for the encoder: '
        f'config.encoder_lr ({config.encoder_lr}) must equal '
        f'config.critic_lr ({config.critic_lr}), or use update_mode=sequential')
  _check_task(config.domain_name, config.task_name)


# --- Files --------------------------------------------------------------------

# Fields a resumed run may change: how long it runs (to extend a finished run)
# and how often it reports. Every other field defines the experiment.
RESUMABLE_CHANGES = ('num_env_steps', 'eval_every_env_steps',
                     'num_eval_episodes', 'log_every_env_steps',
                     'checkpoint_every_env_steps',
                     # Where the learner runs: a run may move machines.
                     'strategy')
# Fields added after runs had started, with the behaviour those runs had,
# where today's default differs from it: a run that predates `precision` ran
# in float32, though the default is now 'auto'; one that predates `agent` was
# a CURL-SAC run.
FIELDS_ADDED_LATER = {'precision': 'float32', 'agent': 'sac'}
RUN_CONFIG_FILE = 'config.json'
_DEFAULT_CONFIG_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs',
    'default.py')


def fill_fields_added_later(saved: Dict[str, Any]) -> Dict[str, Any]:
  """A run's recorded config with the fields added after it started.

  A field added to configs/default.py after the run started is absent from
  its config.json: the run did what the field's first default describes
  (FIELDS_ADDED_LATER), or else what its default describes.

  Args:
    saved: the run's config.json, as a dict.

  Returns:
    A copy with every missing field of configs/default.py filled (a
    CURL-SAC run's; CURL-Rainbow's configs have had all their fields from
    the start).
  """
  filled = dict(saved)
  if saved.get('agent') == 'rainbow':
    # Rainbow runs started with every field they have today.
    return filled
  defaults = load_config_file(_DEFAULT_CONFIG_FILE).to_dict()
  defaults.update(FIELDS_ADDED_LATER)
  for name, value in defaults.items():
    filled.setdefault(name, value)
  return filled


def save_or_check_run_config(config: ml_collections.ConfigDict,
                             workdir: str) -> bool:
  """Records the config in WORKDIR/config.json, or checks it against it.

  Args:
    config: the run's validated config.
    workdir: the run's workdir (it exists).

  Returns:
    True if the workdir already held a run's config (a resume).

  Raises:
    ConfigError: the saved config is unreadable, or differs in a field
      outside RESUMABLE_CHANGES (the message names each field).
  """
  path = os.path.join(workdir, RUN_CONFIG_FILE)
  current = config.to_dict()
  existed = os.path.exists(path)
  if existed:
    try:
      with open(path) as f:
        saved = json.load(f)
    except (OSError, ValueError) as e:
      raise ConfigError(f'cannot read {path}: {e}') from None
    missing = object()
    saved = fill_fields_added_later(saved)
    differing = [
        f'{name} ({saved.get(name, "absent")!r} in the workdir, '
        f'{current.get(name, "absent")!r} now)'
        for name in sorted(set(saved) | set(current))
        if name not in RESUMABLE_CHANGES and
        saved.get(name, missing) != current.get(name, missing)]
    if differing:
      raise ConfigError(
          f'workdir {workdir} holds a run with another config: '
          f'{"; ".join(differing)}. Use a new workdir, or these settings')
    if saved == current:
      return True
  # The first start, or a resume that changed the budget or a cadence: the
  # file describes the run as it goes on.
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(current, f, indent=1, sort_keys=True)
  os.replace(tmp, path)
  return existed



def load_config_file(path: str) -> ml_collections.ConfigDict:
  """Runs a config file's get_config(), e.g. from a notebook.

  main.py loads config files through ml_collections' config_flags instead.

  Args:
    path: a Python file defining get_config(), e.g. 'configs/walker_walk.py'.

  Returns:
    The (unlocked) config.
  """
  return runpy.run_path(path)['get_config']()


def prepare_workdir(workdir: str) -> str:
  """Creates `workdir` (and missing parents) and checks it is writable.

  On failure nothing is left behind: directories this call created are
  removed again, and the probe file never outlives the check.

  Args:
    workdir: directory for checkpoints, logs and results.

  Returns:
    The absolute path of the workdir.

  Raises:
    ConfigError: the directory cannot be created or written to.
  """
  if not workdir:
    raise ConfigError('workdir must be a non-empty path')
  path = os.path.abspath(os.path.expanduser(workdir))
  if os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(f'workdir {path!r} exists and is not a directory')

  to_create = []
  parent = path
  while not os.path.exists(parent):
    to_create.append(parent)
    parent = os.path.dirname(parent)
  created = []

  def undo():
    for directory in reversed(created):
      try:
        os.rmdir(directory)
      except OSError:
        pass  # Someone else put something there; it is not ours to delete.

  try:
    for directory in reversed(to_create):
      os.mkdir(directory)
      created.append(directory)
  except OSError as e:
    undo()
    raise ConfigError(f'cannot create workdir {path!r}: {e.strerror} '
                      f'({e.filename})') from None
  try:
    with tempfile.NamedTemporaryFile(dir=path, prefix='.write_probe_') as f:
      f.write(b'ok')
      f.flush()
  except OSError as e:
    undo()
    raise ConfigError(f'workdir {path!r} is not writable: {e.strerror}'
                      ) from None
  return path


# --- Command-line errors ------------------------------------------------------
# main.py loads the config with ml_collections' config_flags. What goes wrong
# there comes out as exceptions of many types, some with multi-line messages
# or the config file's own traceback; these functions turn each into the one
# line main.py prints.


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


def missing_config_file(argv: Sequence[str]) -> str:
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


def describe_config_load_error(error: Exception, argv: Sequence[str]) -> str:
  """One line describing an error raised while parsing flags or the config.

  Args:
    error: what parsing the command line, or loading and overriding the
      config file, raised. Config files run arbitrary code, so it may be of
      any type.
    argv: the command line, program name first.

  Returns:
    The message, without the `curl_tf: error:` prefix.
  """
  missing = missing_config_file(argv)
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
      # With no close name, config_dict's hint is the bare 'unknown error'.
      if hint == 'unknown error':
        hint = ''
      return f'unknown config field {name}' + (f' ({hint})' if hint else '')
  return f'cannot load the config: {type(error).__name__}: {_one_line(text)}'


def check_loaded_config(config: Any, argv: Sequence[str]) -> None:
  """Raises ConfigError unless --config gave a ConfigDict.

  Args:
    config: the --config flag's value, read after parsing `argv`.
    argv: the command line, program name first.

  Raises:
    ConfigError: the config file is missing (config_flags defers a failure to
      read it until the value is first read) or get_config() returned
      something else than a ConfigDict.
  """
  if isinstance(config, ml_collections.ConfigDict):
    return
  missing = missing_config_file(argv)
  if missing:
    raise ConfigError(f'config file not found: {missing}')
  raise ConfigError(
      f'--config did not give a ConfigDict (got {type(config).__name__})')


def existing_workdir(workdir: str) -> str:
  """The absolute path of `workdir`, which a finished run must have made.

  Args:
    workdir: the directory a training run wrote (e.g. for --mode=eval).

  Returns:
    Its absolute path.

  Raises:
    ConfigError: it does not exist or is not a directory.
  """
  if not workdir:
    raise ConfigError('workdir must be a non-empty path')
  path = os.path.abspath(os.path.expanduser(workdir))
  if not os.path.exists(path):
    raise ConfigError(f'workdir {path!r} does not exist')
  if not os.path.isdir(path):
    raise ConfigError(f'workdir {path!r} exists and is not a directory')
  return path
