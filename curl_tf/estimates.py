"""How long a training run takes, from the benchmark's measured figures.

The figures are the README's "Measured figures", measured on 2026-11-21 on a
2-core x86_64 CPU with no GPU (the project's CI machine kind) with
`python -m curl_tf.benchmark`, which re-measures them. An estimate holds for
a machine like that one; a GPU changes everything.

The model, per agent step (one action, `action_repeat` env steps):

- a random agent step (the first `num_random_agent_steps`) costs what the
  collecting actor alone takes: render, act, insert;
- every later agent step costs one joint train step, times the factor by
  which the whole loop was slower than the train step alone (the collector
  and the tf.data pipeline take their CPU from the learner);
- the train step is linear in the batch size and, per sample, in the crop's
  area, above a fixed overhead: the two batch sizes measured at 84x84 crops
  give the slope and the overhead (about 29 ms: Adam updates and target EMAs
  of the ~6M parameters, which no batch size changes);
- an evaluation (at env step 0, every `eval_every_env_steps` and at the end)
  runs `num_eval_episodes` episodes of 1000 env steps, each agent step a
  render and a policy forward, about what a collecting step costs.

Not counted: importing TensorFlow and compiling the first update (tens of
seconds), checkpoints, and the render's dependence on the image size (the
collection figure is at 100x100 renders).

Checks against figures the model does not use: it gives 73 ms for a train
step at 28x28 crops and batch 128, where about 60 ms was measured (the conv
layers' VALID outputs shrink faster than the crop); 56 env steps/s while
learning in configs/smoke.py (batch 32), where 54 were measured; and 14.8
minutes for configs/learning_check.py, which took about 14.

`python -m curl_tf.estimates` prints the Table 1 estimates as Markdown.
"""

import math
import os
from typing import NamedTuple, Optional

import ml_collections

from curl_tf import config_lib

MEASURED_ON = '2026-11-21, 2-core x86_64 CPU, no GPU'

# Joint train step (median, compiled, Table 3 settings, 84x84 crops): 423-436
# ms over four runs at batch 128, 1,616-1,648 ms at batch 512. Midpoints.
MEASURED_CROP_SIZE = 84
MEASURED_BATCH_SIZES = (128, 512)
TRAIN_STEP_S = (0.4295, 1.632)
# Collecting actor alone (render, policy, insert), cartpole at action repeat
# 8: 420 env steps/s, i.e. 52.5 agent steps/s.
COLLECT_ENV_STEPS_PER_S = 420.0
COLLECT_ACTION_REPEAT = 8
# Whole loop after the random steps, cartpole swingup (action repeat 8),
# batch 128, 84x84 crops: 16.9 env steps/s.
LOOP_ENV_STEPS_PER_S = 16.9
LOOP_ACTION_REPEAT = 8
LOOP_BATCH_SIZE = 128
# mixed_bfloat16 against float32, the joint step at batch 128 and 84x84 on a
# 2-core Intel Xeon with AMX (2026-11-23): 120 ms against 330 ms.
BF16_STEP_SPEEDUP_AMX = 2.75
# States mode (state SAC, 1024-unit MLPs, no rendering), 2026-11-23, 2-core
# Intel Xeon with AMX, while two training runs shared the cores: a train
# step at batch 128 took 28 ms (median of 200; 12-16 ms at best), float32
# and bfloat16 alike, and a cartpole agent step (8 physics steps, no
# render) 1.8 ms.
STATE_TRAIN_STEP_S = 0.028
STATE_BATCH_SIZE = 128
STATE_COLLECT_STEP_S = 0.0018
# Every Table 1 task ends an episode after 1000 env steps (dm_control's time
# limit).
EPISODE_ENV_STEPS = 1000

# Table 1's tasks, one config file each in configs/.
TABLE_1_TASKS = ('cartpole_swingup', 'finger_spin', 'walker_walk',
                 'reacher_easy', 'cheetah_run', 'ball_in_cup_catch')
_CONFIG_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')


def train_step_slope_s() -> float:
  """Seconds a train step takes per sample at 84x84 crops."""
  (b0, b1), (t0, t1) = MEASURED_BATCH_SIZES, TRAIN_STEP_S
  return (t1 - t0) / (b1 - b0)


def train_step_overhead_s() -> float:
  """Seconds a train step takes whatever the batch: the line's intercept."""
  return TRAIN_STEP_S[0] - MEASURED_BATCH_SIZES[0] * train_step_slope_s()


def train_step_s(batch_size: int, crop_size: int) -> float:
  """Estimated seconds of one joint train step.

  Args:
    batch_size: samples per update.
    crop_size: side of the crops the encoder sees, in pixels.

  Returns:
    Overhead plus a per-sample cost proportional to the crop's area.
  """
  area = (crop_size / MEASURED_CROP_SIZE)**2
  return train_step_overhead_s() + batch_size * area * train_step_slope_s()


def collect_step_s() -> float:
  """Seconds of one collecting agent step (render, act, insert)."""
  return COLLECT_ACTION_REPEAT / COLLECT_ENV_STEPS_PER_S


def loop_factor() -> float:
  """How much longer a learning agent step takes than its train step alone.

  The collector and the data pipeline run beside the learner on the same two
  cores; measured as the whole loop's time per agent step over the train
  step's at the same batch and crop.
  """
  loop_step_s = LOOP_ACTION_REPEAT / LOOP_ENV_STEPS_PER_S
  return loop_step_s / train_step_s(LOOP_BATCH_SIZE, MEASURED_CROP_SIZE)


class Estimate(NamedTuple):
  """A run's estimated wall-clock time, by phase."""
  num_updates: int
  # Seconds per update (train step alone, before loop_factor).
  train_step_s: float
  num_evaluations: int
  random_s: float
  learning_s: float
  eval_s: float

  @property
  def total_s(self) -> float:
    return self.random_s + self.learning_s + self.eval_s


def num_evaluations(config: ml_collections.ConfigDict) -> int:
  """Evaluations in a run: at env step 0, every eval_every_env_steps, end."""
  return math.ceil(config.num_env_steps / config.eval_every_env_steps) + 1


def estimate(config: ml_collections.ConfigDict) -> Estimate:
  """Estimates a run's wall-clock time on a machine like the benchmark's.

  Args:
    config: a valid config (config_lib.validate_config).

  Returns:
    The estimate, by phase.
  """
  agent_steps = config_lib.num_agent_steps(config)
  num_random = min(config.num_random_agent_steps, agent_steps)
  num_updates = agent_steps - num_random
  evaluations = num_evaluations(config)
  episode_agent_steps = math.ceil(EPISODE_ENV_STEPS / config.action_repeat)
  eval_agent_steps = (
      evaluations * config.num_eval_episodes * episode_agent_steps)
  if config.observation == 'states':
    # MLP steps scale with the batch; collection is added, not overlapped.
    step_s = STATE_TRAIN_STEP_S * config.batch_size / STATE_BATCH_SIZE
    return Estimate(
        num_updates=num_updates, train_step_s=step_s,
        num_evaluations=evaluations,
        random_s=num_random * STATE_COLLECT_STEP_S,
        learning_s=num_updates * (step_s + STATE_COLLECT_STEP_S),
        eval_s=eval_agent_steps * STATE_COLLECT_STEP_S)
  step_s = train_step_s(config.batch_size, config.crop_size)
  return Estimate(
      num_updates=num_updates,
      train_step_s=step_s,
      num_evaluations=evaluations,
      random_s=num_random * collect_step_s(),
      learning_s=num_updates * step_s * loop_factor(),
      eval_s=eval_agent_steps * collect_step_s())


def estimate_wall_clock_s(config: ml_collections.ConfigDict) -> float:
  """Estimated seconds a run of `config` takes on the benchmark's machine."""
  return estimate(config).total_s


def format_duration(seconds: float) -> str:
  """'45 s', '14.8 min', '31.1 h' or '124.4 h (5.2 days)'."""
  if seconds < 90:
    return f'{seconds:.0f} s'
  if seconds < 90 * 60:
    return f'{seconds / 60:.1f} min'
  hours = seconds / 3600
  if hours < 48:
    return f'{hours:.1f} h'
  return f'{hours:.1f} h ({hours / 24:.1f} days)'


def _format_step_time(seconds: float) -> str:
  return f'{seconds:.2f} s' if seconds >= 1 else f'{seconds * 1000:.0f} ms'


def describe_estimate(config: ml_collections.ConfigDict) -> str:
  """One line: the run's estimated wall-clock time and what it is made of."""
  if config.agent == 'rainbow':
    return ('no wall-clock estimate for Atari runs yet: the benchmark has no '
            'Atari section to base one on')
  e = estimate(config)
  if config.observation == 'states':
    return ("estimated wall-clock on a 2-core CPU like the benchmark's: "
            f'{format_duration(e.total_s)} ({e.num_updates:,} state SAC '
            f'updates at ~{_format_step_time(e.train_step_s)}, nothing '
            f'rendered; {e.num_evaluations} evaluations, '
            f'{format_duration(e.eval_s)})')
  line = (
      "estimated wall-clock on a 2-core CPU like the benchmark's: "
      f'{format_duration(e.total_s)} ({e.num_updates:,} updates at '
      f'~{_format_step_time(e.train_step_s)}, '
      f'+{100 * (loop_factor() - 1):.0f}% for collection beside them; '
      f'{e.num_evaluations} evaluations, {format_duration(e.eval_s)})')
  if config.precision != 'float32':
    # The model's figures are float32 steps; a 16-bit step's speed depends
    # on the hardware (README, Precision), so it is named, not modelled.
    line += (f'; float32 figures: with precision={config.precision}, a CPU '
             f'with AMX ran the 84x84 step {BF16_STEP_SPEEDUP_AMX}x faster')
  return line


def table_1_markdown(config_dir: Optional[str] = None) -> str:
  """A Markdown table: estimated wall-clock of each Table 1 task's run.

  Args:
    config_dir: where the tasks' config files are; the repository's configs/
      by default.

  Returns:
    One row per task of TABLE_1_TASKS, at 100k and 500k env steps and batch
    128 and 512, other settings as in the task's config file.
  """
  config_dir = config_dir or _CONFIG_DIR
  columns = [(steps, batch) for steps in (100_000, 500_000)
             for batch in (128, 512)]
  lines = [
      '| task | action repeat | updates at 100k / 500k | ' + ' | '.join(
          f'{steps // 1000}k, batch {batch}' for steps, batch in columns) +
      ' |',
      '|---|---|---|' + '---|' * len(columns),
  ]
  for task in TABLE_1_TASKS:
    config = config_lib.load_config_file(
        os.path.join(config_dir, task + '.py'))
    cells = []
    updates = {}
    for steps, batch in columns:
      config.num_env_steps = steps
      config.batch_size = batch
      e = estimate(config)
      updates[steps] = e.num_updates
      cells.append(format_duration(e.total_s))
    lines.append(
        f'| {task} | {config.action_repeat} | {updates[100_000]:,} / '
        f'{updates[500_000]:,} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


if __name__ == '__main__':
  print(table_1_markdown())
