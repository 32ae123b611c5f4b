"""Tests for curl_tf.benchmark: FLOP arithmetic, targets, and a --quick run."""

import json
import math
import os
import subprocess
import sys

from absl.testing import absltest
import pytest

from curl_tf import benchmark
from curl_tf import networks

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
    'learner_data_wait_fraction', 'official_update_ms_b128',
    'speedup_joint_vs_official', 'speedup_sequential_vs_official',
    'overlap_train_step_ms', 'overlap_collect_ms_per_agent_step',
    'overlap_loop_env_steps_per_s', 'overlap_step_bound_env_steps_per_s',
    'overlap_serial_bound_env_steps_per_s', 'full_replay_items',
    'full_replay_rss_gb', 'full_replay_peak_rss_gb',
    'train_step_ms_b128_bf16', 'flop_limit_ms_b128_bf16',
    'encoder_gflops_per_s_bf16', 'speedup_bf16_vs_float32')


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
        'train_step_ms_b128_sequential': 1201.0,  # Above 3000 / 2.5.
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


# Process memory growth over a few hundred inserts: what the allocator
# happens to hold moves it by megabytes, so a quick run's figure may even be
# negative. The full benchmark measures it over 10k real frames.
_ALLOCATOR_FIGURES = ('replay_bytes_per_transition',
                      'replay_rss_gb_100k_estimate')
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
    # Figures fixed by construction.
    self.assertEqual(results['official_update_ms_b128'], 3000)
    self.assertAlmostEqual(results['encoder_mflop_per_image'], 88.481984)
    self.assertTrue(results['quick'])
    self.assertSetEqual(set(results['checks']), {
        'train_step_ms_b128', 'train_step_ms_b128_sequential',
        'replay_bytes_per_transition', 'replay_rss_gb_100k_estimate',
        'pipeline_batches_per_s_b128', 'pipeline_paced_batches_per_s_b128',
        'pipeline_paced_cpu_cores_b128', 'full_replay_rss_gb',
        'full_replay_peak_rss_gb', 'learner_data_wait_fraction',
        'overlap_hidden_fraction', 'train_step_ms_b128_bf16'})
    for name, passed in results['checks'].items():
      self.assertIsInstance(passed, bool, name)
    # The quick full-replay table holds every quick write (1,000 < 100k).
    self.assertEqual(results['full_replay_items'], 1_000)
    # The peak RSS is at least the RSS at the end.
    self.assertGreaterEqual(results['full_replay_peak_rss_gb'],
                            results['full_replay_rss_gb'])

if __name__ == '__main__':
  absltest.main()
