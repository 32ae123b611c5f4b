"""The training loop: collect, update, evaluate, log, checkpoint.

One loop for both agents: what differs (the agent, its replay table, writer
and learner) comes from the config's builder (curl_tf/builders.py).

Every budget and every logged step is in environment steps (agent steps x
action repeat), the unit of the paper's Table 1; for Atari they are emulator
frames, and eval.csv names agent steps too (Table 2's unit). The official
CURL-SAC code logs agent steps; we do not.

A run started again on the same workdir resumes from its newest complete
checkpoint (checkpointing.py): the agent, the loop's state and the replay
table come back; the environment episode in progress does not, so the
resumed run starts a new episode.
"""

from concurrent import futures
import dataclasses
import os
import random
import time
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy
from tf_agents.policies import random_py_policy

from curl_tf import builders
from curl_tf import cadence
from curl_tf import checkpointing
from curl_tf import collector as collector_lib
from curl_tf import config_lib
from curl_tf import distribution
from curl_tf import envs
from curl_tf import export
from curl_tf import precision
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


def random_policy_returns(config, num_episodes: int) -> List[float]:
  """A uniform random policy's returns on the run's evaluation env.

  The baseline a learned policy is held against: the same env and seed as
  the run's evaluations (eval_env_seed), actions drawn with config.seed.
  """
  env = envs.make_environment(config, seed=eval_env_seed(config),
                              training=False)
  policy = random_py_policy.RandomPyPolicy(
      env.time_step_spec(), env.action_spec(), seed=config.seed)
  try:
    return evaluate(env, policy, num_episodes)
  finally:
    env.close()


def make_agent(config, env):
  """Builds the config's agent (CURL-SAC or CURL-Rainbow) for `env`'s specs."""
  return builders.for_config(config).make_agent(config, env)


def _start_replay(config, env, checkpointer: checkpointing.RunCheckpointer,
                  restored) -> replay.ReplayServer:
  """The replay server, with the checkpoint's table if there is one."""
  root = checkpointer.empty_reverb_root()
  restore_from = restored.replay_dir if restored else None
  builder = builders.for_config(config)
  try:
    server = replay.start_server(builder.make_table(config, env),
                                 checkpoint_root=root,
                                 restore_from=restore_from)
  except RuntimeError as e:  # Reverb's error for a corrupt checkpoint.
    if restore_from is None:
      raise
    logging.warning('replay checkpoint %s is unreadable (%s); starting with '
                    'an empty table', restore_from, e)
    restored.replay_items = -1
    server = replay.start_server(builder.make_table(config, env),
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
          builder.learning_starts(config))
  return server


@dataclasses.dataclass
class _Run:
  """What one training process holds; built by `_start`."""
  config: Any
  workdir: str
  env: Any
  eval_env: Any
  builder: Any  # agents/<agent>/builder.py
  agent: Any
  collect_policy: Any
  eval_policy: Any
  action_rng: np.random.Generator
  checkpointer: checkpointing.RunCheckpointer
  restored: Optional[checkpointing.Restored]
  state: checkpointing.LoopState
  server: replay.ReplayServer
  writer: Any  # The agent's replay writer.
  collector: collector_lib.Collector
  env_thread: futures.ThreadPoolExecutor
  summary_writer: Any
  eval_csv: run_logs.EvalCsv
  progress: run_logs.Progress
  learner: Any = None  # The builder's Learner, made at the first update.
  # Latest value of every train metric (actor metrics come every other step).
  metrics: Dict[str, tf.Tensor] = dataclasses.field(default_factory=dict)
  checkpoint_s: float = 0.0
  last_checkpoint: Optional[int] = None
  # (time, env_step, eval_s, checkpoint_s) at the end of the first update.
  learning_start: Optional[Tuple[float, int, float, float]] = None


def train_and_evaluate(config, workdir: str,
                       tpu_address: Optional[str] = None) -> Dict[str, object]:
  """Trains the config's agent for `config.num_env_steps` environment steps.

  Resumes from WORKDIR/checkpoints when the workdir holds a run (with the
  same config but for RESUMABLE_CHANGES; config_lib checks). Stops cleanly,
  with a checkpoint, on SIGINT or SIGTERM.

  Args:
    config: a validated ConfigDict (configs/default.py and
      configs/atari/default.py document the fields).
    workdir: existing, writable directory for checkpoints, the exported
      policy, eval.csv and TensorBoard.
    tpu_address: the TPU, with config.strategy 'tpu'.

  Returns:
    A summary: 'final_eval' (the last eval.csv row, a dict), 'env_step'
    (where the run stopped), 'interrupted' (the signal's name, or None),
    'learning_env_steps_per_s' (env steps/s from the end of this process's
    first update, which compiles the train step, to the end, evaluations
    and checkpoints excluded; absent if it made no update),
    'learner_data_wait_fraction' (share of the learner's time spent waiting
    for a batch) and 'checkpoint_s' (time the loop spent checkpointing).

  Raises:
    ConfigError: the workdir holds a run with another config, or only
      unreadable checkpoints, or the strategy cannot be built here.
  """
  run = _start(config, workdir, tpu_address)
  action_repeat = config.action_repeat
  num_agent_steps = config_lib.num_agent_steps(config)
  eval_due = cadence.Every(config.eval_every_env_steps)
  log_due = cadence.Every(config.log_every_env_steps)
  checkpoint_due = cadence.Every(config.checkpoint_every_env_steps)
  first_agent_step = run.state.env_step // action_repeat
  # The env renders on a worker thread while the learner steps on this one
  # (MuJoCo and TF ops both release the GIL). The action is chosen before
  # the update, so the order is the official code's: act, update, step.
  time_step = run.env_thread.submit(run.collector.reset).result()
  with cadence.StopOnSignal() as stop:
    for agent_step in range(first_agent_step, num_agent_steps):
      env_step = agent_step * action_repeat
      # A resumed run evaluated and checkpointed its first step already.
      if agent_step > first_agent_step or not run.restored:
        if eval_due(env_step):
          _evaluate_and_export(run, env_step)
        if env_step > 0 and checkpoint_due(env_step):
          _save_checkpoint(run, env_step)
      if stop.requested:
        _save_checkpoint(run, env_step, wait=True)
        break
      pending_step = run.env_thread.submit(
          run.collector.step, _act(run, agent_step, time_step))
      # One update per agent step once replay is filled (official code).
      if agent_step >= run.state.learning_start_agent_step:
        _update(run, env_step)
      time_step, finished_return = pending_step.result()
      env_step += action_repeat
      if finished_return is not None:
        run.state.episode_count += 1
        with run.summary_writer.as_default(step=env_step):
          tf.summary.scalar('train/episode_return', finished_return)
      if log_due(env_step):
        _log(run, env_step)
    else:
      env_step = num_agent_steps * action_repeat
      if run.state.env_step < env_step or not run.restored:
        _evaluate_and_export(run, env_step)
        _save_checkpoint(run, env_step)
  return _finish(run, env_step, stop.signal_name)


def _start(config, workdir: str, tpu_address: Optional[str]) -> _Run:
  """Builds the envs, agent and replay; restores the newest checkpoint."""
  strategy = distribution.make_strategy(config.strategy, tpu_address)
  distribution.check_batch_size(strategy, config.batch_size)
  # The run's config.json records the precision 'auto' picked here (after
  # the strategy: on a TPU it is known only once connected). A resume on a
  # machine where 'auto' picks another one is then refused, by name, rather
  # than changing the run's number format halfway.
  config = config.copy_and_resolve_references()
  config.precision = precision.resolve(config.precision)
  config_lib.save_or_check_run_config(config, workdir)
  set_seeds(config.seed)
  env = envs.make_environment(config, seed=config.seed)
  # A different seed so evaluation episodes differ from training ones.
  eval_env = envs.make_environment(config, seed=eval_env_seed(config),
                                   training=False)
  builder = builders.for_config(config)
  with strategy.scope():
    agent = make_agent(config, env)
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
        learning_start_agent_step=builder.learning_starts(config))
  # What an earlier process wrote after its last checkpoint is redone now.
  run_logs.prune_after(workdir, state.env_step if restored else -1)
  server = _start_replay(config, env, checkpointer, restored)
  writer = builder.make_writer(config, server, agent)
  logging.info('Training %s for %d env steps (%d agent steps, action '
               'repeat %d), %s (precision=%s; CPU: %s), learner: %s.',
               builder.describe(config), config.num_env_steps,
               config_lib.num_agent_steps(config), config.action_repeat,
               precision.resolve(config.precision), config.precision,
               precision.cpu_model(), distribution.describe(strategy))
  return _Run(
      config=config, workdir=workdir, env=env, eval_env=eval_env,
      builder=builder, agent=agent,
      collect_policy=py_tf_eager_policy.PyTFEagerPolicy(
          agent.collect_policy, use_tf_function=True),
      eval_policy=py_tf_eager_policy.PyTFEagerPolicy(
          agent.eval_policy, use_tf_function=True),
      action_rng=action_rng, checkpointer=checkpointer, restored=restored,
      state=state, server=server, writer=writer,
      collector=collector_lib.Collector(env, writer),
      env_thread=futures.ThreadPoolExecutor(
          1, thread_name_prefix='collector'),
      summary_writer=tf.summary.create_file_writer(workdir),
      eval_csv=run_logs.EvalCsv(os.path.join(workdir, 'eval.csv')),
      progress=run_logs.Progress(config.num_env_steps, state.env_step),
      last_checkpoint=state.env_step if restored else None)


def _act(run: _Run, agent_step: int, time_step) -> np.ndarray:
  """Uniform random for Table 3's first agent steps, then the policy."""
  if agent_step < run.config.num_random_agent_steps:
    return run.builder.random_action(run.env, run.action_rng)
  return run.collect_policy.action(time_step).action


def _update(run: _Run, env_step: int) -> None:
  """One train step on a fresh batch, timed."""
  config = run.config
  if run.learner is None:
    run.learner = run.builder.Learner(config, run.agent, run.server)
  start = time.time()
  batch = run.learner.next_batch()
  fetched = time.time()
  # Returns once the step's values are computed, so the timing is honest.
  step_metrics = run.learner.step(batch, env_step // config.action_repeat)
  run.metrics.update(step_metrics)
  run.state.data_wait_s += fetched - start
  run.state.learner_s += time.time() - start
  if run.learning_start is None:
    # Speed is measured from the end of the first update, which traces and
    # compiles the train step.
    run.learning_start = (time.time(), env_step + config.action_repeat,
                          run.state.eval_s, run.checkpoint_s)


def _evaluate_and_export(run: _Run, env_step: int) -> None:
  """Evaluates the greedy policy, logs it, and exports the policies."""
  config = run.config
  start = time.time()
  returns = evaluate(run.eval_env, run.eval_policy, config.num_eval_episodes)
  row = dict(env_step=env_step, agent_step=env_step // config.action_repeat,
             return_mean=float(np.mean(returns)),
             return_std=float(np.std(returns)),
             return_min=float(np.min(returns)),
             return_max=float(np.max(returns)),
             num_episodes=len(returns),
             wall_time_s=round(time.time() - run.progress.start_time, 1))
  run.eval_csv.append(row)
  with run.summary_writer.as_default(step=env_step):
    tf.summary.scalar('eval/return_mean', row['return_mean'])
    tf.summary.scalar('eval/return_std', row['return_std'])
  run.progress.last_eval = f'{row["return_mean"]:.1f} @ {env_step}'
  logging.info('eval @ env_step %d: return %.1f +- %.1f over %d episodes',
               env_step, row['return_mean'], row['return_std'], len(returns))
  export.export_policies(run.agent, run.workdir, export.policy_info(
      config, env_step, row['return_mean']))
  run.state.eval_s += time.time() - start


def _save_checkpoint(run: _Run, env_step: int, wait: bool = False) -> None:
  """Checkpoints the run at `env_step` (once: a second call is a no-op)."""
  if run.last_checkpoint == env_step:
    return
  start = time.time()
  # Items whose frames sit in an unfinished chunk reach the table only on a
  # flush; the writer lives on the collector thread.
  run.env_thread.submit(run.writer.flush).result()
  run.summary_writer.flush()
  run.state.env_step = env_step
  run.state.action_rng_state = run.action_rng.bit_generator.state
  run.checkpointer.save(run.state, run.server.address, run.server.table_name,
                        wait=wait)
  run.checkpoint_s += time.time() - start
  run.last_checkpoint = env_step


def _finish(run: _Run, env_step: int,
            signal_name: Optional[str]) -> Dict[str, object]:
  """Waits for the last checkpoint, closes everything, returns the summary."""
  learning_end = time.time()
  run.checkpointer.wait()
  run.summary_writer.flush()
  # The training env's rendering context lives on the collector thread.
  run.env_thread.submit(run.env.close).result()
  run.env_thread.shutdown()
  run.eval_env.close()
  run.writer.close()
  run.server.close()
  rows = run.eval_csv.rows()
  state = run.state
  summary = {'final_eval': rows[-1] if rows else None, 'env_step': env_step,
             'interrupted': signal_name, 'checkpoint_s': run.checkpoint_s,
             'learner_data_wait_fraction':
                 state.data_wait_s / max(state.learner_s, 1e-9)}
  if run.learning_start is not None:
    start_time, start_env_step, start_eval_s, start_checkpoint_s = (
        run.learning_start)
    summary['learning_env_steps_per_s'] = (
        (env_step - start_env_step) /
        (learning_end - start_time - (state.eval_s - start_eval_s) -
         (run.checkpoint_s - start_checkpoint_s)))
  if signal_name:
    logging.warning('stopped by %s at env step %d; run again with the same '
                    'workdir to resume', signal_name, env_step)
  logging.info('done: %s', summary)
  return summary


def _log(run: _Run, env_step: int) -> None:
  """Training scalars to TensorBoard and a progress line to the console."""
  state = run.state
  steps_per_s = run.progress.rate(env_step)
  with run.summary_writer.as_default(step=env_step):
    for name, value in run.metrics.items():
      tf.summary.scalar(f'train/{name}', value)
    tf.summary.scalar('perf/env_steps_per_s', steps_per_s)
    if state.learner_s > 0:
      tf.summary.scalar('perf/learner_data_wait_fraction',
                        state.data_wait_s / state.learner_s)
    tf.summary.scalar('train/episodes', state.episode_count)
  logging.info('%s', run.progress.line(env_step, steps_per_s))
