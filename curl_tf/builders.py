"""The agent's builder for a config: CURL-SAC or CURL-Rainbow.

A builder module (agents/<agent>/builder.py) has the functions the training
loop needs to build that agent's pieces: make_agent, make_table,
make_writer, learning_starts, random_action, describe and Learner.
"""


def for_config(config):
  """agents/sac/builder.py or agents/rainbow/builder.py, by config.agent."""
  # Imported on use: a SAC run does not load the Atari pieces, nor the
  # reverse.
  # pylint: disable=g-import-not-at-top
  if config.agent == 'rainbow':
    from curl_tf.agents.rainbow import builder
  else:
    from curl_tf.agents.sac import builder
  return builder
