"""States mode (Table 1's state SAC): env, replay, networks and a whole run.

config.observation='states' feeds dm_control's proprioceptive observation,
flattened, to an MLP SAC with the agent's own losses, and renders nothing
while it trains.
"""

import csv
import os
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest
from dm_control import mujoco
from dm_control import suite
import numpy as np
import tensorflow as tf

from curl_tf import config_lib
from curl_tf import envs
from curl_tf.envs import dmc
from curl_tf import eval_lib
from curl_tf import replay
from curl_tf import representation
from curl_tf import train_lib

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STATE_SAC = os.path.join(_REPO, 'configs', 'ablations', 'state_sac.py')


def _tiny_config():
  """configs/ablations/state_sac.py on a budget of 100 agent steps."""
  config = config_lib.load_config_file(_STATE_SAC)
  config.update(num_env_steps=800, num_random_agent_steps=50,
                eval_every_env_steps=400, checkpoint_every_env_steps=400,
                log_every_env_steps=400, num_eval_episodes=1,
                batch_size=16, replay_capacity=1000, hidden_units=64,
                precision='float32')
  config_lib.validate_config(config)
  return config


class StateEnvTest(absltest.TestCase):

  def test_flatten_keeps_the_dict_order_and_scalars(self):
    observation = {'position': np.array([1.0, 2.0]), 'height': 3.0,
                   'velocity': np.array([[4.0], [5.0]])}
    flat = dmc.flatten_observation(observation)
    self.assertEqual(flat.dtype, np.float32)
    np.testing.assert_array_equal(flat, [1.0, 2.0, 3.0, 4.0, 5.0])

  def test_observation_and_reward_are_dm_controls_over_the_repeat(self):
    env = dmc.DmControlStateEnv('cartpole', 'swingup', seed=3,
                                 action_repeat=8)
    reference = suite.load('cartpole', 'swingup', task_kwargs={'random': 3})
    self.assertEqual(env.observation_spec().shape, (5,))  # 3 position, 2 vel.
    first = env.reset()
    dm_first = reference.reset()
    np.testing.assert_array_equal(
        first.observation,
        np.concatenate([dm_first.observation['position'],
                        dm_first.observation['velocity']]).astype(np.float32))
    action = np.array([0.7], np.float32)
    step = env.step(action)
    dm_steps = [reference.step(action) for _ in range(8)]
    np.testing.assert_allclose(step.reward,
                               sum(s.reward for s in dm_steps), rtol=1e-6)
    np.testing.assert_array_equal(
        step.observation, dmc.flatten_observation(dm_steps[-1].observation))
    # Replay stores the observation itself: a stack of 1.
    self.assertIs(env.step_observation(step.observation), step.observation)
    env.close()
    reference.close()


class StateReplayTest(absltest.TestCase):

  def test_items_give_each_state_and_its_successor(self):
    config = _tiny_config()
    server = replay.make_replay_server(config, action_dim=1,
                                       observation_size=5)
    self.addCleanup(server.close)
    states = np.arange(4 * 5, dtype=np.float32).reshape(4, 5) / 7.0
    with replay.ReplayWriter(server.address, server.table_name,
                             frame_stack=1) as writer:
      writer.start_episode(states[0])
      for t in range(1, 4):
        writer.add(np.array([t], np.float32), float(t), 1.0, states[t])
    dataset = replay.make_state_dataset(server.address, server.table_name,
                                        batch_size=30, prefetch_batches=1)
    batch = next(iter(dataset))
    self.assertEqual(batch['obs'].dtype, tf.float32)
    self.assertEqual(batch['obs'].shape, (30, 5))
    self.assertNotIn('pos', batch)
    for obs, next_obs, action, reward in zip(
        batch['obs'].numpy(), batch['next_obs'].numpy(),
        batch['action'].numpy(), batch['reward'].numpy()):
      t = int(action[0])
      self.assertEqual(reward, t)
      np.testing.assert_array_equal(obs, states[t - 1])
      np.testing.assert_array_equal(next_obs, states[t])

  def test_states_need_their_size(self):
    with self.assertRaisesRegex(ValueError, 'observation size'):
      replay.step_spec(_tiny_config())


class StateConfigTest(absltest.TestCase):

  def test_fields_that_would_do_nothing_are_refused(self):
    for field, value, message in (
        ('frame_stack', 3, 'frame_stack must be 1'),
        ('curl_coef', 1.0, 'curl_coef must be 0')):
      config = _tiny_config()
      config[field] = value
      with self.assertRaisesRegex(config_lib.ConfigError, message):
        config_lib.validate_config(config)

  def test_crop_checks_do_not_apply(self):
    config = _tiny_config()
    config.crop_size = config.image_size  # Refused for pixels only.
    config_lib.validate_config(config)


class StateSacRunTest(absltest.TestCase):

  def test_trains_renders_nothing_exports_and_evaluates(self):
    config = _tiny_config()
    workdir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, workdir)
    with mock.patch.object(mujoco.Physics, 'render',
                           side_effect=AssertionError('rendered')) as render:
      train_lib.train_and_evaluate(config, workdir)
    self.assertEqual(render.call_count, 0)
    with open(os.path.join(workdir, 'eval.csv'), newline='') as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([int(r['env_step']) for r in rows], [0, 400, 800])
    self.assertTrue(all(np.isfinite(float(r['return_mean'])) for r in rows))

    # The agent: MLPs on the state; the encoders have no weights.
    env = envs.make_environment(config, seed=config.seed)
    agent = train_lib.make_agent(config, env)
    env.close()
    nets = agent.networks
    self.assertEmpty(nets.encoder.trainable_variables)
    self.assertEmpty(nets.target_encoder.variables)
    self.assertFalse(agent.uses_curl)
    self.assertIsNone(agent.bilinear)
    first_kernel = nets.critic_1.q_head.layers[0].kernel
    self.assertEqual(first_kernel.shape, (5 + 1, 64))  # State and action.
    self.assertEqual(nets.actor.policy_head.layers[0].kernel.shape, (5, 64))

    # The exported policy takes states, and its evaluation films (renders
    # at the video size only).
    result = eval_lib.evaluate_saved_policy(workdir, num_episodes=1)
    self.assertTrue(np.isfinite(result['return_mean']))
    self.assertGreater(result['video_frames'], 1)

    # A run from states has no pixel encoder for the representation tools.
    with self.assertRaisesRegex(config_lib.ConfigError, 'trained from states'):
      representation.restore_run(workdir)


if __name__ == '__main__':
  absltest.main()
