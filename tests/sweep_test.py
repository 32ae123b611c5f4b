"""Tests for curl_tf.sweep: the grid, skipping, resuming, failures, signals.

The scheduling tests run a small stand-in for main.py (it writes eval.csv
the way a run does, and can fail or wait for a signal), so that they take
seconds; the slow test runs the real main.py twice through the command line.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

from absl.testing import absltest
from absl.testing import parameterized
import pytest

from curl_tf import config_lib
from curl_tf import results
from curl_tf import sweep

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SMOKE = os.path.join(_REPO, 'configs', 'smoke.py')
_CARTPOLE = os.path.join(_REPO, 'configs', 'cartpole_swingup.py')

# Writes eval.csv at env step 0 and, unless told to fail or stopped by a
# signal first, at the end of the budget; appends what it saw to a record.
_FAKE_RUN = textwrap.dedent("""
    import os, signal, sys, time
    workdir, steps, mode, record = sys.argv[1:5]
    stopped = []
    signal.signal(signal.SIGTERM, lambda *unused: stopped.append(1))
    os.makedirs(workdir, exist_ok=True)
    name = '/'.join(workdir.split(os.sep)[-2:])
    gpu = os.environ.get('CUDA_VISIBLE_DEVICES', '-')
    cpus = ','.join(map(str, sorted(os.sched_getaffinity(0))))
    with open(record, 'a') as f:
      f.write(f'start {name} {time.time()} {gpu} {cpus}\\n')
    path = os.path.join(workdir, 'eval.csv')
    if not os.path.exists(path):
      with open(path, 'w') as f:
        f.write('env_step,return_mean\\n0,1.0\\n')
    if mode == 'fail':
      print('fake run: the learner diverged')
      sys.exit(1)
    if mode == 'wait':
      deadline = time.time() + 60
      while not stopped and time.time() < deadline:
        time.sleep(0.05)
      sys.exit(0)  # As main.py does after its checkpoint on a signal.
    time.sleep(0.4 if mode == 'sleep' else 0.0)
    with open(path, 'a') as f:
      f.write(f'{steps},500.0\\n')
    with open(record, 'a') as f:
      f.write(f'end {name} {time.time()} {gpu} {cpus}\\n')
    """)


def _tempdir(test) -> str:
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


class PlanTest(absltest.TestCase):

  def test_grid_of_tasks_and_seeds_with_overrides(self):
    root = _tempdir(self)
    specs = sweep.plan([_SMOKE, _CARTPOLE], [1, 2],
                       ['--config.num_env_steps=16000'], root)
    self.assertEqual([s.name for s in specs],
                     ['smoke/seed_1', 'smoke/seed_2',
                      'cartpole_swingup/seed_1', 'cartpole_swingup/seed_2'])
    self.assertEqual({s.num_env_steps for s in specs}, {16000})
    self.assertEqual(specs[3].workdir,
                     os.path.join(root, 'cartpole_swingup', 'seed_2'))
    self.assertEqual(specs[3].log_path, specs[3].workdir + '.log')
    argv = sweep.command(specs[3], ['--config.num_env_steps=16000'])
    self.assertEqual(argv[1:], [
        os.path.join(_REPO, 'main.py'), f'--config={_CARTPOLE}',
        '--config.num_env_steps=16000', '--config.seed=2',
        f'--workdir={specs[3].workdir}'])

  def test_bad_input_is_one_line(self):
    root = _tempdir(self)
    cases = [
        ([_SMOKE, _SMOKE], [], 'would share the directory smoke/'),
        ([_SMOKE], ['--config.batch_sise=4'],
         "unknown config field 'batch_sise'"),
        ([_SMOKE], ['--config.batch_size=-4'], 'batch_size'),
        (['configs/nope.py'], [], 'config file not found: configs/nope.py'),
    ]
    for paths, overrides, message in cases:
      with self.subTest(message):
        with self.assertRaisesRegex(config_lib.ConfigError, message) as cm:
          sweep.plan(paths, [1], overrides, root)
        self.assertNotIn('\n', str(cm.exception))

  def test_overrides_and_seeds_are_checked(self):
    self.assertEqual(
        sweep.split_overrides(['--root=r', '--config.batch_size=8']),
        (['--root=r'], ['--config.batch_size=8']))
    with self.assertRaisesRegex(config_lib.ConfigError, '--seeds'):
      sweep.split_overrides(['--config.seed=3'])
    with self.assertRaisesRegex(config_lib.ConfigError, '=VALUE'):
      sweep.split_overrides(['--config.batch_size', '8'])
    self.assertEqual(sweep.parse_seeds(['3', '1']), [3, 1])
    for bad in (['1', '1'], ['x'], ['-1'], []):
      with self.subTest(bad=bad):
        with self.assertRaises(config_lib.ConfigError):
          sweep.parse_seeds(bad)


class RunSweepTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.root = _tempdir(self)
    self.record = os.path.join(self.root, 'record.txt')
    self.modes = {}

  def _specs(self, tasks=('a', 'b'), seeds=(1, 2), steps=100):
    return [sweep.RunSpec(t, s, f'{t}.py', steps,
                          results.run_dir(self.root, t, s))
            for t in tasks for s in seeds]

  def _command(self, spec, unused_overrides):
    mode = self.modes.get(spec.name, 'finish')
    return [sys.executable, '-c', _FAKE_RUN, spec.workdir,
            str(spec.num_env_steps), mode, self.record]

  def _run(self, specs, **kwargs):
    return sweep.run_sweep(specs, [], poll_s=0.05,
                           make_command=self._command, **kwargs)

  def _events(self):
    if not os.path.exists(self.record):
      return []
    with open(self.record) as f:
      return [line.split() for line in f]

  def test_runs_everything_then_skips_finished_runs(self):
    specs = self._specs()
    outcomes = self._run(specs)
    self.assertEqual([o.status for o in outcomes], ['finished'] * 4)
    self.assertEqual(sweep.exit_code(outcomes), 0)
    for spec in specs:
      run = results.read_run(spec.workdir, spec.task, spec.seed)
      self.assertEqual(run.return_at(100), 500.0)
    started = len(self._events())
    outcomes = self._run(specs)
    self.assertEqual([o.status for o in outcomes], ['skipped'] * 4)
    self.assertLen(self._events(), started)  # Nothing started again.

  def test_a_longer_budget_resumes_a_finished_run(self):
    self._run(self._specs(tasks=('a',), seeds=(1,)))
    outcome, = self._run(self._specs(tasks=('a',), seeds=(1,), steps=200))
    self.assertEqual(outcome.status, 'finished')

  def test_a_failure_is_reported_and_the_others_carry_on(self):
    specs = self._specs()
    self.modes['a/seed_2'] = 'fail'
    outcomes = self._run(specs)
    self.assertEqual([o.status for o in outcomes],
                     ['finished', 'failed', 'finished', 'finished'])
    self.assertIn(f'log: {specs[1].log_path}', outcomes[1].detail)
    self.assertIn('exit code 1', outcomes[1].detail)
    self.assertIn('last line: fake run: the learner diverged',
                  outcomes[1].detail)
    self.assertEqual(sweep.exit_code(outcomes), 1)
    text = sweep.summary(outcomes)
    self.assertIn('a/seed_2', text)
    self.assertIn('1 failed, 3 finished', text)
    # Run again: the failed run is tried again, the finished ones skipped.
    del self.modes['a/seed_2']
    outcomes = self._run(specs)
    self.assertEqual([o.status for o in outcomes],
                     ['skipped', 'finished', 'skipped', 'skipped'])

  def test_a_signal_stops_the_runs_and_the_same_sweep_resumes(self):
    specs = self._specs()
    self.modes['a/seed_1'] = 'wait'

    def interrupt_once_started():
      deadline = time.time() + 30
      while not self._events() and time.time() < deadline:
        time.sleep(0.02)
      os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=interrupt_once_started)
    thread.start()
    outcomes = self._run(specs)
    thread.join()
    self.assertEqual(outcomes[0].status, 'interrupted')
    self.assertEqual([o.detail for o in outcomes[1:]], ['not started'] * 3)
    self.assertEqual(sweep.exit_code(outcomes), 3)
    self.assertLen(self._events(), 1)  # No run started after the signal.
    # The run kept what it wrote: eval.csv at step 0, not at the end.
    run = results.read_run(specs[0].workdir, 'a', 1)
    self.assertEqual([r.env_step for r in run.rows], [0])
    del self.modes['a/seed_1']
    outcomes = self._run(specs)
    self.assertEqual([o.status for o in outcomes], ['finished'] * 4)
    self.assertEqual(results.read_run(specs[0].workdir, 'a', 1).rows[-1],
                     results.EvalRow(100, 500.0))

  @parameterized.parameters(1, 2)
  def test_parallel_runs_overlap_and_each_gpu_has_one_run(self, parallel):
    for spec in self._specs():
      self.modes[spec.name] = 'sleep'
    gpus = ['0', '1'] if parallel == 2 else None
    outcomes = self._run(self._specs(), parallel=parallel, gpus=gpus)
    self.assertEqual([o.status for o in outcomes], ['finished'] * 4)
    spans = {}
    for kind, name, when, gpu, _ in self._events():
      spans.setdefault(name + gpu, []).append(float(when))
    intervals = sorted(spans.values())
    overlapping = sum(
        1 for i, (start, end) in enumerate(intervals)
        for other_start, other_end in intervals[i + 1:]
        if start < other_end and other_start < end)
    by_gpu = {}
    for kind, name, when, gpu, _ in self._events():
      by_gpu.setdefault(gpu, []).append((float(when), kind))
    if parallel == 1:
      self.assertEqual(overlapping, 0)
      self.assertEqual(set(by_gpu), {'-'})
    else:
      self.assertGreater(overlapping, 0)
      self.assertEqual(set(by_gpu), {'0', '1'})
      # On one GPU, runs follow each other: start, end, start, end.
      for gpu, events in by_gpu.items():
        kinds = [kind for _, kind in sorted(events)]
        self.assertEqual(kinds, ['start', 'end'] * (len(kinds) // 2), gpu)

  def test_each_running_process_is_pinned_to_its_own_cpu(self):
    allowed = sorted(os.sched_getaffinity(0))
    cpus = allowed[:2]
    for spec in self._specs():
      self.modes[spec.name] = 'sleep'
    outcomes = self._run(self._specs(), parallel=len(cpus), cpus=cpus)
    self.assertEqual([o.status for o in outcomes], ['finished'] * 4)
    events = self._events()
    # Each run saw exactly one CPU of the list.
    self.assertEqual({e[4] for e in events}, {str(c) for c in cpus})
    # Never two runs on one CPU at once: start, end, start, end per CPU.
    by_cpu = {}
    for kind, _, when, _, cpu in events:
      by_cpu.setdefault(cpu, []).append((float(when), kind))
    for cpu, cpu_events in by_cpu.items():
      kinds = [kind for _, kind in sorted(cpu_events)]
      self.assertEqual(kinds, ['start', 'end'] * (len(kinds) // 2), cpu)
    # Unpinned, a run may use every CPU this process may.
    for spec in self._specs():
      shutil.rmtree(spec.workdir)
    os.remove(self.record)
    self._run(self._specs(tasks=('a',), seeds=(1,)))
    self.assertEqual(self._events()[0][4], ','.join(map(str, allowed)))


def _sweep_cli(*args, timeout=120):
  env = dict(os.environ, MUJOCO_GL='egl')
  return subprocess.run([sys.executable, '-m', 'curl_tf.sweep', *args],
                        cwd=_REPO, env=env, capture_output=True, text=True,
                        timeout=timeout, check=False)


class CommandLineTest(absltest.TestCase):

  def test_bad_input_is_one_line_and_exit_2_and_creates_nothing(self):
    root = os.path.join(_tempdir(self), 'sweep')
    for args, message in [
        (['--configs=configs/smoke.py', '--seeds=1'],
         'flag --root is required'),
        (['--configs=configs/smoke.py', '--seeds=1,x', f'--root={root}'],
         "'x' is not an integer"),
        (['--configs=configs/smoke.py', '--seeds=1', f'--root={root}',
          '--config.seed=2'], 'set seeds with --seeds'),
        (['--configs=configs/smoke.py', '--seeds=1', f'--root={root}',
          '--config.num_env_steps=0'], 'num_env_steps'),
        (['--configs=configs/smoke.py', '--seeds=1', f'--root={root}',
          '--parallel=3', '--gpus=0,1'], 'needs as many --gpus'),
        (['--configs=configs/smoke.py', '--seeds=1', f'--root={root}',
          '--cpus=0,999'], 'CPU 999 is not one this process may use'),
        (['--configs=configs/smoke.py', '--seeds=1', f'--root={root}',
          '--cpus=0,0'], 'lists CPU 0 twice'),
    ]:
      with self.subTest(message):
        result = _sweep_cli(*args)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, '')
        lines = result.stderr.strip().splitlines()
        self.assertLen(lines, 1, result.stderr)
        self.assertIn(message, lines[0])
        self.assertTrue(lines[0].startswith('curl_tf.sweep: error: '))
        self.assertFalse(os.path.exists(root))

  @pytest.mark.slow
  def test_real_runs_then_a_rerun_skips_them(self):
    root = os.path.join(_tempdir(self), 'sweep')
    args = ['--configs=configs/smoke.py', '--seeds=1,2', f'--root={root}',
            '--config.num_env_steps=1600', '--config.eval_every_env_steps=800',
            '--config.checkpoint_every_env_steps=800', '--poll_s=0.5']
    result = _sweep_cli(*args, timeout=900)
    self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
    self.assertIn('2 finished', result.stdout)
    runs = results.find_runs(root)['smoke']
    self.assertEqual([r.seed for r in runs], [1, 2])
    for run in runs:
      self.assertEqual([r.env_step for r in run.rows], [0, 800, 1600])
      self.assertEqual(run.config['seed'], run.seed)
      self.assertEqual(run.config['num_env_steps'], 1600)
      self.assertTrue(os.path.isdir(os.path.join(run.workdir, 'policy')))
    # Different seeds, different runs.
    self.assertNotEqual([r.return_mean for r in runs[0].rows],
                        [r.return_mean for r in runs[1].rows])
    result = _sweep_cli(*args)
    self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
    self.assertIn('2 skipped', result.stdout)


if __name__ == '__main__':
  absltest.main()
