"""How the training loop builds CURL-SAC's pieces (train_lib's builder).

Each agent folder has a builder.py with these functions; curl_tf/builders.py
picks one by config.agent.
"""

from typing import Dict

import numpy as np
import reverb
import tensorflow as tf
from tf_agents.specs import tensor_spec

from curl_tf import replay
from curl_tf.agents.sac import agent as agent_lib


def make_agent(config, env) -> agent_lib.CurlSacAgent:
  """Builds and initialises the agent for `env`'s specs."""
  agent = agent_lib.CurlSacAgent(
      config, tensor_spec.from_spec(env.time_step_spec()),
      tensor_spec.from_spec(env.action_spec()))
  agent.initialize()
  return agent


def make_table(config, env) -> reverb.Table:
  """The uniform replay table of single frames (or state vectors)."""
  return replay.make_table(
      config, action_dim=int(np.prod(env.action_spec().shape)),
      observation_size=int(np.prod(env.observation_spec().shape)))


def make_writer(config, server: replay.ReplayServer,
                agent: agent_lib.CurlSacAgent) -> replay.ReplayWriter:
  del agent  # Every SAC item enters at priority 1 (a uniform table).
  return replay.ReplayWriter(server.address, server.table_name,
                             config.frame_stack)


def learning_starts(config) -> int:
  """The agent step of the first update: after Table 3's random steps."""
  return config.num_random_agent_steps


def random_action(env, rng: np.random.Generator) -> np.ndarray:
  """Uniform in the action box (Table 3's first agent steps)."""
  spec = env.action_spec()
  return rng.uniform(spec.minimum, spec.maximum, spec.shape).astype(
      np.float32)


def describe(config) -> str:
  """What the start-up log line says about the run."""
  return (f'{config.domain_name}-{config.task_name}, batch '
          f'{config.batch_size}, {config.update_mode} update')


class Learner:
  """Batches from replay into the agent's train step."""

  def __init__(self, config, agent: agent_lib.CurlSacAgent,
               server: replay.ReplayServer):
    if config.observation == 'states':
      dataset = replay.make_state_dataset(
          server.address, server.table_name, batch_size=config.batch_size,
          prefetch_batches=config.prefetch_batches)
    else:
      dataset = replay.make_dataset(
          server.address, server.table_name,
          frame_stack=config.frame_stack, batch_size=config.batch_size,
          crop_size=config.crop_size, seed=config.seed,
          prefetch_batches=config.prefetch_batches,
          first_batch_index=int(agent.train_step_counter.numpy()))
    # Each replica its share of every global batch (unchanged on one
    # device).
    self._batches = iter(agent.strategy.experimental_distribute_dataset(
        dataset))
    self._agent = agent

  def next_batch(self):
    return next(self._batches)

  def step(self, batch, agent_step: int) -> Dict[str, tf.Tensor]:
    """One train step; returns its metrics once they are computed."""
    del agent_step  # SAC's schedule lives in the agent's step counter.
    metrics = self._agent.train(batch).extra
    # Reading a value waits for the step, so the caller's timing is honest.
    float(metrics['critic_loss'])
    return metrics
