"""Tests for curl_tf.precision and the mixed_bfloat16 agent."""

import shutil
import tempfile
from unittest import mock

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from curl_tf import export
from curl_tf import precision
import agent_fixtures as fixtures


class ResolveTest(parameterized.TestCase):

  @parameterized.parameters(
      ({'avx2', 'amx_bf16', 'amx_tile', 'avx512_bf16'}, 'mixed_bfloat16'),
      # bfloat16 dot products without AMX: not shown to be faster.
      ({'avx2', 'avx512_bf16'}, 'float32'),
      ({'avx2', 'fma'}, 'float32'),
      (set(), 'float32'),
  )
  def test_auto_on_a_cpu(self, flags, expected):
    with mock.patch.object(precision, 'cpu_flags',
                           return_value=frozenset(flags)):
      self.assertEqual(precision.resolve('auto'), expected)

  def test_explicit_choices_are_kept(self):
    self.assertEqual(precision.resolve('float32'), 'float32')
    self.assertEqual(precision.resolve('mixed_bfloat16'), 'mixed_bfloat16')
    self.assertIsNone(precision.layer_policy('float32'))
    self.assertEqual(precision.layer_policy('mixed_bfloat16').compute_dtype,
                     'bfloat16')

  def test_unknown_precision(self):
    with self.assertRaisesRegex(ValueError, "got 'float16'"):
      precision.resolve('float16')

  def test_cpu_model_is_read(self):
    self.assertNotEqual(precision.cpu_model(), '')


_MIXED = (('mixed_bfloat16', 'bfloat16'), ('mixed_float16', 'float16'))


@parameterized.parameters(*_MIXED)
class MixedAgentTest(parameterized.TestCase, tf.test.TestCase):
  """Both mixed precisions: 16-bit compute inside float32 boundaries."""

  def test_inside_float32_at_every_boundary(self, policy, compute_dtype):
    agent = fixtures.make_agent(precision=policy)
    nets = agent.networks
    batch = fixtures.batch(8)
    # Master weights stay float32; the convolutions compute in bfloat16.
    for variable in agent.variables:
      if variable.dtype.is_floating:
        self.assertEqual(variable.dtype, tf.float32, variable.name)
    self.assertEqual(nets.encoder.trunk.convs[0].compute_dtype, compute_dtype)
    self.assertEqual(nets.encoder.trunk(batch['obs']).dtype, compute_dtype)
    # What the losses read is float32: features (after the LayerNorm), Q
    # values, the policy's mean and log std.
    features = nets.encoder(batch['obs'])
    self.assertEqual(features.dtype, tf.float32)
    self.assertEqual(
        nets.critic_1.q_from_features(features, batch['action']).dtype,
        tf.float32)
    mean, log_std = nets.actor.mean_and_log_std(
        nets.actor.conv_features(batch['obs']))
    self.assertEqual((mean.dtype, log_std.dtype), (tf.float32, tf.float32))
    for name, value in agent.train(batch).extra.items():
      self.assertEqual(value.dtype, tf.float32, name)

  def test_first_step_close_to_float32(self, policy, unused_compute_dtype):
    fp32 = fixtures.make_agent()
    bf16 = fixtures.make_agent(precision=policy)
    # Same seed: the same float32 initial weights.
    fixtures.assert_same_variables(self, fp32, bf16)
    batch = fixtures.batch(32, seed=3)
    fp32_metrics = fp32.train(batch).extra
    bf16_metrics = bf16.train(batch).extra
    # bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2%);
    # through four conv layers and two dense layers with float32
    # accumulation the features move by about 1%, and the losses by as
    # much. 5% bounds the measured differences with room; a float32 tensor
    # computed in bfloat16 where it must not be (a LayerNorm, the logits)
    # shows up as more. float16 keeps 11 bits and is closer still.
    for name in ('critic_loss', 'curl_loss', 'actor_loss', 'alpha_loss',
                 'q1_mean', 'q2_mean', 'td_target_mean', 'entropy'):
      self.assertAllClose(bf16_metrics[name], fp32_metrics[name], rtol=0.05,
                          atol=0.02, msg=name)

  def test_exported_policy_returns_float32_actions_in_the_spec(
      self, policy, unused_compute_dtype):
    agent = fixtures.make_agent(precision=policy)
    config = fixtures.config(precision=policy)
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    path = export.export_policies(agent, workdir,
                                  export.policy_info(config, 0, None))
    loaded, info = export.load_policy(path)
    self.assertEqual(info['precision'], policy)
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 9),
                                               np.uint8)
    time_step = ts.restart(tf.constant(frames), batch_size=4)
    action = loaded.action(time_step).action
    self.assertEqual(action.dtype, tf.float32)
    self.assertAllInRange(action, -1.0, 1.0)
    # The same weights through another kernel path (the SavedModel's graph,
    # fused by oneDNN, against eager calls): bfloat16 rounding differs by
    # about 1e-3 here, where float32 exports agree to 1e-5 (export_test).
    expected = agent.eval_policy.action(time_step).action
    self.assertAllClose(action, expected, atol=5e-3)


class BfloatLearningTest(tf.test.TestCase):
  """Learning in bfloat16.

  Not float16: this CPU has no float16 units, so TensorFlow emulates its
  convolutions and 100 steps take over 2 minutes; float16's maths is checked
  above and in LossScaleTest.
  """

  def test_learns_the_fixed_batch_tasks(self):
    agent = fixtures.make_agent(precision='mixed_bfloat16')
    batch = fixtures.batch(32, seed=5)
    history = [agent.train(batch).extra for _ in range(fixtures.LEARNING_STEPS)]
    self.assertLess(float(history[-1]['curl_loss']),
                    0.5 * float(history[0]['curl_loss']))
    self.assertGreaterEqual(float(history[-1]['curl_accuracy']), 0.9)
    for metrics in history:
      for name, value in metrics.items():
        self.assertTrue(np.isfinite(value.numpy()), name)


class LossScaleTest(parameterized.TestCase, tf.test.TestCase):

  @parameterized.parameters('joint', 'sequential')
  def test_float16_scales_and_skips_non_finite_steps(self, update_mode):
    agent = fixtures.make_agent(precision='mixed_float16',
                                update_mode=update_mode)
    scaled = [agent.critic_optimizer, agent.actor_optimizer]
    if update_mode == 'sequential':
      scaled.append(agent.curl_optimizer)
    for optimizer in scaled:
      self.assertIsInstance(optimizer,
                            tf.keras.mixed_precision.LossScaleOptimizer)
      # Keras' dynamic scale starts at 2^15.
      self.assertEqual(float(optimizer.loss_scale), 2.0**15)
    # The alpha loss is float32 throughout: not scaled.
    self.assertNotIsInstance(agent.alpha_optimizer,
                             tf.keras.mixed_precision.LossScaleOptimizer)
    # An infinite reward makes the critic's gradients non-finite: its
    # optimizer skips the step and halves the scale, and the encoder and Q
    # heads keep their weights. The actor's gradients do not read rewards.
    batch = fixtures.batch(8)
    batch['reward'] = tf.fill([8], np.inf)
    before = fixtures.snapshot(agent)
    agent.train(batch)
    changed = fixtures.changed(before, agent)
    self.assertNotIn('q_heads', changed)
    self.assertIn('actor', changed)
    self.assertEqual(float(agent.critic_optimizer.loss_scale), 2.0**14)
    self.assertEqual(float(agent.actor_optimizer.loss_scale), 2.0**15)
    # Finite batches: each step the scale overflows float16 is skipped and
    # halves it again (Keras starts high on purpose), until the critic
    # trains. Measured here: at once, or after one more halving.
    for seed in range(4):
      scale = float(agent.critic_optimizer.loss_scale)
      before = fixtures.snapshot(agent)
      agent.train(fixtures.batch(8, seed=seed))
      if 'q_heads' in fixtures.changed(before, agent):
        break
      self.assertEqual(float(agent.critic_optimizer.loss_scale), scale / 2)
    else:
      self.fail('the critic never trained')
    self.assertGreaterEqual(float(agent.critic_optimizer.loss_scale), 2.0**12)


if __name__ == '__main__':
  tf.test.main()
