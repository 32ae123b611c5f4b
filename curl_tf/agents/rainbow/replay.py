"""Prioritised n-step replay of single frames, for Data-Efficient Rainbow.

Storage, as the DeepMind Control replay (curl_tf/replay.py): every observed
84x84 grayscale frame goes to Reverb once. The transition at step t of an
episode is one item that references the frames t-3 ... t+m (fewer at the
episode's start), the action taken at t, and the m rewards and discounts
after it, where m = n (20) or fewer when the episode ends sooner. The items
of an episode's last n steps are created when it ends. Sampling rebuilds the
4-frame histories of s_t and s_{t+m}, with zero frames before the episode's
first (as the environment does), and the n-step return.

Priorities (Schaul et al., 2016, proportional): a Reverb `Prioritized` table
with exponent 0.5 samples item i with probability p_i^0.5 / sum_k p_k^0.5; a
new item gets the largest priority set so far (1 at first), and the learner
sets each sampled item's priority to its loss. Batches carry the keys, the
sampling probabilities and the table size, for the importance weights.
"""

import dataclasses
import threading
from typing import Dict, Optional, Union

import numpy as np
import reverb
import tensorflow as tf

from curl_tf import augmentations
from curl_tf import replay
from curl_tf.agents.rainbow import losses

TABLE_NAME = 'nstep_replay'


class MaxPriority(tf.Module):
  """The largest priority the learner has set: new items start with it.

  A variable, so the agent's checkpoint keeps it across a resume. The
  learner raises it; the collector's writer reads it.
  """

  def __init__(self, initial: float = 1.0):
    super().__init__(name='max_priority')
    self.variable = tf.Variable(initial, dtype=tf.float64, trainable=False,
                                name='max_priority')
    self._lock = threading.Lock()

  @property
  def value(self) -> float:
    return float(self.variable.numpy())

  def raise_to(self, priorities: np.ndarray) -> None:
    with self._lock:
      self.variable.assign(max(self.value, float(np.max(priorities))))


def table_signature(frame_size: int) -> Dict[str, tf.TensorSpec]:
  """One item: 1 + m .. 4 + m frames, the action, m rewards and discounts."""
  return {
      'frames': tf.TensorSpec([None, frame_size, frame_size], tf.uint8),
      'action': tf.TensorSpec([], tf.int32),
      'rewards': tf.TensorSpec([None], tf.float32),
      'discounts': tf.TensorSpec([None], tf.float32),
  }


def make_table(config, table_name: str = TABLE_NAME) -> reverb.Table:
  """The prioritised table: FIFO eviction at replay_capacity items."""
  return reverb.Table(
      name=table_name,
      sampler=reverb.selectors.Prioritized(config.priority_exponent),
      remover=reverb.selectors.Fifo(),
      max_size=config.replay_capacity,
      # The loop decides when learning starts (learning_starts_agent_steps).
      rate_limiter=reverb.rate_limiters.MinSize(1),
      signature=table_signature(config.frame_size))


class NStepWriter:
  """Writes episodes frame by frame; one item per transition, n steps late.

  Usage, as replay.ReplayWriter (the collector drives either):
    writer.start_episode(first_frame)
    writer.add(action, reward, discount, next_frame)  # once per agent step
    writer.close()
  Frames are uint8 [84, 84, 1] or [84, 84] (the observation's newest).
  """

  def __init__(self, client: Union[str, reverb.Client], table_name: str, *,
               history: int, n: int, max_priority: MaxPriority,
               max_chunk_length: int = replay.DEFAULT_MAX_CHUNK_LENGTH):
    if isinstance(client, str):
      client = reverb.Client(client)
    self._table_name = table_name
    self._history = history
    self._n = n
    self._max_priority = max_priority
    self._max_chunk_length = max_chunk_length
    # An item reaches back history - 1 frames before its step and n after.
    keep_alive = max(history + n, max_chunk_length)
    self._writer = client.trajectory_writer(num_keep_alive_refs=keep_alive)
    for path in (('frame',), ('action',), ('reward',), ('discount',)):
      self._writer.configure(path, num_keep_alive_refs=keep_alive,
                             max_chunk_length=max_chunk_length)
    # Steps of the current episode whose items are still to be made.
    self._pending = 0

  def _append(self, frame, action, reward, discount):
    frame = np.asarray(frame, np.uint8)
    if frame.ndim == 3:
      frame = frame[..., 0]
    self._writer.append({
        'frame': frame,
        'action': np.int32(action),
        'reward': np.float32(reward),
        'discount': np.float32(discount),
    })

  def _create_item(self, steps_after: int) -> None:
    """Inserts the transition `steps_after` + 1 rows back from the newest.

    The transition's state is at row t = len - 1 - steps_after; its action,
    rewards and discounts are rows t+1 .. t+steps_after.
    """
    history = self._writer.history
    length = self._writer.episode_steps
    t = length - 1 - steps_after
    first_frame = max(0, t - self._history + 1)
    end = t + 1 + steps_after
    self._writer.create_item(
        table=self._table_name,
        priority=self._max_priority.value,
        trajectory={
            'frames': history['frame'][first_frame - length:
                                       end - length or None],
            'action': history['action'][t + 1 - length],
            'rewards': history['reward'][t + 1 - length:end - length or None],
            'discounts': history['discount'][
                t + 1 - length:end - length or None],
        })

  def _finish_episode(self) -> None:
    # The last n transitions see the episode's end within their n steps.
    for steps_after in range(self._pending, 0, -1):
      self._create_item(steps_after)
    self._pending = 0
    self._writer.end_episode()

  def start_episode(self, first_frame: np.ndarray) -> None:
    """Ends the current episode, if any, and appends its first frame."""
    if self._writer.episode_steps > 0:
      self._finish_episode()
    # No action led to the first frame; the zeros are never referenced.
    self._append(first_frame, 0, 0.0, 1.0)

  def add(self, action, reward: float, discount: float,
          next_frame: np.ndarray) -> None:
    """Appends one step; inserts the transition from n steps back, if any.

    Args:
      action: the action taken at the previous frame (an index).
      reward: reward received for it (clipped, in training).
      discount: discount of the new step (0 at a termination, else 1).
      next_frame: the frame observed after the action.
    """
    if self._writer.episode_steps == 0:
      raise RuntimeError('Call start_episode before add.')
    self._append(next_frame, action, reward, discount)
    self._pending += 1
    # The oldest pending transition now has its n successors.
    if self._pending == self._n:
      self._create_item(self._n)
      self._pending -= 1
    self._writer.flush(block_until_num_items=self._max_chunk_length)

  def flush(self) -> None:
    """Blocks until every item created so far is in the table."""
    self._writer.flush()

  def close(self) -> None:
    """Inserts the open episode's remaining transitions and closes."""
    if self._writer.episode_steps > 0:
      self._finish_episode()
    self._writer.close()

  def __enter__(self) -> 'NStepWriter':
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


def rebuild_transition(data: Dict[str, tf.Tensor], *, history: int, n: int,
                       gamma: float) -> Dict[str, tf.Tensor]:
  """One item's s_t, a_t, n-step return, bootstrap discount and s_{t+m}.

  Args:
    data: the item: 'frames' uint8 [f, H, W] with f = (up to history) + m,
      'action' int32, 'rewards' and 'discounts' float32 [m], 1 <= m <= n.
    history: frames per state.
    n: the multi-step length.
    gamma: discount factor.

  Returns:
    'obs', 'next_obs' uint8 [H, W, history] (oldest frame first, zeros before
    the episode's first frame), 'action', 'return', 'bootstrap_discount'.
  """
  frames = data['frames']
  m = tf.shape(data['rewards'])[0]
  pad = history + m - tf.shape(frames)[0]
  frames = tf.concat(
      [tf.zeros(tf.concat([[pad], tf.shape(frames)[1:]], 0), tf.uint8),
       frames], axis=0)
  channels_last = tf.transpose(frames, [1, 2, 0])
  rewards = tf.ensure_shape(tf.pad(data['rewards'], [[0, n - m]]), [n])
  discounts = tf.ensure_shape(
      tf.pad(data['discounts'], [[0, n - m]], constant_values=1.0), [n])
  returns, bootstrap = losses.n_step_targets(
      rewards[None], discounts[None], m[None], gamma)
  return {
      'obs': tf.ensure_shape(channels_last[..., :history],
                             frames.shape[1:3] + [history]),
      'next_obs': tf.ensure_shape(channels_last[..., m:m + history],
                                  frames.shape[1:3] + [history]),
      'action': data['action'],
      'return': returns[0],
      'bootstrap_discount': bootstrap[0],
  }


@dataclasses.dataclass(frozen=True)
class DatasetSettings:
  history: int
  n: int
  gamma: float
  batch_size: int
  shift_pad: int
  seed: int
  prefetch_batches: int = 2


def settings_from_config(config) -> DatasetSettings:
  return DatasetSettings(
      history=config.history, n=config.multi_step, gamma=config.discount,
      batch_size=config.batch_size, shift_pad=config.shift_pad,
      seed=config.seed, prefetch_batches=config.prefetch_batches)


def make_dataset(address: str, table_name: str, settings: DatasetSettings,
                 first_batch_index: int = 0) -> tf.data.Dataset:
  """Prioritised batches with two random shifts of s_t for CURL.

  Returns:
    Dataset of dicts: 'obs', 'next_obs' uint8 [B, 84, 84, 4] unaugmented
    (the Q loss sees these, as curl_rainbow's); 'anchor', 'positive', two
    independent random shifts of 'obs'; 'action' int32 [B]; 'return',
    'bootstrap_discount' float32 [B]; 'key' uint64 [B], 'probability'
    float32 [B] and 'table_size' int64 [B] for the importance weights and
    priority updates.
  """
  dataset = reverb.TrajectoryDataset.from_table_signature(
      address, table_name,
      max_in_flight_samples_per_worker=2 * settings.batch_size)

  def transition(sample):
    data = rebuild_transition(sample.data, history=settings.history,
                              n=settings.n, gamma=settings.gamma)
    data['key'] = sample.info.key
    data['probability'] = tf.cast(sample.info.probability, tf.float32)
    data['table_size'] = sample.info.table_size
    return data

  base_seed = tf.constant([settings.seed, 1], tf.int64)

  def shift_batch(batch, index):
    batch_seed = tf.random.experimental.stateless_fold_in(base_seed, index)
    anchor_seed, positive_seed = tf.unstack(
        tf.random.experimental.stateless_split(batch_seed, 2))
    batch['anchor'] = augmentations.random_shift(
        batch['obs'], settings.shift_pad, anchor_seed)
    batch['positive'] = augmentations.random_shift(
        batch['obs'], settings.shift_pad, positive_seed)
    return batch

  dataset = dataset.map(transition, num_parallel_calls=tf.data.AUTOTUNE)
  dataset = dataset.batch(settings.batch_size, drop_remainder=True)
  dataset = tf.data.Dataset.zip(
      dataset, tf.data.Dataset.counter(start=first_batch_index))
  dataset = dataset.map(shift_batch, num_parallel_calls=tf.data.AUTOTUNE)
  return dataset.prefetch(settings.prefetch_batches)


def update_priorities(client: reverb.Client, table_name: str,
                      keys: np.ndarray, priorities: np.ndarray,
                      max_priority: MaxPriority) -> None:
  """Sets the sampled items' priorities to the learner's losses.

  Batches are prefetched, so a batch sampled before this update was drawn
  with the older priorities; curl_rainbow samples after each update. An item
  sampled twice in a batch gets its last loss.
  """
  client.mutate_priorities(
      table_name, dict(zip(np.asarray(keys).tolist(),
                           np.asarray(priorities, np.float64).tolist())))
  max_priority.raise_to(priorities)
