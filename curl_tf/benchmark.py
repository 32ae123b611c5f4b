r"""Measures what makes CURL-SAC fast or slow on this machine, against targets.

  python -m curl_tf.benchmark            # a table: value, unit, target, pass
  python -m curl_tf.benchmark --json     # the same as one JSON line, last
  python -m curl_tf.benchmark --quick    # tiny budgets (~2 min), for tests
  python -m curl_tf.benchmark --only=train_step,encoder
  python -m curl_tf.benchmark --official_repo=/tmp/official_curl \
      --official_python=/tmp/torch_venv/bin/python   # and the official one

Measurements (each a function returning a dict; `--only` picks them):

* train_step: median ms of the compiled joint train step at batch 128 and
  512, and of the sequential step at 128, on a fixed synthetic batch.
* encoder: the encoder's forward FLOPs per image, counted from its layer
  shapes, and its measured FLOP rate; together they give the FLOP floor of a
  joint step (`flop_limit_ms`).
* replay: Reverb memory per stored transition (process RSS growth over real
  rendered frames) and batches/s and CPU cores of the Reverb -> tf.data
  pipeline on that table, at full speed and paced at 10 batches/s.
* collect: env steps/s of the collecting actor alone.
* train_loop: env steps/s of the whole single-process loop while learning,
  and the share of learner time spent waiting for data.
* overlap (own process, one learner thread): how much of the collect time
  the loop hides behind the train step.
* full_replay (own process): RSS of a process training at batch 512 with
  100k real transitions in replay.
* atari: CURL-Rainbow's update at batch 32 (updates/s), agent steps/s of its
  whole training loop, and replay bytes per stored 84x84 frame
  (agents/rainbow/benchmark.py).

With --official_repo (a checkout of github.com/MishaLaskin/curl) and
--official_python (an interpreter with torch), the official PyTorch agent's
update at batch 128 is timed first, in a subprocess, in the same run (see
curl_tf/official_update.py for what exactly), and the joint and sequential
steps are compared with it: `official_update_ms_b128` and
`speedup_{joint,sequential}_vs_official`. Without them no official figure
and no ratio is reported: a figure from another machine or day would not
compare. A bad value of either flag, or a failed official timing, ends the
run before anything else is measured, with one line on stderr
(`curl_tf: error: ...`, after the lines TensorFlow prints as it loads) and
exit code 2.

Every timing forces completion by reading a value back (`float(...)` or
`.numpy()`), so asynchronous execution cannot flatter it. Other processes
on the machine slow everything down; the load average at start and end is
reported to show it.
"""

import dataclasses
import datetime
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, NoReturn, Optional, Sequence

# Set before anything imports dm_control (which picks its GL backend then)
# or TensorFlow (whose C++ INFO lines would bury the table).
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy

from curl_tf.agents.rainbow import benchmark as atari_benchmark
from curl_tf.agents.sac import networks
from curl_tf import collector as collector_lib
from curl_tf import config_lib
from curl_tf import envs
from curl_tf.envs import dmc
from curl_tf import official_update
from curl_tf import precision
from curl_tf import replay
from curl_tf import timing
from curl_tf import train_lib
# pylint: enable=g-import-not-at-top,wrong-import-position

_JSON = flags.DEFINE_bool('json', False,
                          'Print one JSON object (the last line) instead of '
                          'a table.')
_QUICK = flags.DEFINE_bool('quick', False,
                           'Tiny budgets (~2 minutes): checks the benchmark '
                           'runs, not the machine.')
_ONLY = flags.DEFINE_list('only', None,
                          'Measurements to run (default all): '
                          'train_step, encoder, replay, collect, train_loop, '
                          'overlap, full_replay, atari.')

_LEARNER_THREADS = flags.DEFINE_integer(
    'learner_threads', None,
    "TF's intra- and inter-op threads (default: TF's choice, every core). "
    'The overlap measurement runs itself with 1.')

_OFFICIAL_REPO = flags.DEFINE_string(
    'official_repo', None,
    'A checkout of github.com/MishaLaskin/curl: time its agent update at '
    'batch 128 in the same run (needs --official_python).')
_OFFICIAL_PYTHON = flags.DEFINE_string(
    'official_python', None,
    'A Python interpreter with torch and numpy, which runs the official '
    'update (needs --official_repo).')

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'configs', 'default.py')

_ERROR_PREFIX = 'curl_tf: error: '
# Exit code for bad input, as main.py's.
_USAGE_EXIT_CODE = 2

# The sequential step's target: this much faster than the official update
# timed in the same run.
SEQUENTIAL_SPEEDUP_TARGET = 2.5

# Encoder forward passes per image in the cheapest possible joint step:
# forward + backward through the anchor (~3 forward passes: the backward
# computes gradients for both activations and weights), plus no-gradient
# forwards of next_obs through the online and the target encoder and of the
# positive through the target encoder.
JOINT_STEP_ENCODER_PASSES = 6

GIB = 2**30

# Delivery rate of the paced pipeline measurement: the target, 10
# batches/s at batch 128 on at most one core.
PACED_BATCHES_PER_S = 10.0


@dataclasses.dataclass(frozen=True)
class Budget:
  """How much each measurement runs.

  Attributes:
    warmup_steps: train steps before timing: the first two trace the step
      (with and without the actor/target update), the rest settle.
    b128_steps: timed joint steps at batch 128 (even: actor/target updates
      come every 2nd step, so both kinds of step count equally).
    b512_steps: timed joint steps at batch 512 (even).
    sequential_steps: timed sequential steps at batch 128 (even).
    encoder_reps: timed encoder forward passes.
    transitions: real rendered transitions put in replay.
    pipeline_batches: timed batches out of the tf.data pipeline.
    collect_steps: timed agent steps of the collecting actor.
    loop_random_steps: random agent steps before the loop starts learning.
    loop_learning_steps: learning agent steps of the training loop.
    overlap_steps: timed train steps and learning agent steps of the
      overlap measurement (batch OVERLAP_BATCH_SIZE, one learner thread).
    full_replay_transitions: transitions written into the full-replay
      measurement's table (its capacity is 100k; more evicts).
    full_replay_train_steps: train steps at batch 512 on that table.
    atari_replay_steps: random Atari agent steps written to replay.
    atari_update_steps: timed CURL-Rainbow updates (batch 32).
    atari_loop_random_steps: random agent steps before the Atari loop
      learns.
    atari_loop_learning_steps: learning agent steps of the Atari loop.
  """
  warmup_steps: int
  b128_steps: int
  b512_steps: int
  sequential_steps: int
  encoder_reps: int
  transitions: int
  pipeline_batches: int
  collect_steps: int
  loop_random_steps: int
  loop_learning_steps: int
  overlap_steps: int
  full_replay_transitions: int
  full_replay_train_steps: int
  atari_replay_steps: int
  atari_update_steps: int
  atari_loop_random_steps: int
  atari_loop_learning_steps: int


FULL = Budget(warmup_steps=4, b128_steps=20, b512_steps=6,
              sequential_steps=10, encoder_reps=10, transitions=10_000,
              pipeline_batches=100, collect_steps=200, loop_random_steps=100,
              loop_learning_steps=176, overlap_steps=300,
              full_replay_transitions=110_000, full_replay_train_steps=6,
              atari_replay_steps=10_000, atari_update_steps=50,
              atari_loop_random_steps=200, atari_loop_learning_steps=400)
QUICK = Budget(warmup_steps=2, b128_steps=4, b512_steps=2,
               sequential_steps=2, encoder_reps=3, transitions=600,
               pipeline_batches=5, collect_steps=20, loop_random_steps=20,
               loop_learning_steps=10, overlap_steps=10,
               full_replay_transitions=1_000, full_replay_train_steps=2,
               atari_replay_steps=300, atari_update_steps=3,
               atari_loop_random_steps=40, atari_loop_learning_steps=10)

# Batch of the overlap measurement: small, so that the render time the loop
# must hide is a visible share of a one-thread train step.
OVERLAP_BATCH_SIZE = 32
# Capacity of the full-replay measurement: the paper's (Table 3).
FULL_REPLAY_CAPACITY = 100_000


def default_config(**overrides):
  """configs/default.py (the official architecture, Table 3) + overrides.

  In float32 unless `overrides` say otherwise: the default precision,
  'auto', depends on the CPU, and figures of one number format compare
  across machines (bfloat16 is measured beside it, by name).
  """
  config = config_lib.load_config_file(_DEFAULT_CONFIG)
  config.precision = 'float32'
  config.update(overrides)
  return config


# --- Arithmetic --------------------------------------------------------------


def encoder_forward_flops(encoder: networks.PixelEncoder,
                          crop_size: int, channels: int) -> int:
  """FLOPs of one encoder forward pass on one image, from the layer shapes.

  Counts multiply-adds as 2 FLOPs in the convolutions and the head's dense
  layers; biases, ReLUs and the LayerNorm (under 0.5% together) are left out.

  Args:
    encoder: the encoder; built here if it is not yet.
    crop_size: side of the (square) input crop.
    channels: input channels (3 x frame_stack).

  Returns:
    FLOPs per image.
  """
  x = tf.zeros([1, crop_size, crop_size, channels], tf.float32)
  flops = 0
  for conv in encoder.trunk.convs:
    x = conv(x)  # Builds the layer and gives its output shape.
    kernel_h, kernel_w, in_channels, _ = conv.kernel.shape
    # One multiply-add per output value and kernel tap.
    flops += 2 * int(np.prod(x.shape[1:])) * kernel_h * kernel_w * in_channels
  features = int(np.prod(x.shape[1:]))
  encoder.head(tf.zeros([1, features]))  # Builds the head's layers.
  for dense in encoder.head.projection.layers:
    flops += 2 * int(np.prod(dense.kernel.shape))
  return flops


def flop_limit_ms(batch_size: int, flops_per_image: float,
                  flops_per_s: float,
                  passes: int = JOINT_STEP_ENCODER_PASSES) -> float:
  """The floor of a joint train step: its encoder passes at the encoder's rate.

  Args:
    batch_size: images per batch.
    flops_per_image: FLOPs of one encoder forward pass on one image.
    flops_per_s: measured encoder FLOP rate.
    passes: encoder forward-pass equivalents per image in one step.

  Returns:
    Milliseconds.
  """
  return 1000.0 * passes * batch_size * flops_per_image / flops_per_s


# --- Measurements ------------------------------------------------------------


def _synthetic_batch(batch_size: int, config, action_dim: int, seed: int = 0):
  """A fixed training batch of random crops, as replay.make_dataset yields."""
  rng = np.random.default_rng(seed)
  shape = (batch_size, config.crop_size, config.crop_size,
           3 * config.frame_stack)

  def pixels():
    return tf.constant(rng.integers(0, 256, shape, dtype=np.uint8))

  return {
      'obs': pixels(), 'next_obs': pixels(), 'pos': pixels(),
      'action': tf.constant(
          rng.uniform(-1, 1, (batch_size, action_dim)).astype(np.float32)),
      'reward': tf.constant(rng.uniform(0, 1, batch_size).astype(np.float32)),
      'discount': tf.ones([batch_size]),
  }


def time_train_step(config, batch_size: int, num_steps: int,
                    warmup_steps: int):
  """Median and mean ms of `agent.train(batch)` on one fixed batch.

  Args:
    config: agent config (update_mode selects the step).
    batch_size: batch size.
    num_steps: timed steps; even, so steps with and without the actor and
      target updates count equally.
    warmup_steps: untimed steps first (tracing happens here).

  Returns:
    (median_ms, mean_ms).
  """
  env = envs.make_environment(config, seed=config.seed)
  agent = train_lib.make_agent(config, env)
  batch = _synthetic_batch(batch_size, config,
                           int(np.prod(env.action_spec().shape)))

  def step():
    # Reading a metric waits for the whole step.
    float(agent.train(batch).extra['critic_loss'])

  timing.time_calls(step, warmup_steps)
  return timing.median_and_mean_ms(timing.time_calls(step, num_steps))


def measure_train_step(budget: Budget) -> Dict[str, float]:
  """Joint step at batch 128 and 512, sequential step at 128, and the joint
  step at 128 in mixed_bfloat16 (in the same run, so the two compare)."""
  results = {}
  for name, batch_size, mode, number_format, steps in (
      ('train_step_ms_b128', 128, 'joint', 'float32', budget.b128_steps),
      ('train_step_ms_b512', 512, 'joint', 'float32', budget.b512_steps),
      ('train_step_ms_b128_sequential', 128, 'sequential', 'float32',
       budget.sequential_steps),
      ('train_step_ms_b128_bf16', 128, 'joint', 'mixed_bfloat16',
       budget.b128_steps)):
    median, mean = time_train_step(
        default_config(update_mode=mode, precision=number_format),
        batch_size, steps, budget.warmup_steps)
    results[name] = median
    results[name + '_mean'] = mean
    gc.collect()
  return results


def measure_encoder(budget: Budget, batch_size: int = 128) -> Dict[str, float]:
  """Encoder FLOPs per image, its FLOP rate, and the joint step's FLOP floor.

  Both number formats: the floor moves with the format (bfloat16 runs on AMX
  tiles where the CPU has them).

  Args:
    budget: how many forward passes to time.
    batch_size: batch of the timed forward pass (and of the floor).

  Returns:
    'encoder_mflop_per_image', 'encoder_forward_ms_b128',
    'encoder_gflops_per_s', 'flop_limit_ms_b128', and the same three with
    the suffix '_bf16'.
  """
  results = {}
  for number_format, suffix in (('float32', ''), ('mixed_bfloat16', '_bf16')):
    results.update({
        key + suffix: value for key, value in _encoder_rate(
            default_config(precision=number_format), budget,
            batch_size).items()})
  return results


def _encoder_rate(config, budget: Budget,
                  batch_size: int) -> Dict[str, float]:
  """measure_encoder's figures for one config."""
  encoder = networks.make_encoder(config)
  channels = 3 * config.frame_stack
  flops_per_image = encoder_forward_flops(encoder, config.crop_size, channels)
  # Compiled like the train step, so the rate is the one the step can reach.
  forward = tf.function(encoder, jit_compile=config.jit_compile)
  pixels = tf.constant(np.random.default_rng(0).integers(
      0, 256, (batch_size, config.crop_size, config.crop_size, channels),
      dtype=np.uint8))
  timing.time_calls(lambda: forward(pixels).numpy(), 3)  # Trace and settle.
  forward_ms, _ = timing.median_and_mean_ms(
      timing.time_calls(lambda: forward(pixels).numpy(), budget.encoder_reps))
  flops_per_s = batch_size * flops_per_image / (forward_ms / 1000.0)
  rates = {
      'encoder_forward_ms_b128': forward_ms,
      'encoder_gflops_per_s': flops_per_s / 1e9,
      'flop_limit_ms_b128': flop_limit_ms(batch_size, flops_per_image,
                                          flops_per_s),
  }
  if config.precision == 'float32':
    rates['encoder_mflop_per_image'] = flops_per_image / 1e6
  return rates


@dataclasses.dataclass
class Transitions:
  """Rendered episodes, flat: row i is a reset frame or a step's result.

  Attributes:
    frames: uint8 [N, H, W, 3].
    first: bool [N], True where the row starts an episode (reset frame).
    actions: float32 [N, A] (zeros on reset rows).
    rewards: float32 [N].
    discounts: float32 [N].
  """
  frames: np.ndarray
  first: np.ndarray
  actions: np.ndarray
  rewards: np.ndarray
  discounts: np.ndarray

  @property
  def num_transitions(self) -> int:
    return int(np.sum(~self.first))


def render_transitions(config, num_transitions: int,
                       seed: int = 0) -> Transitions:
  """Renders `num_transitions` real transitions with uniform random actions.

  Args:
    config: environment config.
    num_transitions: agent steps to take (resets are extra rows).
    seed: environment and action seed.

  Returns:
    The transitions, in preallocated arrays (so their memory is all
    resident before anything is measured against it).
  """
  env = envs.make_environment(config, seed=seed)
  spec = env.action_spec()
  rng = np.random.default_rng(seed)
  # An upper bound on the rows: every episode adds one reset row.
  max_rows = num_transitions + num_transitions // 10 + 2
  frame_shape = (config.image_size, config.image_size, dmc.FRAME_CHANNELS)
  frames = np.zeros((max_rows,) + frame_shape, np.uint8)
  first = np.zeros(max_rows, bool)
  actions = np.zeros((max_rows,) + spec.shape, np.float32)
  rewards = np.zeros(max_rows, np.float32)
  discounts = np.ones(max_rows, np.float32)
  row, steps, time_step = 0, 0, None
  while steps < num_transitions:
    if time_step is None or time_step.is_last():
      time_step = env.reset()
      first[row] = True
    else:
      actions[row] = rng.uniform(spec.minimum, spec.maximum, spec.shape)
      time_step = env.step(actions[row])
      rewards[row], discounts[row] = time_step.reward, time_step.discount
      steps += 1
    frames[row] = dmc.newest_frame(time_step.observation)
    row += 1
  env.close()
  return Transitions(frames[:row], first[:row], actions[:row], rewards[:row],
                     discounts[:row])


def write_transitions(transitions: Transitions,
                      writer: replay.ReplayWriter) -> int:
  """Writes the transitions as the training loop does; returns how many."""
  for i in range(len(transitions.frames)):
    if transitions.first[i]:
      writer.start_episode(transitions.frames[i])
    else:
      writer.add(transitions.actions[i], transitions.rewards[i],
                 transitions.discounts[i], transitions.frames[i])
  return transitions.num_transitions


def measure_pipeline(server: replay.ReplayServer, config, batch_size: int,
                     num_batches: int) -> Dict[str, float]:
  """Batches/s and CPU cores of replay.make_dataset, learner not running."""
  dataset = replay.make_dataset(
      server.address, server.table_name, frame_stack=config.frame_stack,
      batch_size=batch_size, crop_size=config.crop_size, seed=config.seed,
      prefetch_batches=config.prefetch_batches)
  iterator = iter(dataset)

  def next_batch():
    # Reading a value waits for the batch itself, not just its handle.
    next(iterator)['reward'].numpy()

  timing.time_calls(next_batch, 3)  # Starts the readers and tf.data's threads.
  cpu_start, start = timing.cpu_seconds(), time.perf_counter()
  timing.time_calls(next_batch, num_batches)
  wall = time.perf_counter() - start
  cpu = timing.cpu_seconds() - cpu_start
  # At full speed the one tf.data thread is busy and Reverb's sampler threads
  # run beside it, so the process uses a little over one core. Paced at a
  # fixed delivery rate (the learner takes 2-3 batches/s at batch 128) the
  # same pipeline shows what that rate costs.
  paced_cpu_start, paced_start = timing.cpu_seconds(), time.perf_counter()
  for i in range(num_batches):
    next_batch()
    time.sleep(max(0.0, paced_start + (i + 1) / PACED_BATCHES_PER_S -
                   time.perf_counter()))
  paced_wall = time.perf_counter() - paced_start
  paced_cpu = timing.cpu_seconds() - paced_cpu_start
  return {f'pipeline_batches_per_s_b{batch_size}': num_batches / wall,
          f'pipeline_cpu_cores_b{batch_size}': cpu / wall,
          f'pipeline_paced_batches_per_s_b{batch_size}':
              num_batches / paced_wall,
          f'pipeline_paced_cpu_cores_b{batch_size}': paced_cpu / paced_wall}


def measure_replay(budget: Budget) -> Dict[str, float]:
  """Replay memory per transition, and the pipeline on that table.

  Frames are rendered first into one numpy array, so the renderer's memory
  is not counted; a fresh server then receives them through ReplayWriter and
  the growth of this process's RSS (the server is in-process) over the
  inserts is the replay's memory.

  Returns:
    'replay_bytes_per_transition', 'replay_baseline_rss_gb',
    'replay_rss_gb_100k_estimate', 'replay_transitions', and the pipeline's
    batches/s and CPU cores at batch 128.
  """
  config = default_config()
  transitions = render_transitions(config, budget.transitions)
  count = transitions.num_transitions
  server = replay.make_replay_server(
      config, action_dim=transitions.actions.shape[-1])
  try:
    writer = replay.ReplayWriter(server.address, server.table_name,
                                 config.frame_stack)
    rss_before = timing.rss()
    write_transitions(transitions, writer)
    writer.close()
    rss_after = timing.rss()
    if replay.table_size(server.address, server.table_name) != count:
      raise RuntimeError('not every transition reached the table')
    bytes_per_transition = (rss_after - rss_before) / count
    # A training process holds what this one held before the inserts (TF,
    # a renderer and, after the train_step measurement, an agent that has
    # stepped at batch 512) minus the pre-rendered frames, which a training
    # run does not keep. Conservative: freed agents and batches of earlier
    # measurements stay in RSS too (malloc rarely returns memory).
    baseline = rss_before - transitions.frames.nbytes
    results = {
        'replay_transitions': count,
        'replay_bytes_per_transition': bytes_per_transition,
        'replay_baseline_rss_gb': baseline / GIB,
        'replay_rss_gb_100k_estimate':
            (baseline + 100_000 * bytes_per_transition) / GIB,
    }
    del transitions
    results.update(measure_pipeline(server, config, 128,
                                    budget.pipeline_batches))
  finally:
    server.close()
  return results


def measure_collect(budget: Budget, warmup_steps: int = 5) -> Dict[str, float]:
  """Env steps/s of the collecting actor alone: render, act, insert."""
  config = default_config()
  env = envs.make_environment(config, seed=config.seed)
  agent = train_lib.make_agent(config, env)
  policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy,
                                              use_tf_function=True)
  server = replay.make_replay_server(
      default_config(replay_capacity=10_000),
      action_dim=int(np.prod(env.action_spec().shape)))
  writer = replay.ReplayWriter(server.address, server.table_name,
                               config.frame_stack)
  # The training loop's own collector: render, insert, reset at episode end.
  collector = collector_lib.Collector(env, writer)
  time_step = collector.reset()

  def agent_step():
    nonlocal time_step
    time_step, _ = collector.step(policy.action(time_step).action)

  try:
    timing.time_calls(agent_step, warmup_steps)  # Traces the policy.
    seconds = sum(timing.time_calls(agent_step, budget.collect_steps))
  finally:
    writer.close()
    server.close()
  return {'env_steps_per_s':
              budget.collect_steps * config.action_repeat / seconds}


def measure_train_loop(budget: Budget, batch_size: int = 128,
                       learning_steps: Optional[int] = None
                       ) -> Dict[str, float]:
  """train_lib.train_and_evaluate on cartpole swingup, a small budget.

  One evaluation episode at the start and the end only; the rate is
  train_lib's own, over the learning steps, evaluations excluded.

  Args:
    budget: random and learning agent steps.
    batch_size: the learner's batch.
    learning_steps: overrides budget.loop_learning_steps.
  """
  probe = default_config()
  if learning_steps is None:
    learning_steps = budget.loop_learning_steps
  num_agent_steps = budget.loop_random_steps + learning_steps
  num_env_steps = config_lib.agent_to_env_steps(num_agent_steps,
                                                probe.action_repeat)
  config = default_config(
      batch_size=batch_size, num_random_agent_steps=budget.loop_random_steps,
      num_env_steps=num_env_steps, eval_every_env_steps=num_env_steps,
      log_every_env_steps=num_env_steps, num_eval_episodes=1)
  config_lib.validate_config(config)
  with tempfile.TemporaryDirectory() as workdir:
    summary = train_lib.train_and_evaluate(config, workdir)
  return {
      'train_loop_env_steps_per_s': float(
          summary['learning_env_steps_per_s']),
      'learner_data_wait_fraction': float(
          summary['learner_data_wait_fraction']),
  }


def _run_child(only: str, budget: Budget,
               extra_flags: Sequence[str] = ()) -> Dict[str, float]:
  """Runs measurement `only` in a fresh Python process; returns its results.

  A fresh process has its own TF thread pools (fixed at TF's first op) and
  its own RSS, untouched by earlier measurements.
  """
  command = [sys.executable, '-m', 'curl_tf.benchmark', '--json',
             f'--only={only}', *extra_flags]
  if budget == QUICK:
    command.append('--quick')
  repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(command, cwd=repo_root, capture_output=True,
                          text=True, check=False)
  if result.returncode != 0:
    raise RuntimeError(f'{" ".join(command)} failed:\n'
                       f'{result.stderr[-3000:]}')
  child = json.loads(result.stdout.strip().splitlines()[-1])
  return {key: value for key, value in child.items()
          if isinstance(value, (int, float)) and not isinstance(value, bool)
          and key not in ('wall_time_s', 'load_average_1m_start',
                          'load_average_1m_end')}


def measure_overlap(budget: Budget) -> Dict[str, float]:
  """Does the loop hide the env's render behind the train step?

  On this 2-core CPU the train step already uses both cores, so any other
  work (render, pipeline) takes CPU from it and the loop cannot beat the
  step alone (the train_loop measurement). With a one-thread learner a core
  is free, as with a learner on an accelerator, and the loop should run at
  the train step's rate, not at the rate of step + collect in series.
  """
  return _run_child('learner_on_one_thread', budget,
                    ['--learner_threads=1'])


def measure_learner_on_one_thread(budget: Budget) -> Dict[str, float]:
  """The overlap measurement's child (run with --learner_threads=1)."""
  config = default_config(batch_size=OVERLAP_BATCH_SIZE)
  step_ms, _ = time_train_step(config, OVERLAP_BATCH_SIZE,
                               budget.overlap_steps, budget.warmup_steps)
  collect_env_steps_per_s = measure_collect(budget)['env_steps_per_s']
  loop = measure_train_loop(budget, batch_size=OVERLAP_BATCH_SIZE,
                            learning_steps=budget.overlap_steps)
  action_repeat = config.action_repeat
  step_s = step_ms / 1000.0
  collect_s = action_repeat / collect_env_steps_per_s  # Per agent step.
  loop_s = action_repeat / loop['train_loop_env_steps_per_s']
  return {
      'overlap_hidden_fraction': overlap_hidden_fraction(step_s, collect_s,
                                                         loop_s),
      'overlap_train_step_ms': step_ms,
      'overlap_collect_ms_per_agent_step': 1000.0 * collect_s,
      'overlap_loop_env_steps_per_s': loop['train_loop_env_steps_per_s'],
      'overlap_step_bound_env_steps_per_s': action_repeat / step_s,
      'overlap_serial_bound_env_steps_per_s':
          action_repeat / (step_s + collect_s),
  }


def overlap_hidden_fraction(step_s: float, collect_s: float,
                            loop_s: float) -> float:
  """Share of the collect time the loop hides, from per-agent-step seconds.

  1: the loop takes one train step per agent step (collect fully hidden);
  0: step and collect run in series; below 0: worse than serial.
  """
  return (step_s + collect_s - loop_s) / collect_s


def measure_full_replay(budget: Budget) -> Dict[str, float]:
  """RSS of a training process whose replay holds 100k real transitions."""
  return _run_child('full_replay_child', budget)


def measure_full_replay_child(budget: Budget) -> Dict[str, float]:
  """Fills a 100k table with real frames and trains on it at batch 512.

  Rendering 100k frames takes ~35 minutes here, so 2,000 rendered
  transitions (cartpole swingup, uniform random actions) are written over
  and over; Reverb compresses each 2-step chunk on its own, so repeats cost
  what new frames of the same task cost. The table then holds
  FULL_REPLAY_CAPACITY items (more writes evict), the agent takes train steps
  at the default batch (512) from the real pipeline, and the process's RSS,
  which includes TF, the agent, the renderer and the server, is read.
  """
  config = default_config(replay_capacity=FULL_REPLAY_CAPACITY)
  env = envs.make_environment(config, seed=config.seed)
  agent = train_lib.make_agent(config, env)
  transitions = render_transitions(
      config, min(2000, budget.full_replay_transitions))
  server = replay.make_replay_server(
      config, action_dim=transitions.actions.shape[-1])
  try:
    writer = replay.ReplayWriter(server.address, server.table_name,
                                 config.frame_stack)
    written = 0
    while written < budget.full_replay_transitions:
      written += write_transitions(transitions, writer)
    writer.close()
    del transitions
    size = replay.table_size(server.address, server.table_name)
    dataset = replay.make_dataset(
        server.address, server.table_name, frame_stack=config.frame_stack,
        batch_size=config.batch_size, crop_size=config.crop_size,
        seed=config.seed, prefetch_batches=config.prefetch_batches)
    iterator = iter(dataset)
    for _ in range(budget.full_replay_train_steps):
      float(agent.train(next(iterator)).extra['critic_loss'])
    rss = timing.rss()
  finally:
    server.close()
  # ru_maxrss is in KiB on Linux.
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  return {'full_replay_items': size,
          'full_replay_rss_gb': rss / GIB,
          'full_replay_peak_rss_gb': peak / GIB}


def measure_official(budget: Budget, official_repo: str,
                     official_python: str) -> Dict[str, object]:
  """The official PyTorch agent's update at batch 128, in a subprocess.

  As many warm-up and timed steps as the joint step at batch 128 gets; see
  curl_tf/official_update.py for the agent, the batch and the steps.
  """
  return official_results(official_update.measure(
      official_repo, official_python, batch_size=128,
      warmup_steps=budget.warmup_steps, steps=budget.b128_steps))


def official_results(official: Dict[str, object]) -> Dict[str, object]:
  """The benchmark's keys for official_update.parse_output's result."""
  return {
      # The median over steps with and without the actor and target
      # updates, as train_step_ms_b128's.
      'official_update_ms_b128': official['update_ms_median'],
      'official_update_ms_b128_mean': official['update_ms_mean'],
      'official_update_ms_b128_min': official['update_ms_min'],
      'official_update_ms_b128_actor_steps':
          official['update_ms_median_actor_steps'],
      'official_update_ms_b128_critic_steps':
          official['update_ms_median_critic_steps'],
      'official_update_timed_steps': official['timed_steps'],
      'official_torch_version': official['torch_version'],
      'official_torch_threads': official['torch_threads'],
  }


def add_speedups(results: Dict[str, object]) -> None:
  """Adds the ratios of figures measured in this run, where both are."""
  if 'official_update_ms_b128' in results:
    for mode, key in (('joint', 'train_step_ms_b128'),
                      ('sequential', 'train_step_ms_b128_sequential')):
      if key in results:
        results[f'speedup_{mode}_vs_official'] = (
            results['official_update_ms_b128'] / results[key])
  if 'train_step_ms_b128_bf16' in results:
    results['speedup_bf16_vs_float32'] = (
        results['train_step_ms_b128'] / results['train_step_ms_b128_bf16'])


def measure_atari(budget: Budget) -> Dict[str, float]:
  """CURL-Rainbow's figures (agents/rainbow/benchmark.py)."""
  repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  return atari_benchmark.measure(
      repo_root, replay_agent_steps=budget.atari_replay_steps,
      update_steps=budget.atari_update_steps,
      warmup_steps=budget.warmup_steps,
      loop_random_steps=budget.atari_loop_random_steps,
      loop_learning_steps=budget.atari_loop_learning_steps)


MEASUREMENTS = {
    'train_step': measure_train_step,
    'encoder': measure_encoder,
    'replay': measure_replay,
    'collect': measure_collect,
    'train_loop': measure_train_loop,
    'overlap': measure_overlap,
    'full_replay': measure_full_replay,
    'atari': measure_atari,
}
# Run by the measurements above in a fresh process; not part of a default run.
CHILD_MEASUREMENTS = {
    'learner_on_one_thread': measure_learner_on_one_thread,
    'full_replay_child': measure_full_replay_child,
}


# --- Targets and report ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
  """One line of the table: a result, its unit, and its target if any."""
  key: str
  unit: str
  target: str = ''
  passes: Optional[Callable[[Dict[str, float]], bool]] = None


ROWS = (
    Row('train_step_ms_b128', 'ms', '<= 1.2 x flop_limit_ms_b128',
        lambda r: r['train_step_ms_b128'] <= 1.2 * r['flop_limit_ms_b128']),
    Row('train_step_ms_b128_mean', 'ms'),
    Row('flop_limit_ms_b128', 'ms'),
    Row('train_step_ms_b512', 'ms'),
    Row('train_step_ms_b512_mean', 'ms'),
    # Checked only where the official update was timed in the same run.
    Row('train_step_ms_b128_sequential', 'ms',
        f'<= official / {SEQUENTIAL_SPEEDUP_TARGET}',
        lambda r: (r['train_step_ms_b128_sequential'] <=
                   r['official_update_ms_b128'] / SEQUENTIAL_SPEEDUP_TARGET)),
    Row('train_step_ms_b128_sequential_mean', 'ms'),
    Row('train_step_ms_b128_bf16', 'ms (mixed_bfloat16)',
        '<= 1.3 x flop_limit_ms_b128_bf16',
        lambda r: (r['train_step_ms_b128_bf16'] <=
                   1.3 * r['flop_limit_ms_b128_bf16'])),
    Row('train_step_ms_b128_bf16_mean', 'ms (mixed_bfloat16)'),
    Row('flop_limit_ms_b128_bf16', 'ms (mixed_bfloat16)'),
    Row('speedup_bf16_vs_float32', 'x (joint step, batch 128)'),
    Row('official_update_ms_b128', 'ms (official PyTorch)'),
    Row('official_update_ms_b128_min', 'ms (official PyTorch)'),
    Row('official_update_ms_b128_actor_steps', 'ms (official, median)'),
    Row('official_update_ms_b128_critic_steps', 'ms (official, median)'),
    Row('speedup_joint_vs_official', 'x (medians, batch 128)'),
    Row('speedup_sequential_vs_official', 'x (medians, batch 128)'),
    Row('encoder_mflop_per_image', 'MFLOP'),
    Row('encoder_forward_ms_b128', 'ms'),
    Row('encoder_gflops_per_s', 'GFLOP/s'),
    Row('encoder_forward_ms_b128_bf16', 'ms (mixed_bfloat16)'),
    Row('encoder_gflops_per_s_bf16', 'GFLOP/s (mixed_bfloat16)'),
    Row('replay_transitions', 'transitions'),
    Row('replay_bytes_per_transition', 'bytes', '<= 30000',
        lambda r: r['replay_bytes_per_transition'] <= 30_000),
    Row('replay_baseline_rss_gb', 'GiB'),
    Row('replay_rss_gb_100k_estimate', 'GiB', '<= 4',
        lambda r: r['replay_rss_gb_100k_estimate'] <= 4.0),
    Row('pipeline_batches_per_s_b128', 'batches/s', '>= 10',
        lambda r: r['pipeline_batches_per_s_b128'] >= 10.0),
    Row('pipeline_cpu_cores_b128', 'cores (at full speed)'),
    Row('pipeline_paced_batches_per_s_b128', 'batches/s (paced)', '>= 10',
        # Kept pace (the sleep overshoots each tick by well under 1%).
        lambda r: (r['pipeline_paced_batches_per_s_b128'] >=
                   0.99 * PACED_BATCHES_PER_S)),
    Row('pipeline_paced_cpu_cores_b128', 'cores (paced)', '<= 1',
        lambda r: r['pipeline_paced_cpu_cores_b128'] <= 1.0),
    Row('env_steps_per_s', 'env steps/s'),
    Row('full_replay_items', 'items'),
    Row('full_replay_rss_gb', 'GiB', '<= 4',
        lambda r: r['full_replay_rss_gb'] <= 4.0),
    Row('full_replay_peak_rss_gb', 'GiB', '<= 4',
        lambda r: r['full_replay_peak_rss_gb'] <= 4.0),
    Row('train_loop_env_steps_per_s', 'env steps/s'),
    Row('learner_data_wait_fraction', 'fraction', '< 0.05',
        lambda r: r['learner_data_wait_fraction'] < 0.05),
    Row('overlap_train_step_ms', 'ms (b32, 1 learner thread)'),
    Row('overlap_collect_ms_per_agent_step', 'ms'),
    Row('overlap_loop_env_steps_per_s', 'env steps/s'),
    Row('overlap_step_bound_env_steps_per_s', 'env steps/s'),
    Row('overlap_serial_bound_env_steps_per_s', 'env steps/s'),
    Row('overlap_hidden_fraction', 'of collect time', '>= 0.5',
        lambda r: r['overlap_hidden_fraction'] >= 0.5),
    Row('atari_replay_frames', 'frames (84x84)'),
    Row('atari_replay_bytes_per_frame', 'bytes (raw frame: 7,056)'),
    Row('atari_update_ms_b32', 'ms (CURL-Rainbow, b32)'),
    Row('atari_updates_per_s', 'updates/s'),
    Row('atari_loop_agent_steps_per_s', 'agent steps/s (loop)'),
    Row('atari_loop_frames_per_s', 'frames/s (loop)'),
)


def check_targets(results: Dict[str, float]) -> Dict[str, bool]:
  """pass/fail of every target whose inputs were measured."""
  checks = {}
  for row in ROWS:
    if row.passes is None:
      continue
    try:
      checks[row.key] = bool(row.passes(results))
    except KeyError:
      pass  # Not measured in this run (--only).
  return checks


def machine() -> Dict[str, object]:
  # The CPU's bfloat16 units decide what 'auto' picks and how fast bfloat16
  # runs: figures from two machines compare only with these in view.
  bf16_flags = sorted(precision.cpu_flags() &
                      {'amx_bf16', 'amx_tile', 'avx512_bf16', 'avx2'})
  return {'platform': platform.platform(), 'cpu_count': os.cpu_count(),
          'cpu_model': precision.cpu_model(), 'cpu_flags': bf16_flags,
          'tensorflow': tf.__version__, 'python': platform.python_version()}


def check_names(names: Sequence[str]) -> None:
  """Raises ValueError naming any of `names` that is no measurement."""
  unknown = sorted(set(names) - set(MEASUREMENTS) - set(CHILD_MEASUREMENTS))
  if unknown:
    raise ValueError(f'unknown measurement(s) {", ".join(unknown)}; choose '
                     f'from {", ".join(MEASUREMENTS)}')


def run(quick: bool = False,
        only: Optional[Sequence[str]] = None,
        official_repo: Optional[str] = None,
        official_python: Optional[str] = None) -> Dict[str, object]:
  """Runs the measurements and returns every result in one dict.

  Args:
    quick: tiny budgets, to check the benchmark runs.
    only: names from MEASUREMENTS to run; None runs all.
    official_repo: a checkout of github.com/MishaLaskin/curl; with
      official_python, its update is timed first (whatever `only` says).
    official_python: an interpreter with torch and numpy.

  Returns:
    Measured values, speedups, 'checks' (target -> pass), and the date,
    machine and load averages; the official update's figures and the
    speedups over it only if it was timed.

  Raises:
    official_update.OfficialUpdateError: the official update was asked for
      and could not be timed.
  """
  runnable = {**MEASUREMENTS, **CHILD_MEASUREMENTS}
  names = list(MEASUREMENTS) if only is None else list(only)
  check_names(names)
  budget = QUICK if quick else FULL
  results = {'date': datetime.datetime.now().isoformat(timespec='seconds'),
             'machine': machine(), 'quick': quick,
             'cpu_model': precision.cpu_model(),
             'precision_auto': precision.resolve('auto'),
             # Other processes slow every timing: the 1-minute load average
             # shows how busy the machine was.
             'load_average_1m_start': os.getloadavg()[0]}
  start = time.time()
  if official_repo is not None or official_python is not None:
    # First: a failure ends the run before the long measurements.
    results.update(measure_official(budget, official_repo, official_python))
  for name in names:
    results.update(runnable[name](budget))
  add_speedups(results)
  results['load_average_1m_end'] = os.getloadavg()[0]
  results['wall_time_s'] = time.time() - start
  results['checks'] = check_targets(results)
  return results


def format_table(results: Dict[str, object]) -> str:
  """The results as an aligned text table with pass/fail per target."""
  checks = results.get('checks', {})
  lines = [f'{"name":<36} {"value":>12}  {"unit":<26} {"target":<30} result']
  for row in ROWS:
    if row.key not in results:
      continue
    verdict, target = '', row.target
    if row.key in checks:
      verdict = 'PASS' if checks[row.key] else 'FAIL'
    elif row.passes is not None:
      target = ''  # Its inputs were not all measured in this run.
    value = results[row.key]
    text = f'{value:,.0f}' if abs(value) >= 1000 else f'{value:.4g}'
    lines.append(f'{row.key:<36} {text:>12}  {row.unit:<26} '
                 f'{target:<30} {verdict}')
  lines.append(f'date {results["date"]}, {results["machine"]}, '
               f'load average {results["load_average_1m_start"]:.2f} -> '
               f'{results["load_average_1m_end"]:.2f}, '
               f'{results["wall_time_s"]:.0f} s')
  lines.append(f"precision='auto' picks {results['precision_auto']} on this "
               f"CPU ({results['cpu_model']})")
  if 'official_torch_version' in results:
    lines.append(f"official update: torch {results['official_torch_version']}"
                 f", {results['official_torch_threads']} threads, median of "
                 f"{results['official_update_timed_steps']} steps")
  return '\n'.join(lines)


def _fail(message: str) -> NoReturn:
  print(_ERROR_PREFIX + message, file=sys.stderr)
  sys.exit(_USAGE_EXIT_CODE)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    check_names(_ONLY.value or ())
  except ValueError as e:
    _fail(f'--only: {e}')
  official_repo, official_python = _OFFICIAL_REPO.value, _OFFICIAL_PYTHON.value
  if official_repo is not None or official_python is not None:
    try:
      # A bad path fails at once, not after the TensorFlow measurements.
      official_update.check_setup(official_repo, official_python)
    except official_update.OfficialUpdateError as e:
      _fail(str(e))
  # Each timed agent traces its own step, and TF counts traces per Python
  # method across agents, so its "excessive retracing" warning is spurious
  # here.
  tf.get_logger().setLevel('ERROR')
  if _LEARNER_THREADS.value is not None:
    tf.config.threading.set_intra_op_parallelism_threads(
        _LEARNER_THREADS.value)
    tf.config.threading.set_inter_op_parallelism_threads(
        _LEARNER_THREADS.value)
  try:
    results = run(quick=_QUICK.value, only=_ONLY.value,
                  official_repo=official_repo,
                  official_python=official_python)
  except official_update.OfficialUpdateError as e:
    _fail(str(e))
  if _JSON.value:
    print(json.dumps(results, sort_keys=True))
  else:
    print(format_table(results))


if __name__ == '__main__':
  app.run(main)
