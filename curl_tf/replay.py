"""Replay: a Reverb table of single frames, a writer, and a tf.data pipeline.

Storage. Every rendered frame (uint8 [H, W, 3]) is appended to Reverb once.
Each transition is one item that references the last frame_stack + 1 frames
of its episode (fewer in the first steps) plus the last action, reward and
discount. Stacks are rebuilt on the sampling side, so a 3-frame stack costs
one frame of storage per transition instead of six (obs and next_obs).

Sampling. `make_dataset` pads each sampled item to frame_stack + 1 frames by
repeating the episode's first frame at the front (what the environment does
at reset, so a stack never mixes episodes), splits it into
obs = frames[0:k] and next_obs = frames[1:k+1] on the channel axis, batches,
and takes three independent random crops (obs, next_obs and the contrastive
positive, another crop of obs).

In states mode (config.observation 'states') the "frames" are the flattened
proprioceptive states, float32 [D], with a stack of 1: an item holds a state
and its successor, and batches are not cropped.

The rest of the code only sees an address and a table name
(`ReplayServer`), so the server can later move to its own process.
"""

import dataclasses
from typing import Dict, Optional, Union

import numpy as np
import reverb
import tensorflow as tf

from curl_tf import augmentations

TABLE_NAME = 'replay'

# Steps per Reverb chunk. Reverb compresses a chunk as a whole, so frames in
# one chunk can share bytes, but a chunk stays in memory until its last item
# is evicted and sampling an item decompresses every chunk it touches.
# Measured (dm-reverb 0.14, 3,000 real cartpole swingup frames, process RSS
# growth per transition; a raw frame is 30,000 bytes): 1 step per chunk
# ~21.0 kB, 2 steps ~12.1 kB, 4, 8 or 16 steps 11.8-12.4 kB. Reverb 0.14
# compresses with snappy, whose matches stay within 64 KiB blocks; two
# frames fill one block, which fits the plateau after 2. Cost: an item
# reaches the table only when its chunk is full, here at most one step late.
DEFAULT_MAX_CHUNK_LENGTH = 2


@dataclasses.dataclass
class ReplayServer:
  """Where the replay table lives.

  Attributes:
    address: 'host:port' of the Reverb server.
    table_name: Name of the transition table.
    server: The in-process server, or None when the server runs elsewhere.
  """
  address: str
  table_name: str
  server: Optional[reverb.Server] = None

  def close(self):
    """Stops the in-process server, if any."""
    if self.server is not None:
      self.server.stop()
      self.server = None


def step_spec(config, observation_size: Optional[int] = None) -> tf.TensorSpec:
  """Spec of what replay stores per step: a frame, or a state vector.

  Args:
    config: the experiment ConfigDict (observation, image_size).
    observation_size: D, the state vector's size; needed in states mode.

  Returns:
    uint8 [image_size, image_size, 3] for pixels, float32 [D] for states.
  """
  if config.observation == 'states':
    if observation_size is None:
      raise ValueError('states mode needs the observation size')
    return tf.TensorSpec([observation_size], tf.float32)
  return tf.TensorSpec([config.image_size, config.image_size, 3], tf.uint8)


def table_signature(step: tf.TensorSpec,
                    action_dim: int) -> Dict[str, tf.TensorSpec]:
  """Specs of one item: a variable number of frames and one transition.

  Args:
    step: Spec of one step's stored observation (`step_spec`).
    action_dim: Size of the action vector.

  Returns:
    Dict of TensorSpecs. 'frames' has a None leading dimension: 1 to
    frame_stack + 1 frames (Reverb 0.14 accepts and validates this).
  """
  return {
      'frames': tf.TensorSpec([None] + step.shape.as_list(), step.dtype),
      'action': tf.TensorSpec([action_dim], tf.float32),
      'reward': tf.TensorSpec([], tf.float32),
      'discount': tf.TensorSpec([], tf.float32),
  }


def make_table(config, action_dim: int, table_name: str = TABLE_NAME,
               observation_size: Optional[int] = None) -> reverb.Table:
  """One uniform, FIFO-evicted table of replay_capacity transitions.

  Args:
    config: The experiment ConfigDict (uses replay_capacity, observation and
      image_size).
    action_dim: Size of the action vector.
    table_name: Name of the table.
    observation_size: Size of the state vector, in states mode.
  """
  return reverb.Table(
      name=table_name,
      sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(),
      max_size=config.replay_capacity,
      # Sample as soon as one item exists; the training loop decides when
      # learning starts (after num_random_agent_steps), not the table.
      rate_limiter=reverb.rate_limiters.MinSize(1),
      signature=table_signature(step_spec(config, observation_size),
                                action_dim))


def make_replay_server(config, action_dim: int, port: Optional[int] = None,
                       table_name: str = TABLE_NAME,
                       checkpoint_root: Optional[str] = None,
                       restore_from: Optional[str] = None,
                       observation_size: Optional[int] = None) -> ReplayServer:
  """Serves `make_table`'s table in this process (see `start_server`)."""
  return start_server(make_table(config, action_dim, table_name,
                                 observation_size), port, checkpoint_root,
                      restore_from)


def start_server(table: reverb.Table, port: Optional[int] = None,
                 checkpoint_root: Optional[str] = None,
                 restore_from: Optional[str] = None) -> ReplayServer:
  """Serves one table in this process, checkpointed under checkpoint_root.

  Args:
    table: The table (every agent's replay is one table).
    port: gRPC port; None picks a free one.
    checkpoint_root: Directory where Reverb writes checkpoints; None disables
      them. Reverb first loads the newest checkpoint found here.
    restore_from: A checkpoint directory to load the table from when
      `checkpoint_root` holds none.

  Returns:
    A `ReplayServer`; call `.close()` when done.
  """
  checkpointer = None
  if checkpoint_root is not None:
    checkpointer = reverb.platform.checkpointers_lib.DefaultCheckpointer(
        checkpoint_root, fallback_checkpoint_path=restore_from)
  server = reverb.Server([table], port=port, checkpointer=checkpointer)
  return ReplayServer(address=f'localhost:{server.port}',
                      table_name=table.name, server=server)


def table_size(address: str, table_name: str) -> int:
  """Number of items currently in the table."""
  return reverb.Client(address).server_info()[table_name].current_size


class ReplayWriter:
  """Writes episodes frame by frame; one item per transition.

  Usage:
    writer.start_episode(first_frame)
    writer.add(action, reward, discount, next_frame)  # once per agent step
    ...
    writer.close()

  Frames are single uint8 [H, W, 3] frames (float32 [D] states in states
  mode), not stacks (the newest frame of
  the environment's stacked observation is obs[..., -3:]).
  """

  def __init__(self, client: Union[str, reverb.Client], table_name: str,
               frame_stack: int,
               max_chunk_length: int = DEFAULT_MAX_CHUNK_LENGTH):
    """Creates the writer.

    Args:
      client: A reverb.Client or the server address.
      table_name: Table to insert into.
      frame_stack: Frames per observation k; items span k + 1 frames.
      max_chunk_length: Steps per Reverb chunk (see DEFAULT_MAX_CHUNK_LENGTH).
    """
    if isinstance(client, str):
      client = reverb.Client(client)
    self._table_name = table_name
    signature = client.server_info()[table_name].signature
    self._action_shape = signature['action'].shape.as_list()
    self._frame_dtype = signature['frames'].dtype.as_numpy_dtype
    self._num_frames = frame_stack + 1
    self._max_chunk_length = max_chunk_length
    # Items reference at most k + 1 steps back, but Reverb requires
    # max_chunk_length <= num_keep_alive_refs, hence the max.
    keep_alive = max(self._num_frames, max_chunk_length)
    self._writer = client.trajectory_writer(num_keep_alive_refs=keep_alive)
    # A constant chunk length for every column (not Reverb's auto-tuning) so
    # the small columns finalise together with the frames.
    for path in (('frame',), ('action',), ('reward',), ('discount',)):
      self._writer.configure(path, num_keep_alive_refs=keep_alive,
                             max_chunk_length=max_chunk_length)

  def start_episode(self, first_frame: np.ndarray):
    """Ends the current episode, if any, and appends its first frame.

    Args:
      first_frame: uint8 [H, W, 3], the frame observed at reset.
    """
    if self._writer.episode_steps > 0:
      self._writer.end_episode()
    # No action led to the first frame; the zeros are never referenced by an
    # item but keep every column one entry per step, so all columns fill and
    # finalise their chunks on the same steps (see `add`'s flush).
    self._writer.append({
        'frame': np.asarray(first_frame, self._frame_dtype),
        'action': np.zeros(self._action_shape, np.float32),
        'reward': np.float32(0.0),
        'discount': np.float32(1.0),
    })

  def add(self, action: np.ndarray, reward: float, discount: float,
          next_frame: np.ndarray):
    """Appends one step and inserts the transition that ends at it.

    Args:
      action: float32 [A], the action taken at the previous frame.
      reward: Reward received for it.
      discount: Discount of the new step (1.0 at the time limit; 0.0 only at
        a true terminal state).
      next_frame: uint8 [H, W, 3], the frame observed after the action.
    """
    if self._writer.episode_steps == 0:
      raise RuntimeError('Call start_episode before add.')
    self._writer.append({
        'frame': np.asarray(next_frame, self._frame_dtype),
        'action': np.asarray(action, np.float32),
        'reward': np.asarray(reward, np.float32),
        'discount': np.asarray(discount, np.float32),
    })
    history = self._writer.history
    num_frames = min(self._writer.episode_steps, self._num_frames)
    self._writer.create_item(
        table=self._table_name,
        priority=1.0,
        trajectory={
            'frames': history['frame'][-num_frames:],
            'action': history['action'][-1],
            'reward': history['reward'][-1],
            'discount': history['discount'][-1],
        })
    # Back-pressure without forcing chunks out early: wait only for items
    # whose chunks are complete, so a slow (remote) server cannot be outrun.
    self._writer.flush(block_until_num_items=self._max_chunk_length)

  def flush(self):
    """Blocks until every item added so far is in the table.

    Items whose frames sit in an unfinished chunk are otherwise held back
    until the chunk fills (at most max_chunk_length - 1 steps) or the episode
    ends.
    """
    self._writer.flush()

  def close(self):
    """Sends everything pending and closes the writer."""
    if self._writer.episode_steps > 0:
      self._writer.end_episode()
    self._writer.close()

  def __enter__(self) -> 'ReplayWriter':
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


def stack_frames(data: Dict[str, tf.Tensor],
                 frame_stack: int) -> Dict[str, tf.Tensor]:
  """Rebuilds (obs, next_obs) from one item's 1..k+1 frames.

  Args:
    data: One sampled item: 'frames' uint8 [n, H, W, 3] with
      1 <= n <= frame_stack + 1, plus 'action', 'reward', 'discount'.
    frame_stack: Frames per observation k.

  Returns:
    Dict with 'obs' and 'next_obs' uint8 [H, W, 3k] (oldest frame first) and
    the item's 'action', 'reward', 'discount'.
  """
  frames = data['frames']
  num_frames = tf.shape(frames)[0]
  with tf.control_dependencies([tf.debugging.assert_less_equal(
      num_frames, frame_stack + 1,
      message='Item has more frames than frame_stack + 1; the writer and '
      'the dataset disagree on frame_stack.')]):
    # Repeat the episode's first frame in front, as the env does at reset.
    padding = tf.repeat(frames[:1], frame_stack + 1 - num_frames, axis=0)
  frames = tf.concat([padding, frames], axis=0)
  frames = tf.ensure_shape(frames, [frame_stack + 1] + frames.shape[1:])
  return {
      'obs': _frames_to_channels(frames[:frame_stack]),
      'next_obs': _frames_to_channels(frames[1:]),
      'action': data['action'],
      'reward': data['reward'],
      'discount': data['discount'],
  }


def _frames_to_channels(frames: tf.Tensor) -> tf.Tensor:
  """[k, H, W, 3] -> [H, W, 3k], frame i in channels 3i..3i+2; [k, D] -> [kD]."""
  if frames.shape.rank == 2:
    return tf.reshape(frames, [-1])
  num_frames, height, width, channels = frames.shape
  frames = tf.transpose(frames, [1, 2, 0, 3])
  return tf.reshape(frames, [height, width, num_frames * channels])


def make_stacked_dataset(address: str, table_name: str, *, frame_stack: int,
                         batch_size: int) -> tf.data.Dataset:
  """Batches of uncropped stacks, sampled uniformly from the table.

  Args:
    address: Reverb server address.
    table_name: Table written by `ReplayWriter`.
    frame_stack: Frames per observation k.
    batch_size: Samples per batch (remainders dropped: static shapes).

  Returns:
    Dataset of dicts: 'obs', 'next_obs' uint8 [B, H, W, 3k]; 'action'
    float32 [B, A]; 'reward', 'discount' float32 [B].
  """
  dataset = reverb.TrajectoryDataset.from_table_signature(
      address, table_name,
      # Reverb's rule of thumb: 2-3x the batch size.
      max_in_flight_samples_per_worker=2 * batch_size)
  dataset = dataset.map(lambda sample: stack_frames(sample.data, frame_stack),
                        num_parallel_calls=tf.data.AUTOTUNE)
  return dataset.batch(batch_size, drop_remainder=True)


def make_state_dataset(address: str, table_name: str, *, batch_size: int,
                       prefetch_batches: int) -> tf.data.Dataset:
  """States mode's training batches: states and successors, uncropped.

  Returns:
    Dataset of dicts: 'obs', 'next_obs' float32 [B, D]; 'action' float32
    [B, A]; 'reward', 'discount' float32 [B].
  """
  dataset = make_stacked_dataset(address, table_name, frame_stack=1,
                                 batch_size=batch_size)
  return _ahead_of_learner(dataset, prefetch_batches, pipeline_threads=1)


def _ahead_of_learner(dataset: tf.data.Dataset, prefetch_batches: int,
                      pipeline_threads: int) -> tf.data.Dataset:
  """The pipeline on its own small thread pool, `prefetch_batches` ahead."""
  options = tf.data.Options()
  # One thread for the pipeline's own work: about 18 batches/s at batch 128,
  # far above the learner's 2-3, and the other cores stay with the train
  # step (with every core, tf.data reached 32 batches/s on 1.9 cores).
  options.threading.private_threadpool_size = pipeline_threads
  return dataset.with_options(options).prefetch(prefetch_batches)


def make_dataset(address: str, table_name: str, *, frame_stack: int,
                 batch_size: int, crop_size: int, seed: int,
                 prefetch_batches: int,
                 pipeline_threads: int = 1,
                 first_batch_index: int = 0) -> tf.data.Dataset:
  """Training batches: uncropped stacks plus three independent random crops.

  Args:
    address: Reverb server address.
    table_name: Table written by `ReplayWriter`.
    frame_stack: Frames per observation k.
    batch_size: Samples per batch.
    crop_size: Side of the random crops.
    seed: Seed of the crop offsets; batch i uses seeds derived from
      (seed, i), so the crops do not depend on the tf.data thread schedule.
    prefetch_batches: Batches prepared ahead of the learner.
    pipeline_threads: Threads of the pipeline's private thread pool.
    first_batch_index: Index of the first batch, for the crop seeds: a
      resumed run passes its train step, so that it does not draw the crop
      offsets of its first batches again.

  Returns:
    Dataset of dicts: 'obs', 'next_obs', 'pos' uint8 [B, crop, crop, 3k];
    'action' float32 [B, A]; 'reward', 'discount' float32 [B].
  """
  base_seed = tf.constant([seed, 0], tf.int64)

  def crop_batch(batch, index):
    batch_seed = tf.random.experimental.stateless_fold_in(base_seed, index)
    obs_seed, next_seed, pos_seed = tf.unstack(
        tf.random.experimental.stateless_split(batch_seed, 3))
    return {
        'obs': augmentations.random_crop(batch['obs'], crop_size, obs_seed),
        'next_obs': augmentations.random_crop(batch['next_obs'], crop_size,
                                              next_seed),
        # The contrastive positive: another crop of the same observation.
        'pos': augmentations.random_crop(batch['obs'], crop_size, pos_seed),
        'action': batch['action'],
        'reward': batch['reward'],
        'discount': batch['discount'],
    }

  dataset = make_stacked_dataset(address, table_name, frame_stack=frame_stack,
                                 batch_size=batch_size)
  dataset = tf.data.Dataset.zip(
      dataset, tf.data.Dataset.counter(start=first_batch_index))
  dataset = dataset.map(crop_batch, num_parallel_calls=tf.data.AUTOTUNE)
  return _ahead_of_learner(dataset, prefetch_batches, pipeline_threads)
