"""The benchmark's Atari section: CURL-Rainbow's update, replay and loop.

`python -m curl_tf.benchmark --only=atari` runs it (it is part of a default
run too). On configs/atari/default.py (Ms. Pac-Man, batch 32, float32):

* atari_replay_bytes_per_frame: growth of this process's RSS (the Reverb
  server is in-process) while the collector writes real frames of random
  play into a fresh prioritised table, per frame written. Every 84x84 frame
  goes in once (7,056 bytes raw); the items referencing 24 frames each add
  their share.
* atari_update_ms_b32 and atari_updates_per_s: the compiled update (noisy
  dueling C51, 20-step double-Q targets, CURL) at batch 32 on a fixed batch
  from that table, through the real pipeline; priorities are read back, as
  the learner does.
* atari_loop_agent_steps_per_s and atari_loop_frames_per_s: the whole
  single-process training loop (collect, write, sample, update, priority
  write-back) while learning, train_lib's own rate. A 100k-agent-step run
  takes about 100k divided by this, plus its evaluations.
"""

import tempfile
from typing import Dict

import numpy as np
import tensorflow as tf

from curl_tf import collector as collector_lib
from curl_tf import config_lib
from curl_tf import envs
from curl_tf import replay as replay_lib
from curl_tf import timing
from curl_tf import train_lib
from curl_tf.agents.rainbow import builder
from curl_tf.agents.rainbow import replay

_DEFAULT_CONFIG = 'configs/atari/default.py'


def default_config(repo_root: str):
  """configs/atari/default.py (float32, Table 2's settings)."""
  return config_lib.load_config_file(f'{repo_root}/{_DEFAULT_CONFIG}')


def fill_table(config, server: replay_lib.ReplayServer, agent,
               num_agent_steps: int, seed: int = 0) -> int:
  """Random play written by the training loop's collector; frames written."""
  env = envs.make_environment(config, seed=seed)
  rng = np.random.default_rng(seed)
  writer = builder.make_writer(config, server, agent)
  collector = collector_lib.Collector(env, writer)
  collector.reset()
  frames = 1
  for _ in range(num_agent_steps):
    _, finished = collector.step(builder.random_action(env, rng))
    # A finished episode's reset wrote the next episode's first frame too.
    frames += 2 if finished is not None else 1
  writer.close()
  env.close()
  return frames


def measure(repo_root: str, replay_agent_steps: int, update_steps: int,
            warmup_steps: int, loop_random_steps: int,
            loop_learning_steps: int) -> Dict[str, float]:
  """The Atari section's figures (see the module docstring).

  Args:
    repo_root: where configs/ is.
    replay_agent_steps: random agent steps written to replay.
    update_steps: timed updates.
    warmup_steps: untimed updates first (the first traces the step).
    loop_random_steps: the loop's random agent steps before learning.
    loop_learning_steps: the loop's learning agent steps.
  """
  config = default_config(repo_root)
  env = envs.make_environment(config, seed=0)
  agent = builder.make_agent(config, env)
  env.close()
  server = replay_lib.start_server(builder.make_table(config, None))
  try:
    rss_before = timing.rss()
    frames = fill_table(config, server, agent, replay_agent_steps)
    bytes_per_frame = (timing.rss() - rss_before) / frames
    batch = next(iter(replay.make_dataset(
        server.address, server.table_name,
        replay.settings_from_config(config))))
  finally:
    server.close()
  is_exponent = tf.constant(config.is_exponent_start, tf.float32)

  def update():
    agent.train(batch, is_exponent)['priorities'].numpy()

  timing.time_calls(update, warmup_steps)
  update_ms, _ = timing.median_and_mean_ms(timing.time_calls(update,
                                                             update_steps))
  results = {
      'atari_replay_frames': frames,
      'atari_replay_bytes_per_frame': bytes_per_frame,
      'atari_update_ms_b32': update_ms,
      'atari_updates_per_s': 1000.0 / update_ms,
  }
  results.update(measure_loop(repo_root, loop_random_steps,
                              loop_learning_steps))
  return results


def measure_loop(repo_root: str, random_steps: int,
                 learning_steps: int) -> Dict[str, float]:
  """train_lib.train_and_evaluate on a short budget; its learning rate.

  One evaluation game at the start and one at the end; the rate excludes
  them.
  """
  config = default_config(repo_root)
  num_env_steps = (random_steps + learning_steps) * config.action_repeat
  config.update(dict(
      learning_starts_agent_steps=random_steps, num_env_steps=num_env_steps,
      eval_every_env_steps=num_env_steps,
      checkpoint_every_env_steps=num_env_steps,
      log_every_env_steps=num_env_steps, num_eval_episodes=1))
  config_lib.validate_config(config)
  with tempfile.TemporaryDirectory() as workdir:
    summary = train_lib.train_and_evaluate(config, workdir)
  frames_per_s = float(summary['learning_env_steps_per_s'])
  return {'atari_loop_frames_per_s': frames_per_s,
          'atari_loop_agent_steps_per_s': frames_per_s / config.action_repeat}
