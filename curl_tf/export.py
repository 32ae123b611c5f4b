"""Exports the agent's policies as SavedModels that load without curl_tf.

`export_policies` writes, with TF-Agents' `PolicySaver`:

  WORKDIR/policy/           the greedy policy (tanh of the actor's mean), what
                            evaluation runs
  WORKDIR/collect_policy/   the stochastic policy (a sample of the actor's
                            tanh-Gaussian), what collection runs

Each directory holds the SavedModel (saved_model.pb, variables/,
fingerprint.pb, PolicySaver's policy_specs.pbtxt) and `policy_info.json`: the
task, the observation and action specs, the env step and evaluated return at
export time, the config seed and the export time (see `policy_info` and
`export_policies`).

Using an exported policy
------------------------
Loading needs TensorFlow only (not curl_tf, TF-Agents or TFP):

  policy = tf.saved_model.load('WORKDIR/policy')
  action = policy.action(time_step).action   # float32 [B, *action_shape]

`time_step` is a batch of B TF-Agents time steps: a namedtuple called
`TimeStep` with fields, in this order,

  step_type    int32 [B]    0 first step of an episode, 1 mid, 2 last
  reward       float32 [B]  reward of the step that led here
  discount     float32 [B]  1.0 except at a termination
  observation  uint8 [B, image_size, image_size, 3 * frame_stack], the env's
               raw stacked frames, oldest frame first (float32 [B, D], the
               flattened proprioceptive state, for observation='states')

With TF-Agents: `tf_agents.trajectories.time_step.restart(obs, batch_size=B)`
(or `transition(obs, reward, discount)`). Without it:
`collections.namedtuple('TimeStep', 'step_type reward discount observation')`,
since the SavedModel matches the structure by that name and those fields. The
policies are stateless and read only `observation`, but the other fields must
be there with these dtypes and shapes. The flat signature takes the same
tensors by name: `policy.signatures['action'](**{'0/step_type': ...,
'0/reward': ..., '0/discount': ..., '0/observation': ...})['action']`.

The observation is the full 100x100 render (at the default config), not the
84x84 crop: the encoder's centre crop (`networks.ConvTrunk`) is part of the
saved graph, as at evaluation time in training.

Why only TensorFlow is needed: `PolicySaver` also saves a `distribution`
function whose outputs are TFP and TF-Agents distribution objects; a
SavedModel holding it only loads in a process that has imported (registered)
those types. We leave that function out: `action` is all a deployed policy
uses, and the in-process agent still has the distributions.

Crash safety
------------
A crash at any moment (an exception, a kill, the machine losing power) never
leaves a half-written model at WORKDIR/policy or WORKDIR/collect_policy. An
export

  1. saves each policy into a fresh temp dir `WORKDIR/.NAME.tmp-XXXX` (same
     file system, so the renames below are atomic) and writes its
     policy_info.json there, so model and info are swapped together; every
     file is fsynced;
  2. for each NAME: renames NAME -> NAME.old, renames the temp dir -> NAME;
  3. fsyncs WORKDIR and deletes the NAME.old dirs.

Where a crash can leave things, and what the recovery step (`_recover`, at
the start of every export and every `load_policy`) does:

  * during 1: NAME is untouched; the temp dirs are junk, deleted by the next
    export;
  * between the two renames of 2: NAME is missing and NAME.old is the
    previous complete export: recovery renames it back;
  * after 2 (NAME.old maybe partly deleted): NAME is the new complete export;
    recovery deletes what is left of NAME.old. NAME.old is only ever deleted
    while NAME exists, so a partly deleted NAME.old is never restored.

Steps 2-3, the recovery and `load_policy`'s read hold an exclusive `flock` on
WORKDIR/.export.lock, so an evaluation process can load while training
exports into the same workdir: it never sees NAME missing, never "recovers"
in the middle of a swap, and never has NAME deleted under it. (The lock dies
with its process, so a crash leaves no stale lock.) One training process per
workdir: two exporters into one workdir would delete each other's temp dirs.
The two policies are swapped one after the other under one lock hold: a
crash between the swaps leaves a new `policy` beside an old `collect_policy`,
which their policy_info.json env_step tells apart.
"""

import contextlib
import datetime
import fcntl
import glob
import json
import os
import shutil
import tempfile
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.policies import policy_saver

from curl_tf import config_lib
from curl_tf import console
from curl_tf import precision

# Directory names inside the workdir, and the info file inside each.
POLICY_DIR = 'policy'
COLLECT_POLICY_DIR = 'collect_policy'
INFO_FILE = 'policy_info.json'
# Bumped when policy_info.json changes incompatibly.
INFO_FORMAT_VERSION = 1

_OLD_SUFFIX = '.old'
_LOCK_FILE = '.export.lock'


def _temp_prefix(name: str) -> str:
  return f'.{name}.tmp-'


# What rebuilds an agent's environment, by agent: policy_info records these
# and eval_lib makes the environment from them.
ENV_FIELDS = {
    'sac': ('observation', 'domain_name', 'task_name', 'action_repeat',
            'frame_stack', 'image_size', 'crop_size', 'camera_id'),
    'rainbow': ('game', 'action_repeat', 'noop_max', 'max_episode_frames',
                'frame_size', 'history'),
}


def policy_info(config, env_step: int,
                eval_return: Optional[float]) -> Dict[str, Any]:
  """What `export_policies` records about the run, from the config.

  Args:
    config: the run's ConfigDict (configs/default.py or
      configs/atari/default.py documents the fields).
    env_step: environment steps trained when the policy is exported.
    eval_return: mean evaluated return at `env_step`, or None if there was
      no evaluation.

  Returns:
    A JSON-serialisable dict: the agent, the task and how its observations
    are made (ENV_FIELDS of the agent: for CURL-SAC observation,
    domain_name, task_name, action_repeat, frame_stack, image_size,
    crop_size, camera_id), seed, precision, env_step and eval_return_mean.
    `export_policies` adds the specs and the export time.
  """
  agent = config.get('agent', 'sac')
  info = {'agent': agent}
  info.update({name: config[name] for name in ENV_FIELDS[agent]})
  info.update(
      seed=int(config.seed),
      # What the layers computed in ('auto' resolved on the training host).
      precision=precision.resolve(config.precision),
      env_step=int(env_step),
      eval_return_mean=None if eval_return is None else float(eval_return))
  return info


def _spec_info(policy) -> Dict[str, Any]:
  """The observation and action specs the saved `action` function takes."""
  observation = policy.time_step_spec.observation
  action = policy.action_spec
  shape = tuple(action.shape.as_list())
  # Bounds may be scalars in the spec; written out per action dimension.
  minimum = np.broadcast_to(np.asarray(action.minimum, np.float64), shape)
  maximum = np.broadcast_to(np.asarray(action.maximum, np.float64), shape)
  return {
      'observation_shape': observation.shape.as_list(),
      'observation_dtype': observation.dtype.name,
      'action_shape': list(shape),
      'action_dtype': action.dtype.name,
      'action_minimum': minimum.tolist(),
      'action_maximum': maximum.tolist(),
  }


@contextlib.contextmanager
def _workdir_lock(workdir: str, create: bool = True) -> Iterator[bool]:
  """Holds an exclusive flock on WORKDIR/.export.lock; yields whether held.

  Args:
    workdir: the directory holding the exports.
    create: create the lock file if missing (exports). Loads pass False, so
      that loading from a directory writes nothing to it: without the file
      no export ever started there, so there is nothing to recover, and they
      go on without the lock.
  """
  path = os.path.join(workdir, _LOCK_FILE)
  try:
    # flock needs no write access: a read-only copy of a workdir still locks.
    fd = (os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if create
          else os.open(path, os.O_RDONLY))
  except OSError:
    if create:
      raise
    yield False
    return
  try:
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield True
  finally:
    os.close(fd)  # Also releases the flock.


def _fsync_path(path: str) -> None:
  fd = os.open(path, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def _fsync_tree(root: str) -> None:
  """fsyncs every file and directory under `root` (TF does not)."""
  for directory, _, files in os.walk(root):
    for name in files:
      _fsync_path(os.path.join(directory, name))
    _fsync_path(directory)


def _recover(workdir: str, name: str) -> None:
  """Finishes or undoes a swap a crash interrupted; call under the lock."""
  path = os.path.join(workdir, name)
  old = path + _OLD_SUFFIX
  if not os.path.exists(old):
    return
  if os.path.exists(path):
    # The new export is in place; only the old one's deletion was cut short.
    shutil.rmtree(old)
  else:
    # Crashed between the two renames: the old export is the complete one.
    os.rename(old, path)


def _make_temp_dir(workdir: str, name: str) -> str:
  temp_dir = tempfile.mkdtemp(prefix=_temp_prefix(name), dir=workdir)
  # mkdtemp makes it private (0700); the export is for others to load too.
  os.chmod(temp_dir, 0o755)
  return temp_dir


def _save(policy, train_step: tf.Variable, info: Dict[str, Any],
          temp_dir: str) -> None:
  """Saves `policy` and its info into `temp_dir`, all synced to disk."""
  # Without the SavedModel machinery's own lines at every evaluation.
  with console.quiet_libraries('error'):
    saver = policy_saver.PolicySaver(policy, batch_size=None,
                                     train_step=train_step)
    # Its outputs are TFP/TF-Agents distributions, which make a SavedModel
    # loadable only where those types are imported (see the module
    # docstring).
    del saver.policy.distribution
    saver.save(temp_dir)
  with open(os.path.join(temp_dir, INFO_FILE), 'w') as f:
    json.dump(info, f, indent=2, sort_keys=True)
    f.write('\n')
  _fsync_tree(temp_dir)


def _swap_in(temp_dir: str, workdir: str, name: str) -> None:
  """Puts `temp_dir` at WORKDIR/NAME, keeping the old one at NAME.old."""
  path = os.path.join(workdir, name)
  if os.path.exists(path):
    os.rename(path, path + _OLD_SUFFIX)
  os.rename(temp_dir, path)


def export_policies(agent, workdir: str, info: Dict[str, Any]) -> str:
  """Exports the greedy and collect policies, each replaced atomically.

  Args:
    agent: a `CurlSacAgent` (its `eval_policy` and `collect_policy`).
    workdir: existing directory; the exports go to WORKDIR/policy and
      WORKDIR/collect_policy.
    info: what to record in policy_info.json, usually `policy_info(config,
      env_step, eval_return)`. The specs (observation_shape and _dtype,
      action_shape, _dtype, _minimum and _maximum, taken from the policy),
      'policy' ('greedy' or 'collect'), 'train_step', 'export_time' (ISO
      8601, UTC) and 'format_version' are added.

  Returns:
    The path of the exported greedy policy, WORKDIR/policy.
  """
  workdir = os.path.abspath(workdir)
  with _workdir_lock(workdir):
    for name in (POLICY_DIR, COLLECT_POLICY_DIR):
      _recover(workdir, name)
      # Temp dirs of an export that crashed before its swap.
      for leftover in glob.glob(os.path.join(workdir,
                                             _temp_prefix(name) + '*')):
        shutil.rmtree(leftover, ignore_errors=True)

  export_time = datetime.datetime.now(datetime.timezone.utc).isoformat(
      timespec='seconds')
  temp_dirs = {}
  try:
    for name, kind, policy in ((POLICY_DIR, 'greedy', agent.eval_policy),
                               (COLLECT_POLICY_DIR, 'collect',
                                agent.collect_policy)):
      full_info = dict(info)
      full_info.update(_spec_info(policy))
      full_info.update(
          policy=kind,
          train_step=int(agent.train_step_counter.numpy()),
          export_time=export_time,
          format_version=INFO_FORMAT_VERSION)
      temp_dirs[name] = _make_temp_dir(workdir, name)
      _save(policy, agent.train_step_counter, full_info, temp_dirs[name])
  except BaseException:
    # Nothing was swapped: the previous exports stand. A crash that skips
    # this is cleaned up by the next export.
    for temp_dir in temp_dirs.values():
      shutil.rmtree(temp_dir, ignore_errors=True)
    raise

  with _workdir_lock(workdir):
    for name, temp_dir in temp_dirs.items():
      _swap_in(temp_dir, workdir, name)
    _fsync_path(workdir)
    for name in temp_dirs:
      old = os.path.join(workdir, name + _OLD_SUFFIX)
      if os.path.exists(old):  # Not on the first export.
        shutil.rmtree(old)
  return os.path.join(workdir, POLICY_DIR)


def _no_policy(path: str, why: str) -> config_lib.ConfigError:
  return config_lib.ConfigError(
      f'no exported policy at {path!r}: {why} (training writes WORKDIR/policy '
      'with curl_tf.export.export_policies)')


def read_info(path: str) -> Dict[str, Any]:
  """Reads PATH/policy_info.json; ConfigError if missing or unreadable."""
  info_path = os.path.join(path, INFO_FILE)
  try:
    with open(info_path) as f:
      info = json.load(f)
  except FileNotFoundError:
    raise _no_policy(path, f'{INFO_FILE} is missing') from None
  except (OSError, ValueError) as e:
    raise config_lib.ConfigError(
        f'cannot read {info_path!r}: {str(e).splitlines()[0]}') from None
  if not isinstance(info, dict):
    raise config_lib.ConfigError(f'{info_path!r} does not hold a JSON object')
  return info


def load_policy(path: str) -> Tuple[Any, Dict[str, Any]]:
  """Loads an exported policy directory, e.g. WORKDIR/policy.

  Runs the crash recovery first (see the module docstring), under the
  workdir's lock. It creates no file: a directory no export ever wrote to
  loads without the lock (and has nothing to recover).

  Args:
    path: a directory `export_policies` wrote.

  Returns:
    (the loaded SavedModel: call `.action(time_step)` as the module
    docstring shows, the policy_info.json dict).

  Raises:
    ConfigError: `path` holds no exported policy, or it cannot be read.
  """
  path = os.path.abspath(os.path.expanduser(path))
  workdir, name = os.path.split(path)
  if not os.path.isdir(workdir):
    raise _no_policy(path, f'directory {workdir!r} does not exist')
  with _workdir_lock(workdir, create=False) as locked:
    if locked:
      try:
        _recover(workdir, name)
      except OSError as e:
        raise config_lib.ConfigError(
            f'cannot recover the interrupted export at {path!r}: '
            f'{e.strerror}') from None
    if not os.path.isdir(path):
      raise _no_policy(path, 'no such directory')
    info = read_info(path)
    try:
      loaded = tf.saved_model.load(path)
    except Exception as e:  # pylint: disable=broad-except
      # TF raises OSError, ValueError or its own OpErrors, by what is wrong.
      first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
      raise config_lib.ConfigError(
          f'cannot load the exported policy at {path!r}: {first_line}'
      ) from None
  if not hasattr(loaded, 'action'):
    raise _no_policy(path, 'the SavedModel has no action function')
  return loaded, info
