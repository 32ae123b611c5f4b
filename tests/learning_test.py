"""Real learning: CURL-SAC on pixel cartpole swingup beats a random policy.

A few minutes on 2 CPU cores. The budget (5,000 env steps, batch 32) is far
below the paper's (100k env steps, batch 512); what is asserted is learning,
not the paper's score: the evaluated return must clearly beat a uniform random
policy's on the same evaluation episodes.
"""

import tempfile

import numpy as np
import tensorflow as tf
from tf_agents.policies import random_py_policy

from configs import default
from curl_tf import envs
from curl_tf import train_lib

_SEED = 1
_NUM_EVAL_EPISODES = 5


def _learning_config():
  config = default.get_config()  # cartpole swingup, action repeat 8.
  config.seed = _SEED
  config.batch_size = 32
  config.num_random_agent_steps = 100
  config.num_env_steps = 5000
  config.eval_every_env_steps = 5000
  config.num_eval_episodes = _NUM_EVAL_EPISODES
  config.log_every_env_steps = 1000
  config.replay_capacity = 10_000
  return config


class LearningTest(tf.test.TestCase):

  def test_beats_random_policy_on_cartpole_swingup(self):
    config = _learning_config()
    # The same evaluation episodes (same env seed) under a random policy.
    eval_env = envs.make_environment(config, seed=config.seed + 10_000)
    random_policy = random_py_policy.RandomPyPolicy(
        eval_env.time_step_spec(), eval_env.action_spec(), seed=_SEED)
    random_returns = train_lib.evaluate(eval_env, random_policy,
                                        _NUM_EVAL_EPISODES)

    final = train_lib.train_and_evaluate(config,
                                         tempfile.mkdtemp())['final_eval']
    print(f'random policy: {np.mean(random_returns):.1f} '
          f'(max {np.max(random_returns):.1f}); '
          f'CURL after {config.num_env_steps} env steps: '
          f'{final["return_mean"]:.1f} +- {final["return_std"]:.1f}')
    self.assertEqual(final['env_step'], config.num_env_steps)
    # Random play hangs the pole down: ~15-30 per episode.
    self.assertLess(np.max(random_returns), 50.0)
    self.assertGreater(final['return_mean'], 3.0 * np.mean(random_returns))
    self.assertGreater(final['return_min'], np.max(random_returns) + 25.0)


if __name__ == '__main__':
  tf.test.main()
