"""Evaluates an exported policy and films its first episode.

`evaluate_saved_policy(workdir)` runs WORKDIR/policy, the SavedModel that
`export.export_policies` wrote, not a checkpoint: it evaluates exactly what
was exported. The env is rebuilt from the export's policy_info.json, with
the evaluation seed the training loop uses (the config seed + 10,000), and
the episodes run through `train_lib.evaluate`, the loop training evaluates
with.

The video is rendered from the agent's camera at 256x256 (the agent's
100x100 frames are too small to watch), one frame at the reset and one per
agent step, what the policy saw and acted on. It plays in real time, so
motion looks as fast as it is: fps = 1 / (action_repeat x control timestep),
12.5 for cartpole (8 x 0.01 s), reacher and ball_in_cup, 20 for walker, 25
for finger and cheetah (Table 3's action repeats). A fixed fps would play
each task at its own speed: cartpole 1.6x faster than walker, relative to
real time.
"""

import numbers
import os
import sys
import tempfile
from typing import Any, Callable, Dict, Optional, Tuple

import imageio
import ml_collections
import numpy as np
from tf_agents.environments import wrappers
from tf_agents.policies import py_tf_eager_policy

from curl_tf import config_lib
from curl_tf import envs
from curl_tf import export
from curl_tf import train_lib

# Side in pixels of the filmed frames.
VIDEO_SIZE = 256
VIDEO_DIR = 'videos'

# policy_info.json fields envs.make_environment reads, and all the fields
# the evaluation needs.
# What every export's policy_info.json has besides its agent's ENV_FIELDS.
_RUN_FIELDS = ('seed', 'env_step', 'observation_shape')

_VIDEO_SUFFIXES = ('.mp4', '.gif')


class _Filming(wrappers.PyEnvironmentBaseWrapper):
  """Wraps the task's env (pixels or states); films its first episode.

  Filming renders the scene again at the video size; it reads the physics
  and does not step it, so the episodes are those of an unfilmed env.
  """

  def __init__(self, env, video_size: int,
               on_frame: Callable[[np.ndarray], None]):
    super().__init__(env)
    self._video_size = video_size
    self._on_frame = on_frame
    self._filming = True  # Until the first episode ends.

  def _film(self) -> None:
    if self._filming:
      self._on_frame(self._env.render_frame(self._video_size))

  def _reset(self):
    time_step = self._env.reset()
    self._film()
    return time_step

  def _step(self, action):
    time_step = self._env.step(action)
    self._film()
    if time_step.is_last():
      self._filming = False
    return time_step


def _ffmpeg_missing() -> Optional[str]:
  """None if imageio can write MP4 here, else why not."""
  try:
    # Imported here: without the package, the video is a GIF.
    import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
    imageio_ffmpeg.get_ffmpeg_exe()
  except (ImportError, RuntimeError) as e:
    return str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
  return None


class _VideoFile:
  """Writes frames to a temp file beside `path`, renamed onto it at the end.

  Opening the temp file is the writability check, done before any episode
  runs; an old video at `path` stays whole until the new one is complete.
  """

  def __init__(self, path: str):
    self.path = path
    directory, name = os.path.split(path)
    suffix = os.path.splitext(path)[1].lower()
    try:
      fd, self._temp_path = tempfile.mkstemp(
          prefix=f'.{name}.tmp-', suffix=suffix, dir=directory)
    except OSError as e:
      raise config_lib.ConfigError(
          f'video directory {directory!r} is not writable: {e.strerror}'
      ) from None
    os.close(fd)
    self._writer = None
    self._suffix = suffix
    self.num_frames = 0

  def open(self, fps: float) -> None:
    if self._suffix == '.mp4':
      # 256 is a multiple of 16, so imageio does not resize.
      self._writer = imageio.v2.get_writer(
          self._temp_path, format='FFMPEG', mode='I', fps=fps,
          codec='libx264', macro_block_size=16)
    else:
      # GIF frame durations are whole hundredths of a second.
      self._writer = imageio.v2.get_writer(
          self._temp_path, format='GIF', mode='I', loop=0,
          duration=round(100.0 / fps) * 10)

  def append(self, frame: np.ndarray) -> None:
    self._writer.append_data(frame)
    self.num_frames += 1

  def finish(self) -> None:
    self._writer.close()
    # mkstemp makes the file private (0600); a video is for others to watch.
    os.chmod(self._temp_path, 0o644)
    os.replace(self._temp_path, self.path)

  def discard(self) -> None:
    if self._writer is not None:
      try:
        self._writer.close()
      except Exception:  # pylint: disable=broad-except
        pass  # Already failing; the temp file goes either way.
    if os.path.exists(self._temp_path):
      os.remove(self._temp_path)


def _video_path(workdir: str, env_step: int,
                video_path: Optional[str]) -> str:
  """The absolute path to film to; ConfigError if it cannot be used."""
  if video_path is None:
    directory = os.path.join(workdir, VIDEO_DIR)
    try:
      os.makedirs(directory, exist_ok=True)
    except OSError as e:
      raise config_lib.ConfigError(
          f'cannot create the video directory {directory!r}: {e.strerror}'
      ) from None
    return os.path.join(directory, f'eval_{env_step}.mp4')
  path = os.path.abspath(os.path.expanduser(video_path))
  if os.path.splitext(path)[1].lower() not in _VIDEO_SUFFIXES:
    raise config_lib.ConfigError(
        f'video path {path!r} must end in .mp4 or .gif')
  directory = os.path.dirname(path)
  if not os.path.exists(directory):
    raise config_lib.ConfigError(
        f'video directory {directory!r} does not exist (video path {path!r})')
  if not os.path.isdir(directory):
    raise config_lib.ConfigError(
        f'video directory {directory!r} is not a directory (video path '
        f'{path!r})')
  if os.path.isdir(path):
    raise config_lib.ConfigError(f'video path {path!r} is a directory')
  return path


def _env_fields(info: Dict[str, Any]) -> Tuple[str, ...]:
  """The fields that rebuild the export's environment.

  Exports from before the agent field are CURL-SAC's, and those from before
  states mode, pixels ones: they lack 'agent' and 'observation'.
  """
  fields = export.ENV_FIELDS.get(info.get('agent', 'sac'), ())
  return tuple(name for name in fields if name != 'observation')


def _check_info(info: Dict[str, Any], policy_path: str) -> None:
  if info.get('agent', 'sac') not in export.ENV_FIELDS:
    raise config_lib.ConfigError(
        f'{os.path.join(policy_path, export.INFO_FILE)!r} names an unknown '
        f'agent {info["agent"]!r}')
  missing = [name for name in _env_fields(info) + _RUN_FIELDS
             if name not in info]
  if missing:
    raise config_lib.ConfigError(
        f'{os.path.join(policy_path, export.INFO_FILE)!r} lacks field(s) '
        f'{", ".join(missing)}')


def evaluate_saved_policy(workdir: str, num_episodes: int = 10,
                          seed: Optional[int] = None,
                          video_path: Optional[str] = None) -> Dict[str, Any]:
  """Runs the exported greedy policy WORKDIR/policy and films one episode.

  Every input is checked before an episode runs. Nothing in the workdir is
  deleted or overwritten but the video file.

  Args:
    workdir: a training run's workdir, holding policy/ (see export.py).
    num_episodes: episodes to run (at least 1).
    seed: seed of the env's initial states; default the config seed +
      10,000, the training loop's evaluation env.
    video_path: where to write the video of the first episode, ending in
      .mp4 or .gif, in an existing directory; default
      WORKDIR/videos/eval_<env_step>.mp4. Without ffmpeg an MP4 becomes a
      GIF of the same name.

  Returns:
    'returns' (one undiscounted return per episode), 'return_mean',
    'return_std', 'num_episodes', 'seed', 'env_step' (of the export),
    'policy_path', 'video_path' (the file written), 'video_frames',
    'video_fps' and 'video_fallback' (None, or why a GIF was written instead
    of an MP4).

  Raises:
    ConfigError: no exported policy in `workdir`, an unusable video path, or
      a bad num_episodes or seed; the message is one line.
  """
  if (not isinstance(num_episodes, numbers.Integral) or
      isinstance(num_episodes, bool) or num_episodes < 1):
    raise config_lib.ConfigError(
        f'num_episodes must be a positive integer, got {num_episodes!r}')
  workdir = os.path.abspath(os.path.expanduser(workdir))
  if not os.path.isdir(workdir):
    raise config_lib.ConfigError(f'workdir {workdir!r} does not exist')
  policy_path = os.path.join(workdir, export.POLICY_DIR)
  saved_policy, info = export.load_policy(policy_path)
  _check_info(info, policy_path)
  if seed is None:
    seed = train_lib.eval_env_seed(ml_collections.ConfigDict(
        {'seed': info['seed']}))
  # dm_control seeds a numpy RandomState, which takes [0, 2**32).
  if (not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or
      not 0 <= seed < 2**32):
    raise config_lib.ConfigError(
        f'seed must be an integer in [0, 2**32), got {seed!r}')

  path = _video_path(workdir, info['env_step'], video_path)
  fallback = None
  if path.lower().endswith('.mp4'):
    missing = _ffmpeg_missing()
    if missing is not None:
      path = os.path.splitext(path)[0] + '.gif'
      fallback = f'ffmpeg is unavailable ({missing}); wrote a GIF instead'
  video = _VideoFile(path)

  env = None
  try:
    env_config = ml_collections.ConfigDict(
        dict({name: info[name] for name in _env_fields(info)},
             agent=info.get('agent', 'sac'),
             observation=info.get('observation', 'pixels')))
    # An evaluation environment: Atari's plays whole games, raw scores.
    env = _Filming(envs.make_environment(env_config, seed=int(seed),
                                         training=False),
                   VIDEO_SIZE, video.append)
    observation_shape = list(env.observation_spec().shape)
    if observation_shape != list(info['observation_shape']):
      raise config_lib.ConfigError(
          f'the env of {policy_path!r} makes observations of shape '
          f'{observation_shape}, the policy takes '
          f'{info["observation_shape"]}')
    fps = 1.0 / env.agent_step_seconds
    video.open(fps)
    # The loaded SavedModel behind TF-Agents' numpy policy API, as
    # py_tf_eager_policy.SavedModelPyTFEagerPolicy wraps one it loads itself.
    policy = py_tf_eager_policy.PyTFEagerPolicyBase(
        saved_policy, env.time_step_spec(), env.action_spec(),
        policy_state_spec=(), info_spec=())
    returns = train_lib.evaluate(env, policy, num_episodes)
    video.finish()
  except BaseException:
    video.discard()
    raise
  finally:
    if env is not None:
      env.close()
  return {
      'returns': returns,
      'return_mean': float(np.mean(returns)),
      'return_std': float(np.std(returns)),
      'num_episodes': num_episodes,
      'seed': int(seed),
      'env_step': info['env_step'],
      'policy_path': policy_path,
      'video_path': video.path,
      'video_frames': video.num_frames,
      'video_fps': fps,
      'video_fallback': fallback,
  }


def summary_line(result: Dict[str, Any]) -> str:
  """One line for people: mean +- std, episodes, env step, video path."""
  line = (f'{result["policy_path"]} @ env_step {result["env_step"]}: return '
          f'{result["return_mean"]:.1f} +- {result["return_std"]:.1f} over '
          f'{result["num_episodes"]} episode(s) (seed {result["seed"]}); '
          f'video {result["video_path"]}')
  if result.get('video_fallback'):
    line += f' ({result["video_fallback"]})'
  return line


def print_summary(result: Dict[str, Any], file=None) -> None:
  """Prints `summary_line(result)` (to stdout by default), for main.py."""
  print(summary_line(result), file=file or sys.stdout)
