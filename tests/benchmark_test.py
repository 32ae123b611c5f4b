"""Tests for curl_tf.benchmark: FLOP arithmetic, targets, and a --quick run.

Also the official-update comparison (curl_tf/official_update.py): parsing its
output, the errors for bad flags, the ratios; and, marked `official` and
skipped unless CURL_OFFICIAL_REPO and CURL_OFFICIAL_PYTHON name a checkout of
the official code and a Python with torch, a real timing of it.
"""

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
import pytest

from curl_tf.agents.sac import networks
from curl_tf import benchmark
from curl_tf import official_update

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Conv FLOPs of the paper's encoder on an 84x84x9 crop: 3x3 VALID kernels,
# 32 filters, stride 2 then 1, so outputs are 41, 39, 37 and 35 pixels wide.
# Each output value costs one multiply-add (2 FLOPs) per kernel tap.
_CONV_FLOPS = (41 * 41 * 32 * (3 * 3 * 9) * 2      # conv1:  8,714,304
               + 39 * 39 * 32 * (3 * 3 * 32) * 2   # conv2: 28,035,072
               + 37 * 37 * 32 * (3 * 3 * 32) * 2   # conv3: 25,233,408
               + 35 * 35 * 32 * (3 * 3 * 32) * 2)  # conv4: 22,579,200
# Flattened conv output: 35 * 35 * 32 = 39,200 features.
_LINEAR_HEAD_FLOPS = 39_200 * 50 * 2                      # 3,920,000
_MLP_HEAD_FLOPS = 39_200 * 1024 * 2 + 1024 * 50 * 2       # 80,384,000

_REQUIRED_KEYS = (
    'train_step_ms_b128', 'train_step_ms_b128_mean', 'train_step_ms_b512',
    'train_step_ms_b512_mean', 'train_step_ms_b128_sequential',
    'flop_limit_ms_b128', 'encoder_mflop_per_image', 'encoder_gflops_per_s',
    'pipeline_batches_per_s_b128', 'pipeline_cpu_cores_b128',
    'pipeline_paced_batches_per_s_b128', 'pipeline_paced_cpu_cores_b128',
    'replay_bytes_per_transition', 'replay_rss_gb_100k_estimate',
    'env_steps_per_s', 'train_loop_env_steps_per_s',
    'learner_data_wait_fraction', 'overlap_train_step_ms',
    'overlap_collect_ms_per_agent_step',
    'overlap_loop_env_steps_per_s', 'overlap_step_bound_env_steps_per_s',
    'overlap_serial_bound_env_steps_per_s', 'full_replay_items',
    'full_replay_rss_gb', 'full_replay_peak_rss_gb',
    'train_step_ms_b128_bf16', 'flop_limit_ms_b128_bf16',
    'encoder_gflops_per_s_bf16', 'speedup_bf16_vs_float32',
    'atari_replay_frames', 'atari_replay_bytes_per_frame',
    'atari_update_ms_b32', 'atari_updates_per_s',
    'atari_loop_agent_steps_per_s', 'atari_loop_frames_per_s')

# Reported only when the official update was timed in the same run.
_OFFICIAL_KEYS = (
    'official_update_ms_b128', 'official_update_ms_b128_mean',
    'official_update_ms_b128_min', 'official_update_ms_b128_actor_steps',
    'official_update_ms_b128_critic_steps', 'official_update_timed_steps',
    'official_torch_version', 'official_torch_threads',
    'speedup_joint_vs_official', 'speedup_sequential_vs_official')

# A line as official_update.py prints it (its figures from a real run).
_OFFICIAL_LINE = json.dumps({
    'update_ms_median': 783.1, 'update_ms_mean': 749.2, 'update_ms_min': 619,
    'update_ms_median_actor_steps': 838.9,
    'update_ms_median_critic_steps': 647.8, 'timed_steps': 20,
    'warmup_steps': 4, 'first_timed_step': 1004, 'batch_size': 128,
    'torch_version': '2.13.0+cpu', 'torch_threads': 2,
    'stubbed_modules': ['gym', 'skimage']})


class FlopsTest(absltest.TestCase):

  def test_paper_encoder_forward_flops(self):
    config = benchmark.default_config()
    encoder = networks.make_encoder(config)
    flops = benchmark.encoder_forward_flops(encoder, 84, 9)
    self.assertEqual(_CONV_FLOPS + _LINEAR_HEAD_FLOPS, 88_481_984)
    self.assertEqual(flops, 88_481_984)

  def test_mlp_head_flops(self):
    config = benchmark.default_config(encoder_head='mlp')
    encoder = networks.make_encoder(config)
    self.assertEqual(benchmark.encoder_forward_flops(encoder, 84, 9),
                     _CONV_FLOPS + _MLP_HEAD_FLOPS)

  def test_flop_limit(self):
    # 6 passes x 128 images x 88,481,984 FLOPs at 128 GFLOP/s:
    # 6 x 88,481,984 ns = 530,891,904 ns.
    self.assertAlmostEqual(
        benchmark.flop_limit_ms(128, 88_481_984, 128e9), 530.891904)
    # One pass: 88,481,984 ns.
    self.assertAlmostEqual(
        benchmark.flop_limit_ms(128, 88_481_984, 128e9, passes=1),
        88.481984)


class TargetsTest(absltest.TestCase):

  def test_pass_and_fail(self):
    results = {
        'train_step_ms_b128': 600.0, 'flop_limit_ms_b128': 500.0,  # 1.2x
        'official_update_ms_b128': 900.0,
        'train_step_ms_b128_sequential': 361.0,  # Above 900 / 2.5.
        'replay_bytes_per_transition': 12_000.0,
        'replay_rss_gb_100k_estimate': 4.1,
        'pipeline_batches_per_s_b128': 10.0,
        'pipeline_cpu_cores_b128': 1.1,  # Full speed: reported, no target.
        'pipeline_paced_batches_per_s_b128': 9.95,  # Within 1% of 10.
        'pipeline_paced_cpu_cores_b128': 1.01,
        'full_replay_rss_gb': 3.9,
        'full_replay_peak_rss_gb': 4.01,
        'learner_data_wait_fraction': 0.05,  # The target is strict.
        'overlap_hidden_fraction': 0.5,
    }
    self.assertEqual(benchmark.check_targets(results), {
        'train_step_ms_b128': True,
        'train_step_ms_b128_sequential': False,
        'replay_bytes_per_transition': True,
        'replay_rss_gb_100k_estimate': False,
        'pipeline_batches_per_s_b128': True,
        'pipeline_paced_batches_per_s_b128': True,
        'pipeline_paced_cpu_cores_b128': False,
        'full_replay_rss_gb': True,
        'full_replay_peak_rss_gb': False,
        'learner_data_wait_fraction': False,
        'overlap_hidden_fraction': True,
    })

  def test_overlap_hidden_fraction(self):
    # Step 200 ms, collect 20 ms per agent step: serial 220 ms. A loop at
    # 205 ms per agent step hides 15 of the 20 ms.
    self.assertAlmostEqual(
        benchmark.overlap_hidden_fraction(0.200, 0.020, 0.205), 0.75)
    self.assertAlmostEqual(
        benchmark.overlap_hidden_fraction(0.200, 0.020, 0.220), 0.0)

  def test_unmeasured_targets_are_left_out(self):
    self.assertEqual(
        benchmark.check_targets({'replay_bytes_per_transition': 31_000.0}),
        {'replay_bytes_per_transition': False})

  def test_sequential_target_needs_the_official_figure(self):
    results = {'train_step_ms_b128_sequential': 350.0}
    self.assertEqual(benchmark.check_targets(results), {})
    results['official_update_ms_b128'] = 900.0
    self.assertEqual(benchmark.check_targets(results),
                     {'train_step_ms_b128_sequential': True})


class OfficialOutputTest(absltest.TestCase):
  """official_update.py's JSON line, as the benchmark reads it."""

  def test_last_line_is_read(self):
    # Whatever a library printed before the result is ignored; a whole
    # number where a float is expected is one.
    result = official_update.parse_output(
        'some notice\n' + _OFFICIAL_LINE + '\n\n')
    self.assertEqual(result['update_ms_median'], 783.1)
    self.assertEqual(result['update_ms_min'], 619.0)
    self.assertIsInstance(result['update_ms_min'], float)
    self.assertEqual(result['torch_version'], '2.13.0+cpu')
    self.assertEqual(result['torch_threads'], 2)

  def test_bad_output_is_one_line_error(self):
    missing = json.loads(_OFFICIAL_LINE)
    del missing['torch_threads']
    mistyped = dict(json.loads(_OFFICIAL_LINE), timed_steps='20')
    boolean = dict(json.loads(_OFFICIAL_LINE), torch_threads=True)
    for stdout, fragment in (
        ('', 'not JSON'), ('Traceback\nboom', 'not JSON'),
        ('[1, 2]', 'not a JSON object'),
        (json.dumps(missing), "'torch_threads'"),
        (json.dumps(mistyped), "'timed_steps'"),
        (json.dumps(boolean), "'torch_threads'")):
      with self.subTest(stdout=stdout[:20]):
        with self.assertRaisesRegex(official_update.OfficialUpdateError,
                                    fragment) as raised:
          official_update.parse_output(stdout)
        self.assertNotIn('\n', str(raised.exception))

  def test_summarize(self):
    # Steps 1004-1007: the even ones also update the actor and targets.
    summary = official_update.summarize(
        {1004: 0.9, 1005: 0.6, 1006: 1.0, 1007: 0.7})
    self.assertAlmostEqual(summary['update_ms_median'], 800.0)
    self.assertAlmostEqual(summary['update_ms_mean'], 800.0)
    self.assertAlmostEqual(summary['update_ms_min'], 600.0)
    self.assertAlmostEqual(summary['update_ms_median_actor_steps'], 950.0)
    self.assertAlmostEqual(summary['update_ms_median_critic_steps'], 650.0)
    self.assertEqual(summary['timed_steps'], 4)
    self.assertEqual(summary['first_timed_step'], 1004)


class OfficialResultsTest(absltest.TestCase):

  def test_ratios_only_with_the_official_figure(self):
    results = {'train_step_ms_b128': 400.0,
               'train_step_ms_b128_sequential': 600.0}
    benchmark.add_speedups(results)
    for key in _OFFICIAL_KEYS:
      self.assertNotIn(key, results)
    results.update(benchmark.official_results(
        official_update.parse_output(_OFFICIAL_LINE)))
    benchmark.add_speedups(results)
    self.assertEqual(results['official_update_ms_b128'], 783.1)
    self.assertEqual(results['official_update_ms_b128_min'], 619.0)
    self.assertEqual(results['official_torch_threads'], 2)
    self.assertEqual(results['official_torch_version'], '2.13.0+cpu')
    self.assertAlmostEqual(results['speedup_joint_vs_official'],
                           783.1 / 400.0)
    self.assertAlmostEqual(results['speedup_sequential_vs_official'],
                           783.1 / 600.0)

  def test_run_without_the_flags_reports_no_official_figure(self):
    results = benchmark.run(quick=True, only=[])
    for key in _OFFICIAL_KEYS:
      self.assertNotIn(key, results)
    self.assertNotIn('train_step_ms_b128_sequential', results['checks'])

  def test_table_names_the_official_torch(self):
    results = benchmark.run(quick=True, only=[])
    results.update(benchmark.official_results(
        official_update.parse_output(_OFFICIAL_LINE)))
    table = benchmark.format_table(results)
    self.assertIn('official_update_ms_b128 ', table)
    self.assertIn('torch 2.13.0+cpu, 2 threads, median of 20 steps', table)


class OfficialSetupTest(absltest.TestCase):
  """Bad --official_repo / --official_python: one line, before any run."""

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.root)

  def _assert_error(self, repo, python, *fragments):
    with self.assertRaises(official_update.OfficialUpdateError) as raised:
      official_update.check_setup(repo, python)
    message = str(raised.exception)
    self.assertNotIn('\n', message)
    for fragment in fragments:
      self.assertIn(fragment, message)

  def test_bad_paths(self):
    self._assert_error(self.root, sys.executable, 'has no curl_sac.py')
    self._assert_error(os.path.join(self.root, 'missing'), sys.executable,
                       'no such directory')
    self._assert_error(self.root, None, 'go together')
    self._assert_error(None, sys.executable, 'go together')
    with open(os.path.join(self.root, 'curl_sac.py'), 'w') as f:
      f.write('# Never run: the interpreter check fails first.\n')
    self._assert_error(self.root, os.path.join(self.root, 'python'),
                       'not an executable file')

  def test_python_without_torch(self):
    if importlib.util.find_spec('torch') is not None:
      self.skipTest('this interpreter has torch')
    with open(os.path.join(self.root, 'curl_sac.py'), 'w') as f:
      f.write('# Never run: the interpreter check fails first.\n')
    self._assert_error(self.root, sys.executable, 'cannot import torch',
                       "No module named 'torch'")

  def _error_line(self, *flags_given) -> str:
    """Runs the benchmark with bad flags: exit 2, nothing on stdout, and one
    line of ours, last on stderr, before anything is measured (TensorFlow's
    load-time lines, printed on every run, may come before it)."""
    result = subprocess.run(
        [sys.executable, '-m', 'curl_tf.benchmark', *flags_given],
        cwd=_REPO_ROOT, capture_output=True, text=True, timeout=300,
        check=False)
    self.assertEqual(result.returncode, 2, result.stderr)
    self.assertNotIn('Traceback', result.stderr)
    self.assertEqual(result.stdout, '')
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith('curl_tf')]
    self.assertEqual(ours, lines[-1:], result.stderr)
    return lines[-1]

  def test_command_line_error_is_one_line(self):
    # A directory without curl_sac.py.
    line = self._error_line('--json', f'--official_repo={self.root}',
                            f'--official_python={sys.executable}')
    self.assertStartsWith(line, 'curl_tf: error: --official_repo=')
    self.assertIn('has no curl_sac.py', line)

  def test_unknown_measurement_is_one_line(self):
    self.assertEqual(self._error_line('--only=atari,atarii'),
                     'curl_tf: error: --only: unknown measurement(s) atarii; '
                     'choose from train_step, encoder, replay, collect, '
                     'train_loop, overlap, full_replay, atari')

@pytest.mark.official
class OfficialUpdateTest(absltest.TestCase):
  """Times the real official update with real torch (not run in CI)."""

  def test_measure(self):
    repo = os.environ.get('CURL_OFFICIAL_REPO')
    python = os.environ.get('CURL_OFFICIAL_PYTHON')
    if not repo or not python:
      self.skipTest('needs CURL_OFFICIAL_REPO (a checkout of '
                    'github.com/MishaLaskin/curl) and CURL_OFFICIAL_PYTHON (a '
                    'Python with torch); CI has neither')
    # Small batch, few steps: this checks the path, not the speed.
    result = official_update.measure(repo, python, batch_size=32,
                                     warmup_steps=2, steps=4)
    self.assertEqual(result['batch_size'], 32)
    self.assertEqual(result['timed_steps'], 4)
    self.assertEqual(result['first_timed_step'], 1002)
    self.assertGreater(result['update_ms_min'], 0)
    self.assertLessEqual(result['update_ms_min'], result['update_ms_median'])
    self.assertGreater(result['update_ms_median_actor_steps'], 0)
    self.assertGreater(result['update_ms_median_critic_steps'], 0)
    self.assertGreaterEqual(result['torch_threads'], 1)
    self.assertNotEmpty(result['torch_version'])
    self.assertEqual(result['agent_kwargs'], official_update.AGENT_KWARGS)


# Process memory growth over a few hundred inserts: what the allocator
# happens to hold moves it by megabytes, so a quick run's figure may even be
# negative. The full benchmark measures it over 10k real frames.
_ALLOCATOR_FIGURES = ('replay_bytes_per_transition',
                      'replay_rss_gb_100k_estimate',
                      'atari_replay_bytes_per_frame')
_FRACTIONS = ('learner_data_wait_fraction',)


@pytest.mark.slow
class QuickRunTest(absltest.TestCase):
  """The benchmark runs end to end and reports every figure, well formed.

  Speeds and memory are the benchmark's own business (its targets, checked
  in its full run); on a loaded CI machine a quick run's timings say
  nothing, so none is compared here.
  """

  def test_quick_json(self):
    result = subprocess.run(
        [sys.executable, '-m', 'curl_tf.benchmark', '--json', '--quick'],
        cwd=_REPO_ROOT, capture_output=True, text=True, timeout=600,
        check=False)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    results = json.loads(result.stdout.strip().splitlines()[-1])
    for key in _REQUIRED_KEYS:
      self.assertIn(key, results)
      value = results[key]
      self.assertIsInstance(value, (int, float), key)
      self.assertNotIsInstance(value, bool, key)
      self.assertTrue(math.isfinite(value), f'{key}={value}')
      if key not in _ALLOCATOR_FIGURES:
        self.assertGreater(value, 0, key)
      if key in _FRACTIONS:
        self.assertLessEqual(value, 1.0, key)
    # What 'auto' picks here, and on which CPU.
    self.assertIn(results['precision_auto'], ('float32', 'mixed_bfloat16'))
    self.assertIsInstance(results['cpu_model'], str)
    self.assertNotEmpty(results['cpu_model'])
    # Without --official_repo/--official_python: no official figure, no
    # ratio over it, and no target that needs one.
    for key in _OFFICIAL_KEYS:
      self.assertNotIn(key, results)
    # Figures fixed by construction.
    self.assertAlmostEqual(results['encoder_mflop_per_image'], 88.481984)
    self.assertTrue(results['quick'])
    self.assertSetEqual(set(results['checks']), {
        'train_step_ms_b128', 'replay_bytes_per_transition',
        'replay_rss_gb_100k_estimate',
        'pipeline_batches_per_s_b128', 'pipeline_paced_batches_per_s_b128',
        'pipeline_paced_cpu_cores_b128', 'full_replay_rss_gb',
        'full_replay_peak_rss_gb', 'learner_data_wait_fraction',
        'overlap_hidden_fraction', 'train_step_ms_b128_bf16'})
    for name, passed in results['checks'].items():
      self.assertIsInstance(passed, bool, name)
    # The quick full-replay table holds every quick write (1,000 < 100k).
    self.assertEqual(results['full_replay_items'], 1_000)
    # Every step's frame, the first frame and one per episode start after.
    self.assertGreaterEqual(results['atari_replay_frames'],
                            benchmark.QUICK.atari_replay_steps + 1)
    # The peak RSS is at least the RSS at the end.
    self.assertGreaterEqual(results['full_replay_peak_rss_gb'],
                            results['full_replay_rss_gb'])

if __name__ == '__main__':
  absltest.main()
