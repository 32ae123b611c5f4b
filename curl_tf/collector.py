"""The collecting actor: steps the training env and writes replay.

Kept apart from the loop so that the single-process loop can run it on a
worker thread, overlapped with the learner, and a distributed actor can run
it on its own.
"""

from typing import Optional, Tuple

from tf_agents.trajectories import time_step as ts

from curl_tf import replay


class Collector:
  """One environment and the replay writer that records its frames."""

  def __init__(self, env, writer: replay.ReplayWriter):
    self._env = env
    self._writer = writer
    self._episode_return = 0.0

  def reset(self) -> ts.TimeStep:
    """Starts an episode; returns its first time step."""
    time_step = self._env.reset()
    self._writer.start_episode(
        self._env.step_observation(time_step.observation))
    self._episode_return = 0.0
    return time_step

  def step(self, action) -> Tuple[ts.TimeStep, Optional[float]]:
    """Takes one agent step and inserts its transition.

    Args:
      action: the action for the current time step.

    Returns:
      (the time step the policy acts on next, the return of the episode that
      just ended or None). At an episode's end the environment is reset, so
      the time step returned is the next episode's first.
    """
    time_step = self._env.step(action)
    self._writer.add(action, time_step.reward, time_step.discount,
                     self._env.step_observation(time_step.observation))
    self._episode_return += float(time_step.reward)
    if not time_step.is_last():
      return time_step, None
    finished_return = self._episode_return
    return self.reset(), finished_return
