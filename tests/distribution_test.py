"""Tests for curl_tf.distribution and the agent under MirroredStrategy.

The mirrored strategy runs over the two logical CPU devices conftest.py
makes: two real replicas, with the all-reduce and all-gather a two-GPU
machine would run, but on one CPU. Nothing here runs on a GPU or a TPU.
"""

import csv
import os
import shutil
import tempfile

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from configs import learning_check
from curl_tf import distribution
from curl_tf import export
from curl_tf import train_lib
import agent_fixtures as fixtures
import conftest

_GLOBAL_BATCH = 32


def _mirrored():
  strategy = distribution.make_strategy('mirrored')
  assert strategy.num_replicas_in_sync == conftest.LOGICAL_CPUS
  return strategy


def _split(strategy, batch):
  """`batch` as the strategy hands it out: each replica its half."""
  dataset = tf.data.Dataset.from_tensors(batch)
  return next(iter(strategy.experimental_distribute_dataset(dataset)))


def _agents(**overrides):
  """A one-device agent and a two-replica one, with the same weights."""
  single = fixtures.make_agent(**overrides)
  strategy = _mirrored()
  with strategy.scope():
    mirrored = fixtures.make_agent(**overrides)
  return single, mirrored, strategy


class MakeStrategyTest(tf.test.TestCase):

  def test_default_and_auto_without_a_gpu(self):
    self.assertEmpty(tf.config.list_logical_devices('GPU'))
    for name in ('default', 'auto'):
      strategy = distribution.make_strategy(name)
      self.assertIs(strategy, tf.distribute.get_strategy())
      self.assertEqual(strategy.num_replicas_in_sync, 1)
      self.assertEqual(distribution.describe(strategy),
                       'default strategy (one device, placed by TensorFlow)')

  def test_mirrored_over_the_logical_cpus(self):
    strategy = _mirrored()
    self.assertIsInstance(strategy, tf.distribute.MirroredStrategy)
    self.assertEqual(
        distribution.describe(strategy),
        'MirroredStrategy, 2 replica(s) (/job:localhost/replica:0/task:0/'
        'device:CPU:0, /job:localhost/replica:0/task:0/device:CPU:1)')

  def test_bad_requests_are_one_line_errors(self):
    for args, message in [
        (('multi_worker',), "strategy must be one of ('auto', 'default', "
         "'mirrored', 'tpu'), got 'multi_worker'"),
        (('tpu',), "strategy 'tpu' needs --tpu=ADDRESS"),
    ]:
      with self.assertRaises(distribution.StrategyError) as raised:
        distribution.make_strategy(*args)
      self.assertStartsWith(str(raised.exception), message)
      self.assertNotIn('\n', str(raised.exception))

  def test_batch_must_split_evenly(self):
    strategy = _mirrored()
    distribution.check_batch_size(strategy, 128)
    with self.assertRaisesRegex(
        distribution.StrategyError,
        r'^batch_size 127 does not split evenly over 2 replicas .*use a '
        r'multiple of 2$'):
      distribution.check_batch_size(strategy, 127)


class MirroredStepTest(parameterized.TestCase, tf.test.TestCase):
  """Two replicas take the step one device takes on the same global batch."""

  def test_same_start(self):
    single, mirrored, _ = _agents()
    fixtures.assert_same_variables(self, single, mirrored)
    # Every variable is mirrored: one copy per replica.
    for variable in fixtures.variable_groups(mirrored)['encoder']:
      self.assertLen(variable.values, 2)

  def test_joint_gradients_match(self):
    single, mirrored, strategy = _agents()
    batch = fixtures.batch(_GLOBAL_BATCH, seed=4)

    def gradients(agent, batch):
      critic, (actor, alpha), metrics = agent.joint_gradients(
          batch, update_actor=True)
      return critic, actor, alpha, metrics

    want = tf.function(gradients)(single, batch)
    per_replica = tf.function(
        lambda b: strategy.run(gradients, args=(mirrored, b)))(
            _split(strategy, batch))
    # Each replica's gradients are of its half, scaled by 1/2: the sum is
    # the global batch's. Metrics are means over each half: their mean is.
    got = [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None)
           for g in tf.nest.flatten(per_replica[:3])]
    # To float32 round-off, which grows with the gradient's size: the sums
    # run over the batch in another order (and on CPUs without oneDNN, e.g.
    # AMD EPYC, through other conv kernels: 2e-6 apart where the largest
    # element is 7e-3). A missing replica or a wrong 1/2 is off by half.
    for i, (x, y) in enumerate(zip(got, tf.nest.flatten(want[:3]))):
      scale = float(tf.reduce_max(tf.abs(y)))
      self.assertAllClose(x, y, rtol=1e-4, atol=1e-3 * scale,
                          msg=f'gradient {i}')
    metrics = {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value,
                                     axis=None)
               for name, value in per_replica[3].items()}
    self.assertAllClose(metrics, want[3], rtol=1e-5, atol=1e-6)

  @parameterized.parameters('joint', 'sequential')
  def test_steps_match(self, update_mode):
    single, mirrored, strategy = _agents(update_mode=update_mode)
    # Step 0 updates everything (actor, alpha, targets); step 1 only the
    # critic, the encoder and W.
    for step in range(2):
      batch = fixtures.batch(_GLOBAL_BATCH, seed=10 + step)
      want = single.train(batch).extra
      got = mirrored.train(_split(strategy, batch)).extra
      self.assertAllClose(got, want, rtol=1e-5, atol=1e-6,
                          msg=f'metrics of step {step}')
      self.assertEqual(mirrored.train_step_counter.numpy(), step + 1)
      # The gradients match to round-off (test_joint_gradients_match), but
      # Adam divides by their size: where a gradient element is itself
      # round-off (|g| near Adam's epsilon, 1e-8), the round-off moves the
      # step by a fraction of the learning rate, 1e-3. Measured: one element
      # of 9,216 in a conv kernel 1.7e-5 apart. Allow a tenth of a step; a
      # missing or doubled update moves a weight by a whole one.
      single_weights = fixtures.snapshot(single)
      mirrored_weights = fixtures.snapshot(mirrored)
      for name, values in single_weights.items():
        for i, (x, y) in enumerate(zip(mirrored_weights[name], values)):
          self.assertAllClose(x, y, rtol=0, atol=1e-4,
                              msg=f'{name}[{i}] after step {step}')
    # Both replicas hold the same values.
    for variable in fixtures.variable_groups(mirrored)['target_encoder']:
      first, second = (v.numpy() for v in variable.values)
      np.testing.assert_array_equal(first, second)

  def test_per_replica_negatives_would_be_caught(self):
    # The matching tests compare curl_loss with the one-device step's; they
    # would catch an InfoNCE over each replica's own keys only because that
    # objective's value differs. It does, here, by far more than their
    # tolerance.
    agent = fixtures.make_agent()
    batch = fixtures.batch(_GLOBAL_BATCH, seed=6)
    queries = agent.networks.encoder(batch['obs'])
    keys = agent.networks.target_encoder(batch['pos'])
    global_loss, _ = agent.curl_loss(queries, keys)
    half = _GLOBAL_BATCH // 2
    halves_loss = np.mean([agent.curl_loss(queries[i:i + half],
                                           keys[i:i + half])[0]
                           for i in (0, half)])
    self.assertGreater(abs(float(global_loss) - halves_loss), 0.1)


class MirroredRunTest(tf.test.TestCase):

  def test_trains_checkpoints_exports_and_resumes(self):
    config = learning_check.get_config()  # 32x32 cartpole, action repeat 8.
    config.strategy = 'mirrored'
    config.batch_size = 16
    config.replay_capacity = 1000
    config.num_random_agent_steps = 10
    config.num_env_steps = 240  # 30 agent steps: 20 updates.
    config.eval_every_env_steps = 240
    config.checkpoint_every_env_steps = 240
    config.log_every_env_steps = 80
    config.num_eval_episodes = 1
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    summary = train_lib.train_and_evaluate(config, workdir)
    self.assertEqual(summary['env_step'], 240)
    _, info = export.load_policy(os.path.join(workdir, 'policy'))
    self.assertEqual(info['env_step'], 240)

    # Resumed for 10 more agent steps, under the same strategy.
    config.num_env_steps = 320
    summary = train_lib.train_and_evaluate(config, workdir)
    self.assertEqual(summary['env_step'], 320)
    with open(os.path.join(workdir, 'eval.csv')) as f:
      self.assertEqual([int(row['env_step']) for row in csv.DictReader(f)],
                       [0, 240, 320])
    _, info = export.load_policy(os.path.join(workdir, 'policy'))
    self.assertEqual(info['env_step'], 320)


if __name__ == '__main__':
  tf.test.main()
