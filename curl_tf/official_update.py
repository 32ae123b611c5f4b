r"""Times the official PyTorch CURL agent's update, for the benchmark.

  /tmp/torch_venv/bin/python curl_tf/official_update.py \
      --official_repo=/tmp/official_curl            # one JSON line
  python -m curl_tf.benchmark --official_repo=/tmp/official_curl \
      --official_python=/tmp/torch_venv/bin/python  # the same, in the table

The official code is github.com/MishaLaskin/curl, checked out at
--official_repo; this file only imports its `curl_sac.CurlSacAgent` and calls
`agent.update(replay_buffer, L, step)` as the official train.py does. What is
timed:

* the agent of train.py's `make_agent` with train.py's default arguments and
  the cartpole settings of the official scripts/run.sh (Table 3): 84x84
  crops of 3 stacked RGB frames, encoder feature dim 50, 4 conv layers of 32
  filters, hidden dim 1024, actor and critic lr 1e-3, critic tau 0.01,
  encoder tau 0.05, actor and target updates every 2nd step, the contrastive
  update every step (CurlSacAgent's default; train.py does not set it),
  action dim 1 (cartpole), batch 128, on the CPU;
* on one synthetic batch made once, shaped and typed as the official
  `ReplayBuffer.sample_cpc()` returns it (float32 tensors of random uint8
  pixels for obs, next_obs and the positive; obs is also the anchor), handed
  out by a stand-in buffer. The official sample_cpc crops and converts on
  every call; that is left out as the benchmark leaves our data pipeline out
  of its train-step timing;
* consecutive steps from 1000 (train.py's first update step, its
  init_steps) on: `--warmup_steps` untimed, then `--steps` timed (even, so
  half are the steps where step % 2 == 0 that also update the actor, alpha
  and the target networks). The median over all timed steps is the figure
  the benchmark compares with its own train step, which alternates the same
  way; the medians of the two kinds of step are reported too. PyTorch runs
  CPU ops synchronously, so the time of `update` is the time of its work;
* torch on every core this process may use (`--threads` to change it); the
  JSON says how many threads torch used, and the 1-minute load average
  before and after the timed steps: with another busy process on the
  machine the update takes several times as long.

This file is both a script and a module:

* run as a script, with an interpreter that has torch and numpy, it needs
  the standard library, torch and numpy only: it never imports TensorFlow
  nor anything of curl_tf, so it runs in a separate virtualenv;
* imported (by curl_tf.benchmark), it imports the standard library only and
  gives `check_setup`, `measure` (runs the script in a subprocess) and
  `parse_output`.

Errors: bad paths, an interpreter without torch, a failing or unreadable
subprocess each raise OfficialUpdateError with a one-line message. The
benchmark then stops before measuring anything else, with that line on
stderr and exit code 2: a run asked to compare with the official code should
not finish eleven minutes later without the comparison.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types
from typing import Any, Dict, List, Optional, Sequence, Tuple

# The official train.py's first update is at step init_steps (default 1000).
FIRST_STEP = 1000

# CurlSacAgent's arguments as the official train.py's make_agent passes them,
# with train.py's defaults and the cartpole values of scripts/run.sh. The
# observation and action shapes are added in make_agent.
AGENT_KWARGS = {
    'hidden_dim': 1024,
    'discount': 0.99,
    'init_temperature': 0.1,
    'alpha_lr': 1e-4,
    'alpha_beta': 0.5,
    'actor_lr': 1e-3,
    'actor_beta': 0.9,
    'actor_log_std_min': -10,
    'actor_log_std_max': 2,
    'actor_update_freq': 2,
    'critic_lr': 1e-3,
    'critic_beta': 0.9,
    'critic_tau': 0.01,
    'critic_target_update_freq': 2,
    'encoder_type': 'pixel',
    'encoder_feature_dim': 50,
    'encoder_lr': 1e-3,
    'encoder_tau': 0.05,
    'num_layers': 4,
    'num_filters': 32,
    'log_interval': 100,
    'detach_encoder': False,
    'curl_latent_dim': 128,
}
IMAGE_SIZE = 84
FRAME_STACK = 3
ACTION_DIM = 1  # cartpole

# Keys of the script's JSON line and their types; parse_output checks them.
OUTPUT_KEYS = {
    'update_ms_median': float,
    'update_ms_mean': float,
    'update_ms_min': float,
    'update_ms_median_actor_steps': float,
    'update_ms_median_critic_steps': float,
    'timed_steps': int,
    'warmup_steps': int,
    'first_timed_step': int,
    'batch_size': int,
    'torch_version': str,
    'torch_threads': int,
}

# A first update builds the agent's optimiser state; with the imports and
# the agent's construction, a minute covers it many times over. The timed
# steps (about 1 s each at batch 128 on 2 cores) are added to it.
_STARTUP_TIMEOUT_S = 300.0
_STEP_TIMEOUT_S = 30.0

_SCRIPT = os.path.abspath(__file__)


class OfficialUpdateError(Exception):
  """The official update could not be timed; the message is one line."""


# --- Used by the benchmark (standard library only) ---------------------------


def _last_line(text: str) -> str:
  lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
  return lines[-1] if lines else '(no output)'


def check_setup(official_repo: Optional[str],
                official_python: Optional[str]) -> Tuple[str, str]:
  """Checks --official_repo and --official_python before anything is run.

  Args:
    official_repo: a checkout of github.com/MishaLaskin/curl.
    official_python: a Python interpreter that can import torch and numpy.

  Returns:
    (absolute repo path, interpreter path).

  Raises:
    OfficialUpdateError: a flag is missing or does not point to what it
      should.
  """
  if not official_repo or not official_python:
    raise OfficialUpdateError(
        '--official_repo and --official_python go together: a checkout of '
        'github.com/MishaLaskin/curl and a Python interpreter with torch')
  repo = os.path.abspath(os.path.expanduser(official_repo))
  if not os.path.isdir(repo):
    raise OfficialUpdateError(f'--official_repo={official_repo}: no such '
                              'directory')
  if not os.path.isfile(os.path.join(repo, 'curl_sac.py')):
    raise OfficialUpdateError(
        f'--official_repo={official_repo} has no curl_sac.py: expected a '
        'checkout of github.com/MishaLaskin/curl')
  python = os.path.expanduser(official_python)
  if not (os.path.isfile(python) and os.access(python, os.X_OK)):
    raise OfficialUpdateError(f'--official_python={official_python}: not an '
                              'executable file')
  try:
    probe = subprocess.run(
        [python, '-c', 'import torch, numpy'], capture_output=True,
        text=True, timeout=_STARTUP_TIMEOUT_S, check=False)
  except (OSError, subprocess.TimeoutExpired) as e:
    raise OfficialUpdateError(
        f'--official_python={official_python} could not be run: {e}') from e
  if probe.returncode != 0:
    raise OfficialUpdateError(
        f'--official_python={official_python} cannot import torch and '
        f'numpy: {_last_line(probe.stderr)}')
  return repo, python


def parse_output(stdout: str) -> Dict[str, Any]:
  """The script's result: its last stdout line, a JSON object.

  Args:
    stdout: everything the script printed (earlier lines, e.g. a library's
      notice, are ignored).

  Returns:
    The object, with every key of OUTPUT_KEYS, of its type.

  Raises:
    OfficialUpdateError: no JSON object, or a key missing or mistyped.
  """
  line = _last_line(stdout)
  try:
    result = json.loads(line)
  except json.JSONDecodeError as e:
    raise OfficialUpdateError(
        f'official update output is not JSON: {line[:200]!r}') from e
  if not isinstance(result, dict):
    raise OfficialUpdateError(
        f'official update output is not a JSON object: {line[:200]!r}')
  for key, kind in OUTPUT_KEYS.items():
    value = result.get(key)
    # JSON has no int/float distinction for whole floats; bool is an int.
    if kind is float and isinstance(value, int):
      value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
      raise OfficialUpdateError(
          f'official update output has no valid {key!r}: {line[:200]!r}')
    result[key] = value
  return result


def measure(official_repo: str, official_python: str, batch_size: int = 128,
            warmup_steps: int = 4, steps: int = 20) -> Dict[str, Any]:
  """Runs this file as a script with `official_python`; returns its result.

  Args:
    official_repo: a checkout of github.com/MishaLaskin/curl.
    official_python: an interpreter with torch and numpy.
    batch_size: batch of the timed updates.
    warmup_steps: untimed updates first.
    steps: timed updates (even).

  Returns:
    parse_output's dict.

  Raises:
    OfficialUpdateError: the setup is bad, the script failed, timed out, or
      printed no result.
  """
  repo, python = check_setup(official_repo, official_python)
  command = [python, _SCRIPT, f'--official_repo={repo}',
             f'--batch_size={batch_size}', f'--warmup_steps={warmup_steps}',
             f'--steps={steps}']
  timeout = _STARTUP_TIMEOUT_S + _STEP_TIMEOUT_S * (warmup_steps + steps)
  try:
    # From the checkout, so nothing of ours can shadow its modules.
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True,
                            timeout=timeout, check=False)
  except subprocess.TimeoutExpired as e:
    raise OfficialUpdateError(
        f'official update timing took over {timeout:.0f} s') from e
  if result.returncode != 0:
    raise OfficialUpdateError(
        f'official update timing failed (exit {result.returncode}): '
        f'{_last_line(result.stderr)}')
  return parse_output(result.stdout)


# --- The script (torch and numpy, imported inside) ---------------------------


class _Unavailable:
  """Stands in for an import the update never uses; fails if it is used."""

  def __init__(self, *args, **kwargs):
    del args, kwargs
    raise RuntimeError('a stub stands in for this (see official_update.py)')


def _stub_unused_imports() -> List[str]:
  """Stands in for the official utils.py's imports the update never uses.

  utils.py imports gym (for its FrameStack env wrapper) and skimage (for the
  replay buffer's random crop) at module level; the update uses only
  utils.soft_update_params. Where either is not installed, an empty module
  stands in, so that a virtualenv with torch and numpy is enough. An
  installed module is always used as it is.

  Returns:
    Names of the stubbed modules.
  """
  stubbed = []
  try:
    import gym  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    gym = types.ModuleType('gym')
    gym.Wrapper = _Unavailable  # FrameStack subclasses it on import.
    gym.spaces = types.SimpleNamespace(Box=_Unavailable)
    sys.modules['gym'] = gym
    stubbed.append('gym')
  try:
    # pylint: disable=g-import-not-at-top,unused-import
    from skimage.util import shape  # noqa: F401
  except ImportError:
    shape = types.ModuleType('skimage.util.shape')
    shape.view_as_windows = _Unavailable
    util = types.ModuleType('skimage.util')
    util.shape = shape
    skimage = types.ModuleType('skimage')
    skimage.util = util
    sys.modules.update({'skimage': skimage, 'skimage.util': util,
                        'skimage.util.shape': shape})
    stubbed.append('skimage')
  return stubbed


class _FixedBatchBuffer:
  """The replay buffer as CurlSacAgent.update sees it: sample_cpc() only."""

  def __init__(self, batch):
    self._batch = batch

  def sample_cpc(self):
    return self._batch


class _NullLogger:
  """The official Logger's interface (log, log_histogram, ...), doing nothing.

  The official Logger writes to disk and TensorBoard; what update logs is
  computed before it reaches the logger either way.
  """

  def __getattr__(self, name):
    return lambda *args, **kwargs: None


def make_agent(official_repo: str):
  """The official CurlSacAgent with train.py's cartpole settings, on the CPU.

  Returns:
    (agent, stubbed module names).
  """
  import torch  # pylint: disable=g-import-not-at-top
  stubbed = _stub_unused_imports()
  sys.path.insert(0, official_repo)
  import curl_sac  # pylint: disable=g-import-not-at-top,import-error
  agent = curl_sac.CurlSacAgent(
      obs_shape=(3 * FRAME_STACK, IMAGE_SIZE, IMAGE_SIZE),
      action_shape=(ACTION_DIM,), device=torch.device('cpu'), **AGENT_KWARGS)
  return agent, stubbed


def make_batch(batch_size: int, seed: int = 0):
  """A batch as the official ReplayBuffer.sample_cpc() returns it.

  Returns:
    (obs, action, reward, next_obs, not_done, cpc_kwargs): pixels are
    float32 tensors of uint8 values, [B, 9, 84, 84] (channels first);
    action [B, 1] in [-1, 1]; reward and not_done [B, 1]; cpc_kwargs holds
    obs itself as the anchor and a third random crop as the positive.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  shape = (batch_size, 3 * FRAME_STACK, IMAGE_SIZE, IMAGE_SIZE)

  def pixels():
    return torch.as_tensor(rng.integers(0, 256, shape, dtype=np.uint8)).float()

  def column(low, high):
    return torch.as_tensor(
        rng.uniform(low, high, (batch_size, 1)).astype(np.float32))

  obs, next_obs, pos = pixels(), pixels(), pixels()
  cpc_kwargs = {'obs_anchor': obs, 'obs_pos': pos, 'time_anchor': None,
                'time_pos': None}
  return (obs, column(-1, 1), column(0, 1), next_obs,
          torch.ones(batch_size, 1), cpc_kwargs)


def time_updates(agent, batch, warmup_steps: int,
                 steps: int) -> Dict[int, float]:
  """Seconds of agent.update at each timed step, after the warm-up steps."""
  buffer, logger = _FixedBatchBuffer(batch), _NullLogger()
  seconds = {}
  for step in range(FIRST_STEP, FIRST_STEP + warmup_steps + steps):
    start = time.perf_counter()
    agent.update(buffer, logger, step)
    if step >= FIRST_STEP + warmup_steps:
      seconds[step] = time.perf_counter() - start
  return seconds


def summarize(seconds: Dict[int, float],
              actor_update_freq: int = 2) -> Dict[str, Any]:
  """Median, mean and min ms of the timed steps, and per kind of step."""
  ms = {step: 1000.0 * s for step, s in seconds.items()}
  actor = [v for step, v in ms.items() if step % actor_update_freq == 0]
  critic = [v for step, v in ms.items() if step % actor_update_freq != 0]
  return {
      'update_ms_median': statistics.median(ms.values()),
      'update_ms_mean': statistics.fmean(ms.values()),
      'update_ms_min': min(ms.values()),
      'update_ms_median_actor_steps': statistics.median(actor),
      'update_ms_median_critic_steps': statistics.median(critic),
      'timed_steps': len(ms),
      'first_timed_step': min(ms),
  }


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='official_update.py',
      description='Times the official CURL agent update; prints one JSON '
      'line.')
  parser.add_argument('--official_repo', required=True,
                      help='checkout of github.com/MishaLaskin/curl')
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--warmup_steps', type=int, default=4)
  parser.add_argument('--steps', type=int, default=20,
                      help='timed updates; even, so that half of them update '
                      'the actor and the targets')
  parser.add_argument('--threads', type=int, default=None,
                      help="torch's intra-op threads (default: every core "
                      'this process may use)')
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args(argv)
  if args.steps < 2 or args.steps % 2:
    parser.error(f'--steps must be even and at least 2, got {args.steps}')
  if args.warmup_steps < 0 or args.batch_size < 1:
    parser.error('--warmup_steps must be >= 0 and --batch_size >= 1')
  return args


def main(argv: Sequence[str]) -> None:
  args = _parse_args(argv)
  try:
    # pylint: disable=g-import-not-at-top
    import numpy as np
    import torch
    # pylint: enable=g-import-not-at-top
  except ImportError as e:
    sys.exit(f'official_update.py: error: {e} (run it with an interpreter '
             'that has torch and numpy)')
  if not os.path.isfile(os.path.join(args.official_repo, 'curl_sac.py')):
    sys.exit(f'official_update.py: error: {args.official_repo} has no '
             'curl_sac.py')
  threads = args.threads or len(os.sched_getaffinity(0))
  torch.set_num_threads(threads)
  torch.manual_seed(args.seed)  # The actor's sampling noise.
  agent, stubbed = make_agent(os.path.abspath(args.official_repo))
  batch = make_batch(args.batch_size, args.seed)
  # Another busy process slows torch's threads down several times over
  # (they wait for each other), far more than it slows TensorFlow's: the
  # load shows whether the figure was taken on a quiet machine.
  load_start = os.getloadavg()[0]
  result = summarize(time_updates(agent, batch, args.warmup_steps,
                                  args.steps),
                     AGENT_KWARGS['actor_update_freq'])
  result.update({
      'load_average_1m_start': load_start,
      'load_average_1m_end': os.getloadavg()[0],
      'warmup_steps': args.warmup_steps,
      'batch_size': args.batch_size,
      'torch_version': torch.__version__,
      'torch_threads': torch.get_num_threads(),
      'numpy_version': np.__version__,
      'python_version': sys.version.split()[0],
      'stubbed_modules': stubbed,
      'agent_kwargs': AGENT_KWARGS,
      'image_size': IMAGE_SIZE,
      'frame_stack': FRAME_STACK,
      'action_dim': ACTION_DIM,
  })
  print(json.dumps(result, sort_keys=True), flush=True)


if __name__ == '__main__':
  main(sys.argv[1:])
