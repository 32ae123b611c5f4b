"""Environments as TF-Agents PyEnvironments, one module per suite.

- dmc.py: DeepMind Control from pixels or from states (the paper's Table 1);
- atari.py: Atari games under the Atari100k protocol (Table 2).

`make_environment` is the one factory the training loop, the evaluator and the
tools call; the config says which suite it builds.
"""

from curl_tf.envs import dmc


def make_environment(config, seed: int, training: bool = True):
  """Builds the (not yet reset) environment `config` describes, seeded.

  Args:
    config: a CURL-SAC config (a dm_control task) or a CURL-Rainbow one (an
      Atari game).
    seed: seeds the environment; give training and evaluation environments
      different seeds.
    training: an Atari training environment clips rewards and ends episodes
      at a lost life; an evaluation one plays whole games for raw scores.
      DeepMind Control environments are the same either way.
  """
  # Configs written before the agent field were DeepMind Control's.
  if config.get('agent', 'sac') == 'rainbow':
    # Imported on use: ale-py and OpenCV are not loaded for DMC runs.
    from curl_tf.envs import atari  # pylint: disable=g-import-not-at-top
    return atari.AtariEnv(
        config.game, seed=seed, training=training,
        frame_skip=config.action_repeat, noop_max=config.noop_max,
        max_episode_frames=config.max_episode_frames,
        frame_size=config.frame_size, history=config.history)
  return dmc.make_environment(config, seed)
