"""The CURL-SAC training loop: collect, update, evaluate, log.

Every budget and every logged step is in environment steps (agent steps x
action repeat), the unit of the paper's tables. The official code logs agent
steps; we do not.
"""

from concurrent import futures
import csv
import os
import random
import time
from typing import Dict, List, Optional

from absl import logging
import numpy as np
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy
from tf_agents.specs import tensor_spec

from curl_tf import agent as agent_lib
from curl_tf import collector as collector_lib
from curl_tf import config_lib
from curl_tf import envs
from curl_tf import replay

EVAL_CSV_FIELDS = ('env_step', 'agent_step', 'return_mean', 'return_std',
                   'return_min', 'return_max', 'num_episodes', 'wall_time_s')


def eval_env_seed(config) -> int:
  """Seed of the evaluation env: differs from the training env's."""
  return config.seed + 10_000


def set_seeds(seed: int) -> None:
  """Seeds Python, numpy and TF (the envs are seeded where they are built)."""
  random.seed(seed)
  np.random.seed(seed)
  tf.random.set_seed(seed)


def evaluate(env, policy, num_episodes: int) -> List[float]:
  """Undiscounted returns of `num_episodes` episodes of `policy` in `env`."""
  returns = []
  for _ in range(num_episodes):
    time_step = env.reset()
    episode_return = 0.0
    while not time_step.is_last():
      time_step = env.step(policy.action(time_step).action)
      episode_return += float(time_step.reward)
    returns.append(episode_return)
  return returns


class EvalCsv:
  """Appends one row per evaluation to WORKDIR/eval.csv."""

  def __init__(self, path: str):
    self.path = path
    if not os.path.exists(path):
      with open(path, 'w', newline='') as f:
        csv.writer(f).writerow(EVAL_CSV_FIELDS)

  def append(self, row: Dict[str, float]) -> None:
    with open(self.path, 'a', newline='') as f:
      csv.writer(f).writerow([row[k] for k in EVAL_CSV_FIELDS])


class Progress:
  """Env steps/s, ETA and the last eval return, for the console."""

  def __init__(self, num_env_steps: int):
    self.num_env_steps = num_env_steps
    self.start_time = time.time()
    self._last_time = self.start_time
    self._last_env_step = 0
    self.last_eval: Optional[str] = None

  def rate(self, env_step: int) -> float:
    """Env steps per second since the previous call."""
    now = time.time()
    steps_per_s = (env_step - self._last_env_step) / max(
        now - self._last_time, 1e-9)
    self._last_time, self._last_env_step = now, env_step
    return steps_per_s

  def line(self, env_step: int, steps_per_s: float) -> str:
    remaining_s = (self.num_env_steps - env_step) / max(steps_per_s, 1e-9)
    eta = time.strftime('%H:%M:%S', time.gmtime(remaining_s))
    return (f'env_step {env_step}/{self.num_env_steps} '
            f'({100.0 * env_step / self.num_env_steps:.1f}%) | '
            f'{steps_per_s:.1f} env steps/s | ETA {eta} | '
            f'last eval {self.last_eval or "-"}')


def make_agent(config, env) -> agent_lib.CurlSacAgent:
  """Builds and initialises the agent for `env`'s specs."""
  agent = agent_lib.CurlSacAgent(
      config, tensor_spec.from_spec(env.time_step_spec()),
      tensor_spec.from_spec(env.action_spec()))
  agent.initialize()
  return agent


def train_and_evaluate(config, workdir: str) -> Dict[str, object]:
  """Trains CURL-SAC for `config.num_env_steps` environment steps.

  Args:
    config: a validated ConfigDict (configs/default.py documents the fields).
    workdir: existing, writable directory for eval.csv and TensorBoard.

  Returns:
    A summary: 'final_eval' (the last eval.csv row, a dict),
    'learning_env_steps_per_s' (env steps/s from the end of the first
    update, which compiles the train step, to the end, evaluations excluded)
    and 'learner_data_wait_fraction' (share of the learner's time spent
    waiting for a batch).
  """
  set_seeds(config.seed)
  action_repeat = config.action_repeat
  num_agent_steps = config_lib.num_agent_steps(config)
  env = envs.make_environment(config, seed=config.seed)
  # A different seed so evaluation episodes differ from training ones.
  eval_env = envs.make_environment(config, seed=eval_env_seed(config))
  agent = make_agent(config, env)
  collect_policy = py_tf_eager_policy.PyTFEagerPolicy(
      agent.collect_policy, use_tf_function=True)
  eval_policy = py_tf_eager_policy.PyTFEagerPolicy(
      agent.eval_policy, use_tf_function=True)
  action_spec = env.action_spec()
  action_rng = np.random.default_rng(config.seed)

  server = replay.make_replay_server(
      config, action_dim=int(np.prod(action_spec.shape)))
  writer = replay.ReplayWriter(server.address, server.table_name,
                               config.frame_stack)
  dataset_iterator = None  # Built once the random steps have filled replay.

  summary_writer = tf.summary.create_file_writer(workdir)
  eval_csv = EvalCsv(os.path.join(workdir, 'eval.csv'))
  progress = Progress(config.num_env_steps)
  logging.info('Training %s-%s for %d env steps (%d agent steps, action '
               'repeat %d), batch %d, %s update.', config.domain_name,
               config.task_name, config.num_env_steps, num_agent_steps,
               action_repeat, config.batch_size, config.update_mode)

  def run_eval(env_step: int) -> Dict[str, float]:
    returns = evaluate(eval_env, eval_policy, config.num_eval_episodes)
    row = dict(env_step=env_step, agent_step=env_step // action_repeat,
               return_mean=float(np.mean(returns)),
               return_std=float(np.std(returns)),
               return_min=float(np.min(returns)),
               return_max=float(np.max(returns)),
               num_episodes=len(returns),
               wall_time_s=round(time.time() - progress.start_time, 1))
    eval_csv.append(row)
    with summary_writer.as_default(step=env_step):
      tf.summary.scalar('eval/return_mean', row['return_mean'])
      tf.summary.scalar('eval/return_std', row['return_std'])
    progress.last_eval = f'{row["return_mean"]:.1f} @ {env_step}'
    logging.info('eval @ env_step %d: return %.1f +- %.1f over %d episodes',
                 env_step, row['return_mean'], row['return_std'],
                 len(returns))
    return row

  collector = collector_lib.Collector(env, writer)
  # The env renders on a worker thread while the learner steps on this one
  # (MuJoCo and TF ops both release the GIL). The action is chosen before
  # the update, so the order is the official code's: act, update, step.
  env_thread = futures.ThreadPoolExecutor(1, thread_name_prefix='collector')
  time_step = collector.reset()
  episode_count = 0
  next_eval_env_step, next_log_env_step = 0, config.log_every_env_steps
  data_wait_s, learner_s, eval_s = 0.0, 0.0, 0.0
  learning_start = None  # (time, env_step, eval_s) after the first update.
  # Latest value of every train metric (actor metrics come every other step).
  metrics = {}
  for agent_step in range(num_agent_steps):
    env_step = agent_step * action_repeat
    if env_step >= next_eval_env_step:
      eval_start = time.time()
      run_eval(env_step)
      eval_s += time.time() - eval_start
      next_eval_env_step += config.eval_every_env_steps

    # Act, then step the env in the background.
    if agent_step < config.num_random_agent_steps:
      action = action_rng.uniform(action_spec.minimum, action_spec.maximum,
                                  action_spec.shape).astype(np.float32)
    else:
      action = collect_policy.action(time_step).action
    pending_step = env_thread.submit(collector.step, action)

    # One update per agent step once the random steps are done (official).
    if agent_step >= config.num_random_agent_steps:
      if dataset_iterator is None:
        dataset_iterator = iter(replay.make_dataset(
            server.address, server.table_name,
            frame_stack=config.frame_stack, batch_size=config.batch_size,
            crop_size=config.crop_size, seed=config.seed,
            prefetch_batches=config.prefetch_batches))
      start = time.time()
      batch = next(dataset_iterator)
      fetched = time.time()
      step_metrics = agent.train(batch).extra
      # Reading a value waits for the step, so the timing is honest.
      float(step_metrics['critic_loss'])
      metrics.update(step_metrics)
      data_wait_s += fetched - start
      learner_s += time.time() - start
      if learning_start is None:
        # Speed is measured from the end of the first update, which traces
        # and compiles the train step.
        learning_start = (time.time(), env_step + action_repeat, eval_s)

    time_step, finished_return = pending_step.result()
    if finished_return is not None:
      episode_count += 1
      with summary_writer.as_default(step=env_step + action_repeat):
        tf.summary.scalar('train/episode_return', finished_return)

    env_step = (agent_step + 1) * action_repeat
    if env_step >= next_log_env_step:
      next_log_env_step += config.log_every_env_steps
      steps_per_s = progress.rate(env_step)
      with summary_writer.as_default(step=env_step):
        for name, value in metrics.items():
          tf.summary.scalar(f'train/{name}', value)
        tf.summary.scalar('perf/env_steps_per_s', steps_per_s)
        if learner_s > 0:
          tf.summary.scalar('perf/learner_data_wait_fraction',
                            data_wait_s / learner_s)
        tf.summary.scalar('train/episodes', episode_count)
      logging.info('%s', progress.line(env_step, steps_per_s))

  learning_end = time.time()
  final_env_step = num_agent_steps * action_repeat
  final_eval = run_eval(final_env_step)
  summary_writer.flush()
  # The training env's rendering context lives on the collector thread.
  env_thread.submit(env.close).result()
  env_thread.shutdown()
  eval_env.close()
  writer.close()
  server.close()
  summary = {'final_eval': final_eval,
             'learner_data_wait_fraction': data_wait_s / max(learner_s, 1e-9)}
  if learning_start is not None:
    start_time, start_env_step, start_eval_s = learning_start
    summary['learning_env_steps_per_s'] = (
        (final_env_step - start_env_step) /
        (learning_end - start_time - (eval_s - start_eval_s)))
  logging.info('done: %s', summary)
  return summary
