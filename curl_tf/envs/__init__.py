"""Environments as TF-Agents PyEnvironments, one module per suite.

- dmc.py: DeepMind Control from pixels or from states (the paper's Table 1).

`make_environment` is the one factory the training loop, the evaluator and the
tools call; the config says which suite it builds.
"""

from curl_tf.envs import dmc


def make_environment(config, seed: int):
  """Builds the (not yet reset) environment `config` describes, seeded."""
  return dmc.make_environment(config, seed)
