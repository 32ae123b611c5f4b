"""The CURL-SAC training loop: collect, update, evaluate, log, checkpoint.

Every budget and every logged step is in environment steps (agent steps x
action repeat), the unit of the paper's tables. The official code logs agent
steps; we do not.

A run started again on the same workdir resumes from its newest complete
checkpoint (checkpointing.py): the agent, the loop's state and the replay
table come back; the environment episode in progress does not, so the
resumed run starts a new episode.
"""

from concurrent import futures
import os
import random
import time
from typing import Dict, List

from absl import logging
import numpy as np
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy
from tf_agents.specs import tensor_spec

from curl_tf import agent as agent_lib
from curl_tf import cadence
from curl_tf import checkpointing
from curl_tf import collector as collector_lib
from curl_tf import config_lib
from curl_tf import envs
from curl_tf import export
from curl_tf import replay
from curl_tf import run_logs


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


def make_agent(config, env) -> agent_lib.CurlSacAgent:
  """Builds and initialises the agent for `env`'s specs."""
  agent = agent_lib.CurlSacAgent(
      config, tensor_spec.from_spec(env.time_step_spec()),
      tensor_spec.from_spec(env.action_spec()))
  agent.initialize()
  return agent


def _start_replay(config, action_dim: int,
                  checkpointer: checkpointing.RunCheckpointer,
                  restored) -> replay.ReplayServer:
  """The replay server, with the checkpoint's table if there is one."""
  root = checkpointer.empty_reverb_root()
  restore_from = restored.replay_dir if restored else None
  try:
    server = replay.make_replay_server(config, action_dim,
                                       checkpoint_root=root,
                                       restore_from=restore_from)
  except RuntimeError as e:  # Reverb's error for a corrupt checkpoint.
    if restore_from is None:
      raise
    logging.warning('replay checkpoint %s is unreadable (%s); starting with '
                    'an empty table', restore_from, e)
    restored.replay_items = -1
    server = replay.make_replay_server(config, action_dim,
                                       checkpoint_root=root)
  if restored:
    size = replay.table_size(server.address, server.table_name)
    logging.info('replay: %d transitions restored from %s', size,
                 restore_from)
    if size < restored.replay_items or restored.replay_items < 0:
      # Reverb loads a truncated checkpoint as an empty table, silently.
      logging.warning('replay checkpoint %s gave %d items, not %d: it is '
                      'damaged; refilling replay before updates resume',
                      restore_from, size, restored.replay_items)
      restored.state.learning_start_agent_step = (
          restored.state.env_step // config.action_repeat +
          config.num_random_agent_steps)
  return server


def train_and_evaluate(config, workdir: str) -> Dict[str, object]:
  """Trains CURL-SAC for `config.num_env_steps` environment steps.

  Resumes from WORKDIR/checkpoints when the workdir holds a run (with the
  same config but for RESUMABLE_CHANGES; config_lib checks). Stops cleanly,
  with a checkpoint, on SIGINT or SIGTERM.

  Args:
    config: a validated ConfigDict (configs/default.py documents the fields).
    workdir: existing, writable directory for checkpoints, the exported
      policy, eval.csv and TensorBoard.

  Returns:
    A summary: 'final_eval' (the last eval.csv row, a dict), 'env_step'
    (where the run stopped), 'interrupted' (by a signal),
    'learning_env_steps_per_s' (env steps/s from the end of this process's
    first update, which compiles the train step, to the end, evaluations
    and checkpoints excluded; absent if it made no update),
    'learner_data_wait_fraction' (share of the learner's time spent waiting
    for a batch) and 'checkpoint_s' (time spent writing checkpoints).

  Raises:
    ConfigError: the workdir holds a run with another config, or only
      unreadable checkpoints.
  """
  config_lib.save_or_check_run_config(config, workdir)
  set_seeds(config.seed)
  action_repeat = config.action_repeat
  num_agent_steps = config_lib.num_agent_steps(config)
  final_env_step = num_agent_steps * action_repeat
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

  checkpointer = checkpointing.RunCheckpointer(workdir, agent)
  restored = checkpointer.restore()
  if restored:
    state = restored.state
    action_rng.bit_generator.state = state.action_rng_state
    logging.info('resuming from env step %d (%s)', state.env_step,
                 os.path.basename(restored.manifest))
  else:
    state = checkpointing.LoopState(
        env_step=0, episode_count=0,
        action_rng_state=action_rng.bit_generator.state,
        learning_start_agent_step=config.num_random_agent_steps)
  # What an earlier process wrote after its last checkpoint is replayed now.
  run_logs.prune_after(workdir, state.env_step if restored else -1)
  server = _start_replay(config, int(np.prod(action_spec.shape)),
                         checkpointer, restored)
  writer = replay.ReplayWriter(server.address, server.table_name,
                               config.frame_stack)
  dataset_iterator = None  # Built at the first update.

  summary_writer = tf.summary.create_file_writer(workdir)
  eval_csv = run_logs.EvalCsv(os.path.join(workdir, 'eval.csv'))
  progress = run_logs.Progress(config.num_env_steps, state.env_step)
  logging.info('Training %s-%s for %d env steps (%d agent steps, action '
               'repeat %d), batch %d, %s update.', config.domain_name,
               config.task_name, config.num_env_steps, num_agent_steps,
               action_repeat, config.batch_size, config.update_mode)

  def evaluate_and_export(env_step: int) -> None:
    start = time.time()
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
    summary_writer.flush()
    progress.last_eval = f'{row["return_mean"]:.1f} @ {env_step}'
    logging.info('eval @ env_step %d: return %.1f +- %.1f over %d episodes',
                 env_step, row['return_mean'], row['return_std'],
                 len(returns))
    export.export_policies(agent, workdir, export.policy_info(
        config, env_step, row['return_mean']))
    state.eval_s += time.time() - start

  checkpoint_s = 0.0
  last_checkpoint = state.env_step if restored else None

  def save_checkpoint(env_step: int, wait: bool = False) -> None:
    nonlocal checkpoint_s, last_checkpoint
    start = time.time()
    # Items whose frames sit in an unfinished chunk reach the table only on
    # a flush; the writer lives on the collector thread.
    env_thread.submit(writer.flush).result()
    summary_writer.flush()
    state.env_step = env_step
    state.action_rng_state = action_rng.bit_generator.state
    checkpointer.save(state, server.address, server.table_name, wait=wait)
    checkpoint_s += time.time() - start
    last_checkpoint = env_step

  collector = collector_lib.Collector(env, writer)
  # The env renders on a worker thread while the learner steps on this one
  # (MuJoCo and TF ops both release the GIL). The action is chosen before
  # the update, so the order is the official code's: act, update, step.
  env_thread = futures.ThreadPoolExecutor(1, thread_name_prefix='collector')
  time_step = env_thread.submit(collector.reset).result()
  eval_due = cadence.Every(config.eval_every_env_steps)
  log_due = cadence.Every(config.log_every_env_steps)
  checkpoint_due = cadence.Every(config.checkpoint_every_env_steps)
  first_agent_step = state.env_step // action_repeat
  learning_start = None  # (time, env_step, eval_s, checkpoint_s).
  # Latest value of every train metric (actor metrics come every other step).
  metrics = {}
  stop = cadence.StopOnSignal()
  with stop:
    for agent_step in range(first_agent_step, num_agent_steps):
      env_step = agent_step * action_repeat
      # A resumed run did its first step's evaluation and checkpoint before
      # it stopped.
      if agent_step > first_agent_step or not restored:
        if eval_due(env_step):
          evaluate_and_export(env_step)
        if env_step > 0 and checkpoint_due(env_step):
          save_checkpoint(env_step)
      if stop.requested:
        if last_checkpoint != env_step:
          save_checkpoint(env_step, wait=True)
        break

      # Act, then step the env in the background.
      if agent_step < config.num_random_agent_steps:
        action = action_rng.uniform(action_spec.minimum, action_spec.maximum,
                                    action_spec.shape).astype(np.float32)
      else:
        action = collect_policy.action(time_step).action
      pending_step = env_thread.submit(collector.step, action)

      # One update per agent step once replay is filled (official code).
      if agent_step >= state.learning_start_agent_step:
        if dataset_iterator is None:
          dataset_iterator = iter(replay.make_dataset(
              server.address, server.table_name,
              frame_stack=config.frame_stack, batch_size=config.batch_size,
              crop_size=config.crop_size, seed=config.seed,
              prefetch_batches=config.prefetch_batches,
              first_batch_index=int(agent.train_step_counter)))
        start = time.time()
        batch = next(dataset_iterator)
        fetched = time.time()
        step_metrics = agent.train(batch).extra
        # Reading a value waits for the step, so the timing is honest.
        float(step_metrics['critic_loss'])
        metrics.update(step_metrics)
        state.data_wait_s += fetched - start
        state.learner_s += time.time() - start
        if learning_start is None:
          # Speed is measured from the end of the first update, which traces
          # and compiles the train step.
          learning_start = (time.time(), env_step + action_repeat,
                            state.eval_s, checkpoint_s)

      time_step, finished_return = pending_step.result()
      env_step += action_repeat
      if finished_return is not None:
        state.episode_count += 1
        with summary_writer.as_default(step=env_step):
          tf.summary.scalar('train/episode_return', finished_return)
      if log_due(env_step):
        _log(summary_writer, progress, env_step, metrics, state)
    else:
      env_step = final_env_step
      if not (restored and restored.state.env_step == final_env_step):
        evaluate_and_export(final_env_step)
        save_checkpoint(final_env_step)
  learning_end = time.time()
  checkpointer.wait()
  summary_writer.flush()
  # The training env's rendering context lives on the collector thread.
  env_thread.submit(env.close).result()
  env_thread.shutdown()
  eval_env.close()
  writer.close()
  server.close()

  rows = eval_csv.rows()
  summary = {'final_eval': rows[-1] if rows else None,
             'env_step': env_step,
             'interrupted': stop.signal_name,
             'checkpoint_s': checkpoint_s,
             'learner_data_wait_fraction':
                 state.data_wait_s / max(state.learner_s, 1e-9)}
  if learning_start is not None:
    start_time, start_env_step, start_eval_s, start_checkpoint_s = (
        learning_start)
    summary['learning_env_steps_per_s'] = (
        (env_step - start_env_step) /
        (learning_end - start_time - (state.eval_s - start_eval_s) -
         (checkpoint_s - start_checkpoint_s)))
  if stop.requested:
    logging.warning('stopped by %s at env step %d; run again with the same '
                    'workdir to resume', stop.signal_name, env_step)
  logging.info('done: %s', summary)
  return summary


def _log(summary_writer, progress: run_logs.Progress, env_step: int,
         metrics: Dict[str, tf.Tensor],
         state: checkpointing.LoopState) -> None:
  """Training scalars to TensorBoard and a progress line to the console."""
  steps_per_s = progress.rate(env_step)
  with summary_writer.as_default(step=env_step):
    for name, value in metrics.items():
      tf.summary.scalar(f'train/{name}', value)
    tf.summary.scalar('perf/env_steps_per_s', steps_per_s)
    if state.learner_s > 0:
      tf.summary.scalar('perf/learner_data_wait_fraction',
                        state.data_wait_s / state.learner_s)
    tf.summary.scalar('train/episodes', state.episode_count)
  logging.info('%s', progress.line(env_step, steps_per_s))
