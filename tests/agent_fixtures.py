"""A small CURL-SAC agent and batches for the tests of the train step.

The properties the agent tests check do not depend on the frame size, so the
agents see 32x32 frames and 28x28 crops (what configs/learning_check.py
trains on): a train step costs a few ms instead of tens. Shared by
agent_test, precision_test and distribution_test.
"""

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from configs import default
from curl_tf.agents.sac import agent as agent_lib
from curl_tf import augmentations
from curl_tf import train_lib

NUM_ACTIONS = 2
IMAGE_SIZE = 32
CROP_SIZE = 28
# Train steps on one fixed batch of 32 in the learning tests: both modes
# reach top-1 accuracy 1.0 well within them at the paper's learning rate.
LEARNING_STEPS = 100


def config(**overrides):
  """configs/default.py at 32x32 frames and 28x28 crops, with `overrides`."""
  small = default.get_config()
  # float32 unless a test asks otherwise: the checks of the step's maths are
  # exact or at float32 round-off (precision_test covers 16-bit compute).
  small.precision = 'float32'
  small.image_size = IMAGE_SIZE
  small.crop_size = CROP_SIZE
  small.update(overrides)
  return small


def make_agent(**overrides):
  """An initialised agent on 32x32 frames (built in the current strategy's
  scope, if any)."""
  agent_config = config(**overrides)
  # As train_and_evaluate does before it builds the agent. Keras draws the
  # seeds of unseeded initializers from Python's `random`, and W comes from
  # TF's global seed: both must be reset for two builds to match.
  train_lib.set_seeds(agent_config.seed)
  obs_spec = tensor_spec.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 9], tf.uint8,
                                    'observation')
  action_spec = tensor_spec.BoundedTensorSpec([NUM_ACTIONS], tf.float32,
                                              -1.0, 1.0, 'action')
  agent = agent_lib.CurlSacAgent(agent_config, ts.time_step_spec(obs_spec),
                                 action_spec)
  agent.initialize()
  return agent


def batch(batch_size, seed=0):
  """Crops of smooth random frames: 'pos' is another crop of the same frames.

  Frames are bilinear upsamplings of 8x8 noise, so, like rendered scenes,
  two crops of one frame look alike and crops of different frames do not.
  """
  rng = np.random.default_rng(seed)

  def frames():
    small = rng.uniform(0, 255, (batch_size, 8, 8, 9)).astype(np.float32)
    return tf.cast(tf.image.resize(small, (IMAGE_SIZE, IMAGE_SIZE)),
                   tf.uint8)

  obs_frames, next_frames = frames(), frames()
  crop = lambda x, i: augmentations.random_crop(x, CROP_SIZE,
                                                tf.constant([seed, i]))
  return {
      'obs': crop(obs_frames, 1),
      'pos': crop(obs_frames, 2),
      'next_obs': crop(next_frames, 3),
      'action': tf.constant(
          rng.uniform(-1, 1, (batch_size, NUM_ACTIONS)).astype(np.float32)),
      'reward': tf.constant(rng.uniform(0, 1, batch_size).astype(np.float32)),
      'discount': tf.ones([batch_size]),
  }


def q(critic, obs, action):
  """Q(obs, action) through the critic's own encoder.

  (The TF-Agents call would check obs against the 32x32 observation spec;
  training batches hold 28x28 crops.)
  """
  return critic.q_from_features(critic.encoder(obs), action)


def variable_groups(agent):
  """Every variable the train step may touch, by what it belongs to."""
  nets = agent.networks
  return {
      'encoder': list(nets.encoder.variables),
      'q_heads': [v for head in nets.q_heads for v in head.variables],
      'actor': nets.actor_variables(),
      'log_alpha': [agent.log_alpha],
      'w': [agent.bilinear.w] if agent.bilinear is not None else [],
      'target_encoder': list(nets.target_encoder.variables),
      'target_q_heads': [v for head in nets.target_q_heads
                         for v in head.variables],
  }


def snapshot(agent):
  return {name: [v.numpy().copy() for v in variables]
          for name, variables in variable_groups(agent).items()}


def changed(before, agent):
  """Names of the groups with any variable different from `before`."""
  after = snapshot(agent)
  return {name for name in before
          if any(not np.array_equal(b, a)
                 for b, a in zip(before[name], after[name]))}


def assert_same_variables(test, agent_a, agent_b):
  a, b = snapshot(agent_a), snapshot(agent_b)
  for name in a:
    for i, (x, y) in enumerate(zip(a[name], b[name])):
      test.assertAllEqual(x, y, msg=f'{name}[{i}]')


def assert_same_updates(test, agent, reference, initial, tolerance=0.1):
  """Each variable of `agent` and `reference` moved alike from `initial`.

  The two differ by float32 round-off (other summation orders), which Adam's
  normalisation where a gradient is round-off itself (|g| ~ 1e-8, Adam's
  epsilon): there the first step's sign can flip, and a few dozen elements of
  a 1024x1024 kernel move by +-lr. So the test is on norms: the difference
  between the two must be under `tolerance` of how far the variable moved
  (measured: at most 2.7%, in the policy head's output kernel). A skipped or
  repeated sub-step moves whole variables by 100% of that and fails it; an
  untouched variable must stay exact.
  """
  got, want = snapshot(agent), snapshot(reference)
  for name in want:
    for i, (x, y, y0) in enumerate(zip(got[name], want[name],
                                       initial[name])):
      moved = np.linalg.norm(y - y0)
      test.assertLessEqual(np.linalg.norm(x - y), tolerance * moved,
                           f'{name}[{i}]: moved {moved}')
