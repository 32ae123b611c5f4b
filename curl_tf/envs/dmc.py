"""DeepMind Control as TF-Agents PyEnvironments, from pixels or from states.

One agent step = `action_repeat` dm_control steps with the same action, then
one rendered frame: the action repeat sits below the renderer, as in the
official CURL code, so rendering (the slow part, ~20 ms a frame on CPU) is paid
once per agent step. The observation stacks the last `frame_stack` frames on the
channel axis, oldest first: uint8 [H, W, 3 * frame_stack]. The newest frame is
`observation[..., -3:]` (see `newest_frame`); the replay stores only that.

`DmControlStateEnv` is the same task seen through dm_control's proprioceptive
observation, flattened to float32 [D]: Table 1's state SAC. It renders
nothing.
"""

import collections
import os

# dm_control chooses its OpenGL backend when it is first imported. EGL renders
# headless (no X server), which is what a server or CI machine has.
os.environ.setdefault('MUJOCO_GL', 'egl')

# pylint: disable=g-import-not-at-top,wrong-import-position
from dm_control import suite
import dm_env
import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts
# pylint: enable=g-import-not-at-top,wrong-import-position

# Channels of one rendered RGB frame.
FRAME_CHANNELS = 3


def newest_frame(observation: np.ndarray) -> np.ndarray:
  """Returns the newest frame of a stacked observation.

  Args:
    observation: uint8 [..., H, W, 3 * frame_stack], frames oldest first.

  Returns:
    uint8 [..., H, W, 3], the last frame of the stack.
  """
  return observation[..., -FRAME_CHANNELS:]


class _DmControlEnv(py_environment.PyEnvironment):
  """A dm_control suite task with an action repeat; subclasses observe it.

  Time steps follow TF-Agents: FIRST at reset, MID, then LAST. At dm_control's
  time limit the step is LAST with discount 1.0 (a truncation, not a
  termination): the learner bootstraps through it, as the official code does.
  Stepping after LAST starts a new episode (the base class resets and ignores
  the action).
  """

  def __init__(self, domain_name: str, task_name: str, *, seed: int,
               action_repeat: int, camera_id: int = 0):
    super().__init__(handle_auto_reset=True)
    if action_repeat < 1:
      raise ValueError(f'action_repeat must be positive, got {action_repeat}')
    self._env = suite.load(domain_name, task_name,
                           task_kwargs={'random': seed})
    self._action_repeat = action_repeat
    self._camera_id = camera_id
    dm_action_spec = self._env.action_spec()
    self._action_spec = array_spec.BoundedArraySpec(
        shape=dm_action_spec.shape,
        dtype=np.float32,
        minimum=dm_action_spec.minimum.astype(np.float32),
        maximum=dm_action_spec.maximum.astype(np.float32),
        name='action')

  def action_spec(self) -> array_spec.BoundedArraySpec:
    return self._action_spec

  @property
  def action_repeat(self) -> int:
    return self._action_repeat

  @property
  def agent_step_seconds(self) -> float:
    """Simulated seconds per agent step."""
    return self._action_repeat * self._env.control_timestep()

  def _observe_reset(self, dm_step: dm_env.TimeStep) -> np.ndarray:
    """The observation at reset."""
    raise NotImplementedError

  def _observe(self, dm_step: dm_env.TimeStep) -> np.ndarray:
    """The observation after an agent step (dm_step: its last dm step)."""
    raise NotImplementedError

  def step_observation(self, observation: np.ndarray) -> np.ndarray:
    """What replay stores of one observation (see replay.ReplayWriter)."""
    raise NotImplementedError

  def _reset(self) -> ts.TimeStep:
    return ts.restart(self._observe_reset(self._env.reset()))

  def _step(self, action: np.ndarray) -> ts.TimeStep:
    reward = 0.0
    for _ in range(self._action_repeat):
      dm_step = self._env.step(action)
      reward += dm_step.reward
      # The time limit can fall inside a repeat when it is not a multiple of
      # action_repeat; the episode ends there.
      if dm_step.last():
        break
    observation = self._observe(dm_step)
    reward = np.float32(reward)
    # Only the repeat's last dm_control step can have a discount below 1
    # (earlier ones are MID steps with discount 1), so its discount is the
    # discount of the whole agent step.
    discount = np.float32(dm_step.discount)
    if dm_step.step_type != dm_env.StepType.LAST:
      return ts.transition(observation, reward, discount)
    if discount == 0.0:
      return ts.termination(observation, reward)
    # dm_control ends every suite episode at its time limit with discount 1.0:
    # the limit is not part of the task, so we keep bootstrapping through it.
    return ts.truncation(observation, reward, discount)

  def render_frame(self, size: int) -> np.ndarray:
    """Renders the scene now from the agent's camera, uint8 [size, size, 3]."""
    return self._env.physics.render(height=size, width=size,
                                    camera_id=self._camera_id)

  def close(self) -> None:
    """Frees MuJoCo's data and rendering contexts.

    Call it on the thread that rendered: an EGL context is current on the
    thread that last used it, and freeing it from another thread fails (at
    interpreter exit, if left to the garbage collector).
    """
    self._env.close()
    self._env.physics.free()


class DmControlPixelEnv(_DmControlEnv):
  """A dm_control suite task seen through rendered, stacked frames."""

  def __init__(self,
               domain_name: str,
               task_name: str,
               *,
               seed: int,
               action_repeat: int,
               frame_stack: int,
               image_size: int,
               camera_id: int = 0):
    """Loads the task.

    Args:
      domain_name: dm_control suite domain, e.g. 'cartpole'.
      task_name: task of that domain, e.g. 'swingup'.
      seed: seeds the task's random initial states.
      action_repeat: dm_control steps per agent step.
      frame_stack: frames stacked in one observation.
      image_size: side in pixels of the square rendered frame.
      camera_id: dm_control camera to render from.

    Raises:
      ValueError: if action_repeat, frame_stack or image_size is not positive.
    """
    for name, value in (('frame_stack', frame_stack),
                        ('image_size', image_size)):
      if value < 1:
        raise ValueError(f'{name} must be positive, got {value}')
    super().__init__(domain_name, task_name, seed=seed,
                     action_repeat=action_repeat, camera_id=camera_id)
    self._image_size = image_size
    self._frames = collections.deque(maxlen=frame_stack)
    self._observation_spec = array_spec.BoundedArraySpec(
        shape=(image_size, image_size, FRAME_CHANNELS * frame_stack),
        dtype=np.uint8,
        minimum=0,
        maximum=255,
        name='pixels')

  def observation_spec(self) -> array_spec.BoundedArraySpec:
    return self._observation_spec

  def step_observation(self, observation: np.ndarray) -> np.ndarray:
    return newest_frame(observation)

  def _stacked(self) -> np.ndarray:
    return np.concatenate(self._frames, axis=-1)

  def _observe_reset(self, dm_step: dm_env.TimeStep) -> np.ndarray:
    del dm_step
    frame = self.render_frame(self._image_size)
    # No history yet: the first frame fills the whole stack.
    for _ in range(self._frames.maxlen):
      self._frames.append(frame)
    return self._stacked()

  def _observe(self, dm_step: dm_env.TimeStep) -> np.ndarray:
    del dm_step
    self._frames.append(self.render_frame(self._image_size))
    return self._stacked()

  def render(self, mode: str = 'rgb_array') -> np.ndarray:
    """Returns the newest rendered frame, uint8 [H, W, 3]."""
    if mode != 'rgb_array':
      raise NotImplementedError(f'only rgb_array rendering, got {mode!r}')
    if not self._frames:
      raise RuntimeError('render() before reset()')
    return self._frames[-1]


def flatten_observation(observation) -> np.ndarray:
  """dm_control's observation dict as float32 [D], in the dict's own order.

  The order is the task's (an OrderedDict), as dmc2gym and pytorch_sac
  flatten it; scalars (walker's height) become one entry.
  """
  return np.concatenate([np.asarray(value, np.float32).ravel()
                         for value in observation.values()])


class DmControlStateEnv(_DmControlEnv):
  """A dm_control suite task seen through its proprioceptive state.

  The observation is the task's observation dict flattened (see
  `flatten_observation`), float32 [D]. Nothing is rendered, except by
  `render_frame` on request (a video).
  """

  def __init__(self, domain_name: str, task_name: str, *, seed: int,
               action_repeat: int, camera_id: int = 0):
    super().__init__(domain_name, task_name, seed=seed,
                     action_repeat=action_repeat, camera_id=camera_id)
    size = sum(int(np.prod(spec.shape))
               for spec in self._env.observation_spec().values())
    self._observation_spec = array_spec.ArraySpec(
        shape=(size,), dtype=np.float32, name='states')

  def observation_spec(self) -> array_spec.ArraySpec:
    return self._observation_spec

  def step_observation(self, observation: np.ndarray) -> np.ndarray:
    return observation

  def _observe_reset(self, dm_step: dm_env.TimeStep) -> np.ndarray:
    return flatten_observation(dm_step.observation)

  def _observe(self, dm_step: dm_env.TimeStep) -> np.ndarray:
    return flatten_observation(dm_step.observation)


def make_environment(config, seed: int) -> _DmControlEnv:
  """Builds the environment a config describes.

  Args:
    config: ConfigDict with observation, domain_name, task_name,
      action_repeat, frame_stack, image_size and camera_id (see
      configs/default.py).
    seed: seeds the task's initial states; give training and evaluation
      environments different seeds.

  Returns:
    The environment (not yet reset): DmControlStateEnv when
    config.observation is 'states', else DmControlPixelEnv.
  """
  if config.observation == 'states':
    return DmControlStateEnv(
        config.domain_name, config.task_name, seed=seed,
        action_repeat=config.action_repeat, camera_id=config.camera_id)
  return DmControlPixelEnv(
      config.domain_name,
      config.task_name,
      seed=seed,
      action_repeat=config.action_repeat,
      frame_stack=config.frame_stack,
      image_size=config.image_size,
      camera_id=config.camera_id)
