"""Tests for curl_tf.estimates, against values computed by hand."""

import os

from absl.testing import absltest
from absl.testing import parameterized

from curl_tf import config_lib
from curl_tf import estimates

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(name, **overrides):
  config = config_lib.load_config_file(
      os.path.join(REPO_ROOT, 'configs', name + '.py'))
  # The model's figures are float32 steps; the default, 'auto', adds a note
  # (test_a_16_bit_precision_is_named_not_modelled).
  config.precision = 'float32'
  for field, value in overrides.items():
    config[field] = value
  return config


class TrainStepTest(parameterized.TestCase):

  def test_line_through_the_two_measured_batch_sizes(self):
    # (1.632 - 0.4295) / (512 - 128) s per sample, and what is left of the
    # batch-128 step: 0.4295 - 128 * 1.2025 / 384 = 0.4295 - 0.4008333.
    self.assertAlmostEqual(estimates.train_step_slope_s(), 1.2025 / 384)
    self.assertAlmostEqual(estimates.train_step_overhead_s(), 0.0286666667)

  @parameterized.parameters(
      (128, 84, 0.4295), (512, 84, 1.632),
      # Half the crop side, a quarter of the per-sample cost:
      # 0.0286667 + 256 * 0.0031315 / 4.
      (256, 42, 0.2290833333),
      # 0.0286667 + 0.4008333 * 28**2 / 84**2 = 0.0286667 + 0.4008333 / 9.
      (128, 28, 0.0732037037))
  def test_train_step(self, batch_size, crop_size, expected):
    self.assertAlmostEqual(estimates.train_step_s(batch_size, crop_size),
                           expected)

  def test_model_is_close_to_the_small_crop_measurement(self):
    # Measured at 28x28 crops, batch 128: about 60 ms (the model does not
    # use it). Linear in the area, the model is high, never low.
    self.assertBetween(estimates.train_step_s(128, 28), 0.060, 0.060 * 1.3)

  def test_collection_and_loop_factor(self):
    # 420 env steps/s at action repeat 8.
    self.assertAlmostEqual(estimates.collect_step_s(), 8 / 420)
    # 16.9 env steps/s at action repeat 8: 0.4733728 s per agent step,
    # against 0.4295 s for the train step alone.
    self.assertAlmostEqual(estimates.loop_factor(), 1.1021485007)


class EstimateTest(parameterized.TestCase):

  def test_small_run_by_hand(self):
    # Cartpole (action repeat 8) at the loop's measured batch and crop:
    # 2000 agent steps, 1000 random and 1000 updates; evaluations at 0, 8k
    # and 16k env steps, 2 episodes of 125 agent steps each.
    config = _config('default', batch_size=128, num_env_steps=16_000,
                     eval_every_env_steps=8000, num_eval_episodes=2)
    e = estimates.estimate(config)
    self.assertEqual(e.num_updates, 1000)
    self.assertEqual(e.num_evaluations, 3)
    # At the loop's own setting an update costs what the loop measured.
    self.assertAlmostEqual(e.learning_s, 1000 * 8 / 16.9)  # 473.37278
    self.assertAlmostEqual(e.random_s, 1000 * 8 / 420)  # 19.04762
    self.assertAlmostEqual(e.eval_s, 3 * 2 * 125 * 8 / 420)  # 14.28571
    self.assertAlmostEqual(estimates.estimate_wall_clock_s(config),
                           506.7061143, places=5)

  def test_default_500k_cartpole_at_batch_512(self):
    # 62,500 agent steps: 1,000 random, 61,500 updates at 1.632 s x 1.1021485
    # = 1.7987063 s; 51 evaluations (0, 10k, ..., 500k) of 10 x 125 agent
    # steps.
    config = _config('default')
    self.assertAlmostEqual(
        estimates.estimate_wall_clock_s(config),
        61_500 * 1.632 * 1.1021485007 + 1000 * 8 / 420 +
        51 * 10 * 125 * 8 / 420, places=3)  # 111,853.8 s
    self.assertEqual(
        estimates.describe_estimate(config),
        "estimated wall-clock on a 2-core CPU like the benchmark's: 31.1 h "
        '(61,500 updates at ~1.63 s, +10% for collection beside them; 51 '
        'evaluations, 20.2 min)')

  @parameterized.parameters((10_000, 3000, 5), (16_000, 8000, 3),
                            (500_000, 10_000, 51))
  def test_evaluations_at_zero_every_and_end(self, budget, every, expected):
    # 10k every 3k: 0, 3k, 6k, 9k, then the end.
    config = _config('default', num_env_steps=budget,
                     eval_every_env_steps=every)
    self.assertEqual(estimates.num_evaluations(config), expected)

  def test_walker_episodes_are_500_agent_steps(self):
    config = _config('walker_walk', num_env_steps=100_000)
    e = estimates.estimate(config)
    # 11 evaluations x 10 episodes x 1000 / 2 agent steps.
    self.assertAlmostEqual(e.eval_s, 11 * 10 * 500 * 8 / 420)
    self.assertEqual(e.num_updates, 49_000)

  def test_learning_check_is_close_to_its_measured_time(self):
    # tests/learning_test.py trains it in about 14 minutes.
    seconds = estimates.estimate_wall_clock_s(_config('learning_check'))
    self.assertBetween(seconds, 12 * 60, 17 * 60)

  def test_state_sac_by_hand(self):
    # configs/ablations/state_sac.py: 10,000 agent steps, 1,000 random and
    # 9,000 updates at batch 128; 6 evaluations of 10 episodes of 125 steps.
    config = config_lib.load_config_file(
        os.path.join(REPO_ROOT, 'configs', 'ablations', 'state_sac.py'))
    e = estimates.estimate(config)
    self.assertEqual(e.num_updates, 9000)
    self.assertAlmostEqual(e.train_step_s, 0.028)
    self.assertAlmostEqual(e.learning_s, 9000 * (0.028 + 0.0018))  # 268.2
    self.assertAlmostEqual(e.random_s, 1000 * 0.0018)
    self.assertAlmostEqual(e.eval_s, 6 * 10 * 125 * 0.0018)  # 13.5
    config.batch_size = 512
    # 9,000 x (0.112 + 0.0018) + 1.8 + 13.5 = 1,039.5 s.
    self.assertAlmostEqual(estimates.estimate(config).train_step_s, 0.112)
    self.assertEqual(
        estimates.describe_estimate(config).split(': ', 1)[1],
        '17.3 min (9,000 state SAC updates at ~112 ms, nothing rendered; 6 '
        'evaluations, 14 s)')

  def test_a_16_bit_precision_is_named_not_modelled(self):
    config = _config('learning_check')
    float32_line = estimates.describe_estimate(config)
    self.assertNotIn('float32 figures', float32_line)
    config.precision = 'auto'
    self.assertEqual(
        estimates.describe_estimate(config),
        float32_line + '; float32 figures: with precision=auto, a CPU with '
        'AMX ran the 84x84 step 2.75x faster')

  @parameterized.parameters((45, '45 s'), (89.4, '89 s'), (888, '14.8 min'),
                            (111_854, '31.1 h'),
                            (452_000, '125.6 h (5.2 days)'))
  def test_format_duration(self, seconds, expected):
    self.assertEqual(estimates.format_duration(seconds), expected)


class Table1Test(absltest.TestCase):

  def test_table(self):
    lines = estimates.table_1_markdown().splitlines()
    self.assertLen(lines, 2 + 6)
    self.assertEqual(
        lines[0], '| task | action repeat | updates at 100k / 500k | 100k, '
        'batch 128 | 100k, batch 512 | 500k, batch 128 | 500k, batch 512 |')
    self.assertEqual(
        lines[2], '| cartpole_swingup | 8 | 11,500 / 61,500 | 1.6 h | 5.8 h | '
        '8.4 h | 31.1 h |')
    self.assertStartsWith(lines[4], '| walker_walk | 2 | 49,000 / 249,000 |')


if __name__ == '__main__':
  absltest.main()
