r"""Runs a grid of tasks x seeds, each an ordinary main.py workdir.

  python -m curl_tf.sweep --configs=configs/cartpole_swingup.py,\
configs/walker_walk.py --seeds=1,2,3 --root=runs/table1 \
      --config.num_env_steps=100000

Run ROOT/<task>/seed_<n>/ trains config <task>.py with --config.seed=<n>; its
console output goes to ROOT/<task>/seed_<n>.log. Any --config.<field>=<value>
is passed to every run. Running the same command again skips finished runs
and resumes interrupted ones (main.py resumes a workdir from its checkpoint),
so a sweep stopped by Ctrl-C, SIGTERM or a crash goes on where it was. A run
that fails is reported at the end, with its log, and the others carry on.

`--parallel=K` runs K processes at once. On a CPU machine they share the
cores: with `--cpus=0,1` each process is pinned to one core of the list
(measured on 2 cores, 2026-11-23: two configs/learning_check.py runs pinned
one per core finished in about 20 minutes, against about 14 for one run with
both cores, so 1.4x the runs per hour). With `--gpus`, each process gets one
GPU of the list to itself (CUDA_VISIBLE_DEVICES).

Bad input (a config that does not load, an override no config accepts, a
root that cannot be written) ends the sweep before any run starts, with exit
code 2 and one line on stderr.
"""

import dataclasses
import datetime
import os
import signal
import subprocess
import sys
import time
import types
from typing import Dict, List, Optional, Sequence, Tuple

from absl import app
from absl import flags
from ml_collections import config_flags

from curl_tf import cadence
from curl_tf import config_lib
from curl_tf import console
from curl_tf import results



def _define_flags():
  """The command line's flags, defined only when this runs as a program.

  The report has a --root too, and both modules are imported together (by
  the tests, by a notebook): flags at import time would collide.
  """
  return types.SimpleNamespace(
      configs=flags.DEFINE_list(
          'configs', None, 'Config files, one task each, e.g. '
          'configs/cartpole_swingup.py,configs/walker_walk.py. A run '
          'directory is named after its config file.'),
      seeds=flags.DEFINE_list('seeds', None, 'Seeds, e.g. 1,2,3.'),
      root=flags.DEFINE_string(
          'root', None, 'Directory holding ROOT/<task>/seed_<n>/ (created).'),
      parallel=flags.DEFINE_integer(
          'parallel', None,
          'Runs at once (default 1, or one per --gpus or --cpus entry).',
          lower_bound=1),
      gpus=flags.DEFINE_list(
          'gpus', None, 'GPU ids to share out, one per running process, '
          'e.g. 0,1,2,3 (default: every process sees what the machine has).'),
      cpus=flags.DEFINE_list(
          'cpus', None, 'CPU ids to share out, one per running process, '
          'which is pinned to it, e.g. 0,1 (default: no pinning).'),
      poll_s=flags.DEFINE_float(
          'poll_s', 2.0, 'How often to check on running processes, in '
          'seconds.', lower_bound=0.01))


_FLAGS = None

_MAIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'main.py')
_ERROR_PREFIX = 'curl_tf.sweep: error: '
_OVERRIDE_PREFIX = '--config.'


@dataclasses.dataclass
class RunSpec:
  """One cell of the grid."""
  task: str
  seed: int
  config_path: str
  num_env_steps: int
  workdir: str

  @property
  def log_path(self) -> str:
    return self.workdir + '.log'

  @property
  def name(self) -> str:
    return f'{self.task}/seed_{self.seed}'


@dataclasses.dataclass
class Outcome:
  """How one run ended in this sweep."""
  spec: RunSpec
  status: str  # 'skipped', 'finished', 'failed' or 'interrupted'.
  detail: str = ''


def split_overrides(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
  """Separates the --config.<field>=<value> overrides from the other flags.

  Raises:
    ConfigError: an override without '=value' (the space-separated form is
      ambiguous here), or one that sets the seed (--seeds sets it).
  """
  rest, overrides = [], []
  for arg in argv:
    if not arg.startswith(_OVERRIDE_PREFIX):
      rest.append(arg)
      continue
    field, has_value, _ = arg[len(_OVERRIDE_PREFIX):].partition('=')
    if not has_value:
      raise config_lib.ConfigError(f'write {arg}=VALUE')
    if field == 'seed':
      raise config_lib.ConfigError('set seeds with --seeds, not --config.seed')
    overrides.append(arg)
  return rest, overrides


def load_config(path: str, overrides: Sequence[str]):
  """Loads a config file with overrides, as main.py would, and validates it.

  Raises:
    ConfigError: the file is missing or fails, an override does not apply,
      or a value is invalid; the message is one line.
  """
  flag_values = flags.FlagValues()
  argv = ['sweep', f'--config={path}', *overrides]
  # config_flags reads the overrides from sys.argv unless given the argv.
  config_flags.DEFINE_config_file('config', None, flag_values=flag_values,
                                  lock_config=True, sys_argv=argv)
  try:
    flag_values(argv)
    config = flag_values.config
    config_lib.check_loaded_config(config, argv)
  except config_lib.ConfigError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # Config files run arbitrary code: any exception type can come out.
    raise config_lib.ConfigError(
        f'{path}: {config_lib.describe_config_load_error(e, argv)}') from None
  try:
    config_lib.validate_config(config)
  except config_lib.ConfigError as e:
    raise config_lib.ConfigError(f'{path}: {e}') from None
  return config


def task_name(config_path: str) -> str:
  """A run directory's name: the config file's, without '.py'."""
  return os.path.splitext(os.path.basename(config_path.split(':', 1)[0]))[0]


def parse_seeds(values: Sequence[str]) -> List[int]:
  """'1,2,3' as ints; raises ConfigError on a bad or repeated seed."""
  seeds = []
  for value in values:
    try:
      seed = int(value)
    except ValueError:
      raise config_lib.ConfigError(
          f'--seeds: {value!r} is not an integer') from None
    if not 0 <= seed < 2**32:
      raise config_lib.ConfigError(f'--seeds: {seed} is not in [0, 2**32)')
    if seed in seeds:
      raise config_lib.ConfigError(f'--seeds: {seed} is given twice')
    seeds.append(seed)
  if not seeds:
    raise config_lib.ConfigError('--seeds is empty')
  return seeds


def parse_cpus(values: Sequence[str]) -> List[int]:
  """--cpus entries as CPU ids this process may use; ConfigError if not."""
  allowed = os.sched_getaffinity(0)
  cpus = []
  for value in values:
    try:
      cpu = int(value)
    except ValueError:
      raise config_lib.ConfigError(
          f'--cpus takes CPU ids, got {value!r}') from None
    if cpu not in allowed:
      raise config_lib.ConfigError(
          f'--cpus: CPU {cpu} is not one this process may use '
          f'({",".join(map(str, sorted(allowed)))})')
    if cpu in cpus:
      raise config_lib.ConfigError(f'--cpus lists CPU {cpu} twice')
    cpus.append(cpu)
  return cpus


def plan(config_paths: Sequence[str], seeds: Sequence[int],
         overrides: Sequence[str], root: str) -> List[RunSpec]:
  """The grid, every config loaded and checked before anything runs."""
  specs = []
  tasks = {}
  for path in config_paths:
    task = task_name(path)
    if task in tasks:
      raise config_lib.ConfigError(
          f'--configs: {tasks[task]} and {path} would share the directory '
          f'{task}/')
    tasks[task] = path
    config = load_config(path, overrides)
    for seed in seeds:
      specs.append(RunSpec(task, seed, path, config.num_env_steps,
                           results.run_dir(os.path.abspath(root), task,
                                           seed)))
  return specs


def is_finished(spec: RunSpec) -> bool:
  """Whether the run evaluated at the end of its budget."""
  run = results.read_run(spec.workdir, spec.task, spec.seed)
  return bool(run.rows) and run.last_env_step >= spec.num_env_steps


def command(spec: RunSpec, overrides: Sequence[str]) -> List[str]:
  """The main.py command line of one run."""
  return [sys.executable, _MAIN, f'--config={spec.config_path}', *overrides,
          f'--config.seed={spec.seed}', f'--workdir={spec.workdir}']


def _last_line(path: str) -> str:
  """The log's last non-empty line, to say why a run failed."""
  try:
    with open(path, 'rb') as f:
      f.seek(max(0, os.path.getsize(path) - 4096))
      lines = [l.strip() for l in f.read().decode(errors='replace').splitlines()]
  except OSError:
    return ''
  lines = [l for l in lines if l]
  return lines[-1] if lines else ''


class _Stop(cadence.StopOnSignal):
  """Records every SIGINT/SIGTERM, for the sweep to pass on to its runs.

  A second Ctrl-C is passed on too, and main.py then stops at once.
  """

  def __init__(self):
    super().__init__()
    self.signals: List[int] = []

  @property
  def requested(self) -> bool:
    return bool(self.signals)

  def _handle(self, signum, unused_frame):
    if not self.signals:
      print(f'sweep: {signal.Signals(signum).name} received: the running '
            'runs checkpoint and stop (Ctrl-C again to stop them at once); '
            'run the same command to go on', flush=True)
    self.signals.append(signum)


def run_sweep(specs: Sequence[RunSpec], overrides: Sequence[str],
              parallel: int = 1, gpus: Optional[Sequence[str]] = None,
              poll_s: float = 2.0, make_command=command,
              cpus: Optional[Sequence[int]] = None) -> List[Outcome]:
  """Runs every unfinished spec, `parallel` at a time; returns the outcomes.

  Each run is a main.py process in its own session, so a Ctrl-C at the
  terminal reaches the sweep only, which passes the signal on once to each
  running process (main.py then checkpoints and exits) and starts no more.

  Args:
    specs: the grid, from `plan`.
    overrides: --config.<field>=<value> arguments for every run.
    parallel: processes at once.
    gpus: GPU ids, at least `parallel`; each running process gets one.
    cpus: CPU ids, at least `parallel`; each running process is pinned to
      one.
    poll_s: seconds between checks on the running processes.
    make_command: spec, overrides -> argv (tests replace main.py with a
      small program that writes eval.csv like it).

  Returns:
    One Outcome per spec, in the specs' order.
  """
  outcomes: Dict[str, Outcome] = {}
  pending = []
  for spec in specs:
    if is_finished(spec):
      outcomes[spec.name] = Outcome(spec, 'skipped', 'finished earlier')
    else:
      pending.append(spec)
  # A slot is what one running process holds: its GPU and its CPU, if any.
  free_slots = [(gpus[i] if gpus else None, cpus[i] if cpus else None)
                for i in range(parallel)]
  running: Dict[str, Tuple[RunSpec, subprocess.Popen,
                           Tuple[Optional[str], Optional[int]]]] = {}
  forwarded = 0
  total = len(pending)
  with _Stop() as stop:
    while running or (pending and not stop.requested):
      while pending and len(running) < parallel and not stop.requested:
        spec = pending.pop(0)
        slot = free_slots.pop(0)
        gpu, cpu = slot
        verb = 'resuming' if os.path.exists(spec.workdir) else 'starting'
        running[spec.name] = (spec, _start(spec, overrides, gpu,
                                           make_command, cpu), slot)
        started = total - len(pending)
        print(f'sweep: [{started}/{total}] {verb} {spec.name}'
              + (f' on GPU {gpu}' if gpu else '')
              + (f' on CPU {cpu}' if cpu is not None else '')
              + f' (log: {spec.log_path})', flush=True)
      for signum in stop.signals[forwarded:]:
        for _, process, _ in running.values():
          if process.poll() is None:
            process.send_signal(signum)
      forwarded = len(stop.signals)
      time.sleep(poll_s)
      for name, (spec, process, slot) in list(running.items()):
        if process.poll() is None:
          continue
        del running[name]
        free_slots.append(slot)
        outcomes[name] = _outcome(spec, process.returncode, stop.requested)
        print(f'sweep: {name} {outcomes[name].status}'
              + (f': {outcomes[name].detail}' if outcomes[name].detail
                 else ''), flush=True)
  for spec in pending:
    outcomes[spec.name] = Outcome(spec, 'interrupted', 'not started')
  return [outcomes[spec.name] for spec in specs]


def _start(spec: RunSpec, overrides: Sequence[str], gpu: Optional[str],
           make_command, cpu: Optional[int] = None) -> subprocess.Popen:
  os.makedirs(os.path.dirname(spec.workdir), exist_ok=True)
  argv = make_command(spec, overrides)
  env = dict(os.environ)
  if gpu is not None:
    env['CUDA_VISIBLE_DEVICES'] = gpu
  with open(spec.log_path, 'a') as log:
    log.write(f'\n=== {datetime.datetime.now().isoformat(timespec="seconds")}'
              f' {" ".join(argv)}\n')
  log = open(spec.log_path, 'a')  # pylint: disable=consider-using-with
  try:
    # A session of its own: the terminal's Ctrl-C goes to the sweep, which
    # passes it on exactly once (main.py stops at once on a second SIGINT).
    return subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env,
        start_new_session=True,
        # TensorFlow sizes its thread pools by the CPUs it may use, so a
        # pinned run uses one core's worth of threads.
        preexec_fn=(None if cpu is None else
                    lambda: os.sched_setaffinity(0, {cpu})))
  finally:
    log.close()  # The child holds its own descriptor.


def _outcome(spec: RunSpec, returncode: int, stopping: bool) -> Outcome:
  if returncode == 0 and is_finished(spec):
    return Outcome(spec, 'finished')
  if stopping:
    return Outcome(spec, 'interrupted', 'resumes from its checkpoint')
  why = (f'exit code {returncode}' if returncode else
         'exited before the end of its budget')
  last = _last_line(spec.log_path)
  return Outcome(spec, 'failed', f'{why}; log: {spec.log_path}' +
                 (f'; last line: {last}' if last else ''))


def summary(outcomes: Sequence[Outcome]) -> str:
  """One line per run, and the counts."""
  lines = [f'  {o.spec.name:<40} {o.status}' + (f': {o.detail}' if o.detail
                                               else '') for o in outcomes]
  counts = {}
  for o in outcomes:
    counts[o.status] = counts.get(o.status, 0) + 1
  lines.append('sweep: ' + ', '.join(f'{n} {status}' for status, n in
                                     sorted(counts.items())))
  return '\n'.join(lines)


def exit_code(outcomes: Sequence[Outcome]) -> int:
  """0 when every run is done; 1 if one failed; 3 if only interrupted."""
  statuses = {o.status for o in outcomes}
  if 'failed' in statuses:
    return 1
  return 3 if 'interrupted' in statuses else 0


def _fail(message: str):
  print(_ERROR_PREFIX + message, file=sys.stderr)
  sys.exit(2)


_OVERRIDES: List[str] = []


def _parse_flags(argv: List[str]) -> List[str]:
  try:
    rest, overrides = split_overrides(argv[1:])
    _OVERRIDES[:] = overrides
    return flags.FLAGS([argv[0], *rest])
  except (config_lib.ConfigError, flags.Error) as e:
    _fail(str(e).splitlines()[0])


def main(argv: List[str]) -> None:
  if len(argv) > 1:
    _fail(f'unexpected arguments: {" ".join(argv[1:])}')
  for name in ('configs', 'seeds', 'root'):
    if not flags.FLAGS[name].value:
      _fail(f'flag --{name} is required')
  gpus, parallel = _FLAGS.gpus.value, _FLAGS.parallel.value
  try:
    cpus = parse_cpus(_FLAGS.cpus.value) if _FLAGS.cpus.value else None
  except config_lib.ConfigError as e:
    _fail(str(e))
  for name, pool in (('gpus', gpus), ('cpus', cpus)):
    if pool and parallel and parallel > len(pool):
      _fail(f'--parallel={parallel} needs as many --{name}, got {len(pool)}')
  if gpus and cpus and len(gpus) != len(cpus):
    _fail(f'--gpus and --cpus must have as many entries, got {len(gpus)} '
          f'and {len(cpus)}')
  parallel = parallel or len(gpus or cpus or [1])
  configs, root = _FLAGS.configs.value, _FLAGS.root.value
  try:
    seeds = parse_seeds(_FLAGS.seeds.value)
    with console.quiet_libraries():
      specs = plan(configs, seeds, _OVERRIDES, root)
    config_lib.prepare_workdir(root)
  except config_lib.ConfigError as e:
    _fail(str(e))
  print(f'sweep: {len(specs)} runs ({len(configs)} tasks x {len(seeds)} '
        f'seeds) under {os.path.abspath(root)}, {parallel} at a time',
        flush=True)
  outcomes = run_sweep(specs, _OVERRIDES, parallel=parallel, gpus=gpus,
                       poll_s=_FLAGS.poll_s.value, cpus=cpus)
  print(summary(outcomes), flush=True)
  sys.exit(exit_code(outcomes))


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(main, flags_parser=_parse_flags)
