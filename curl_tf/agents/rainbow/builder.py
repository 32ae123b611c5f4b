"""How the training loop builds CURL-Rainbow's pieces (train_lib's builder).

The same functions as agents/sac/builder.py; curl_tf/builders.py picks one
by config.agent.
"""

from typing import Dict

import numpy as np
import reverb
import tensorflow as tf
from tf_agents.specs import tensor_spec

from curl_tf import replay as replay_lib
from curl_tf.agents.rainbow import agent as agent_lib
from curl_tf.agents.rainbow import replay


def make_agent(config, env) -> agent_lib.CurlRainbowAgent:
  """Builds the agent for `env`'s specs (an Atari game's)."""
  return agent_lib.CurlRainbowAgent(
      config, tensor_spec.from_spec(env.time_step_spec()),
      tensor_spec.from_spec(env.action_spec()))


def make_table(config, env) -> reverb.Table:
  del env  # Frames and actions have the same shapes in every game.
  return replay.make_table(config)


def make_writer(config, server: replay_lib.ReplayServer,
                agent: agent_lib.CurlRainbowAgent) -> replay.NStepWriter:
  """New items enter at the agent's largest priority so far."""
  return replay.NStepWriter(
      server.address, server.table_name, history=config.history,
      n=config.multi_step, max_priority=agent.max_priority)


def learning_starts(config) -> int:
  """curl_rainbow's learn_start: updates begin at agent step 1,600."""
  return config.learning_starts_agent_steps


def random_action(env, rng: np.random.Generator) -> np.ndarray:
  spec = env.action_spec()
  return np.int32(rng.integers(spec.minimum, spec.maximum + 1))


def describe(config) -> str:
  """What the start-up log line says about the run."""
  return f'Atari {config.game}, batch {config.batch_size}, CURL-Rainbow'


class Learner:
  """Prioritised batches into the train step, then priorities and targets.

  The importance-sampling exponent rises linearly from is_exponent_start at
  the first update to 1 at the last (main.py's priority_weight_increase);
  the target network is copied every target_update_period agent steps once
  learning has started (main.py: `T % target_update == 0`).
  """

  def __init__(self, config, agent: agent_lib.CurlRainbowAgent,
               server: replay_lib.ReplayServer):
    self._agent = agent
    self._config = config
    self._client = reverb.Client(server.address)
    self._table_name = server.table_name
    self._batches = iter(replay.make_dataset(
        server.address, server.table_name,
        replay.settings_from_config(config),
        first_batch_index=int(agent.train_step_counter.numpy())))
    start = learning_starts(config)
    end = config.num_env_steps // config.action_repeat
    self._schedule = (start, max(end - start, 1))

  def next_batch(self):
    return next(self._batches)

  def is_exponent(self, agent_step: int) -> float:
    start, span = self._schedule
    progress = min(max(agent_step - start, 0) / span, 1.0)
    beta0 = self._config.is_exponent_start
    return beta0 + (1.0 - beta0) * progress

  def step(self, batch, agent_step: int) -> Dict[str, tf.Tensor]:
    is_exponent = self.is_exponent(agent_step)
    metrics = self._agent.train(batch, tf.constant(is_exponent, tf.float32))
    replay.update_priorities(self._client, self._table_name,
                             batch['key'].numpy(),
                             metrics.pop('priorities').numpy(),
                             self._agent.max_priority)
    if agent_step % self._config.target_update_period == 0:
      self._agent.update_target()
    metrics['is_exponent'] = is_exponent
    metrics['max_priority'] = self._agent.max_priority.value
    return metrics
