"""Inside a trained agent: its contrastive view of replay, and its latent space.

Where the pieces come from. The exported SavedModel (WORKDIR/policy) holds the
actor only, so the query (online) encoder, the key (momentum) encoder and W
come from the run's newest checkpoint: `restore_run` rebuilds the agent from
WORKDIR/config.json exactly as `train_lib` does and restores it with
`checkpointing.RunCheckpointer`.

Where the observations come from: the run's own replay, the table saved
with that checkpoint, loaded into a private Reverb server (`replay_server`).
`replay_batch` draws a batch through `replay.make_dataset`, the training
pipeline itself: two independent random crops of each sampled observation,
'obs' (the anchor) and 'pos' (its positive). Reverb samples uniformly with
replacement, as in training, so a small table gives repeats.

`contrastive_view` sends the anchors through the online encoder and the
positives through the momentum encoder, and scores every query against every
key with the bilinear q^T W k (`BilinearSimilarity.logits`): the matrix the
InfoNCE loss reads, whose diagonal holds the positives.

Nearest neighbours are by cosine similarity of the online encoder's features
of the centre crop (what the policy sees when it acts): a latent's direction,
not W's score, which is asymmetric and compares a query with a key.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from typing import Dict, Iterator, Optional, Sequence, Tuple

import ml_collections
import numpy as np
import tensorflow as tf

from curl_tf.agents.sac import agent as agent_lib
from curl_tf import augmentations
from curl_tf import checkpointing
from curl_tf import config_lib
from curl_tf import contrastive
from curl_tf import envs
from curl_tf.envs import dmc
from curl_tf import replay
from curl_tf import train_lib


@dataclasses.dataclass
class TrainedRun:
  """A run's agent as its newest checkpoint left it.

  Attributes:
    workdir: The run's workdir.
    config: The run's config (WORKDIR/config.json).
    agent: The agent, restored.
    env_step: Environment steps trained at the checkpoint.
    replay_dir: The checkpoint's Reverb table, or None when none is left.
  """
  workdir: str
  config: ml_collections.ConfigDict
  agent: agent_lib.CurlSacAgent
  env_step: int
  replay_dir: Optional[str]


def load_run_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run recorded in WORKDIR/config.json.

  A field added to the config after the run started is filled with the
  behaviour the run had (config_lib.fill_fields_added_later).

  Raises:
    ConfigError: the workdir has no readable config.json.
  """
  path = os.path.join(workdir, config_lib.RUN_CONFIG_FILE)
  try:
    with open(path) as f:
      saved = json.load(f)
  except (OSError, ValueError) as e:
    raise config_lib.ConfigError(
        f'cannot read {path}: {e}; is {workdir!r} a training run?') from None
  return ml_collections.ConfigDict(config_lib.fill_fields_added_later(saved))


def restore_run(workdir: str) -> TrainedRun:
  """Rebuilds a run's agent and restores its newest readable checkpoint.

  Reads the workdir and writes nothing to it. The agent is built on one
  device, whatever strategy trained it: a checkpoint does not depend on it.

  Raises:
    ConfigError: no config.json, no checkpoint in the workdir, or a run
      trained from states (it has no encoder).
  """
  workdir = config_lib.existing_workdir(workdir)
  config = load_run_config(workdir)
  if config.observation == 'states':
    raise config_lib.ConfigError(
        f'{workdir} was trained from states (config.observation=states): it '
        'has no pixel encoder to look inside')
  # RunCheckpointer would create the directory.
  checkpoints = os.path.join(workdir, 'checkpoints')
  if not os.path.isdir(checkpoints):
    raise config_lib.ConfigError(f'no checkpoint in {checkpoints}')
  # The env only supplies the specs (it renders nothing until a reset).
  env = envs.make_environment(config, seed=config.seed)
  try:
    agent = train_lib.make_agent(config, env)
  finally:
    env.close()
  restored = checkpointing.RunCheckpointer(workdir, agent).restore()
  if restored is None:
    raise config_lib.ConfigError(f'no checkpoint in {checkpoints}')
  return TrainedRun(workdir=workdir, config=config, agent=agent,
                    env_step=restored.state.env_step,
                    replay_dir=restored.replay_dir)


@contextlib.contextmanager
def replay_server(run: TrainedRun) -> Iterator[replay.ReplayServer]:
  """A private Reverb server holding the run's checkpointed replay table.

  Reverb's checkpoint root is a temporary directory, never the workdir;
  the server and that directory go when the block ends.

  Raises:
    ConfigError: the checkpoint has no replay table.
  """
  if run.replay_dir is None:
    raise config_lib.ConfigError(
        f'the checkpoint in {run.workdir!r} has no replay table left')
  action_dim = int(np.prod(run.agent.action_spec.shape))
  root = tempfile.mkdtemp(prefix='curl_tf_replay_')
  server = None
  try:
    server = replay.make_replay_server(run.config, action_dim,
                                       checkpoint_root=root,
                                       restore_from=run.replay_dir)
    yield server
  finally:
    if server is not None:
      server.close()
    shutil.rmtree(root, ignore_errors=True)


def replay_batch(run: TrainedRun, server: replay.ReplayServer,
                 batch_size: Optional[int] = None,
                 seed: int = 0) -> Dict[str, tf.Tensor]:
  """One training batch from the replay: 'obs' and 'pos' are two crops.

  Args:
    run: the restored run.
    server: `replay_server(run)`.
    batch_size: observations; default the run's batch size, so that the
      top-1 accuracy is over as many keys as in training.
    seed: seed of the crop offsets.

  Returns:
    `replay.make_dataset`'s batch: 'obs', 'pos', 'next_obs' uint8
    [B, crop, crop, 3k], 'action', 'reward', 'discount'.
  """
  config = run.config
  dataset = replay.make_dataset(
      server.address, server.table_name, frame_stack=config.frame_stack,
      batch_size=batch_size or config.batch_size, crop_size=config.crop_size,
      seed=seed, prefetch_batches=1)
  return next(iter(dataset))


def replay_observations(run: TrainedRun, server: replay.ReplayServer,
                        num_samples: int) -> np.ndarray:
  """Distinct uncropped observations sampled from the replay.

  Args:
    run: the restored run.
    server: `replay_server(run)`.
    num_samples: samples to draw; repeats are dropped, so fewer may come
      back from a small table.

  Returns:
    uint8 [n, H, W, 3k] stacked frames, n <= num_samples, in sampled order.
  """
  dataset = replay.make_stacked_dataset(
      server.address, server.table_name, frame_stack=run.config.frame_stack,
      batch_size=num_samples)
  observations = next(iter(dataset))['obs'].numpy()
  _, first = np.unique(observations.reshape(len(observations), -1), axis=0,
                       return_index=True)
  return observations[np.sort(first)]


@dataclasses.dataclass
class ContrastiveView:
  """What the contrastive loss sees of one batch.

  Attributes:
    logits: [B, B] q_i^T W k_j minus each row's max: query i (anchor crop,
      online encoder) against key j (positive crop, momentum encoder).
    accuracy: Fraction of queries whose highest logit is their own key.
    loss: The InfoNCE loss of the batch.
    anchors: uint8 [B, crop, crop, 3], the newest frame of each anchor crop.
    positives: uint8 [B, crop, crop, 3], the same of each positive crop.
  """
  logits: np.ndarray
  accuracy: float
  loss: float
  anchors: np.ndarray
  positives: np.ndarray


def contrastive_view(agent: agent_lib.CurlSacAgent,
                     batch: Dict[str, tf.Tensor]) -> ContrastiveView:
  """The InfoNCE logits, top-1 accuracy and loss of a batch, as trained.

  Args:
    agent: a CURL-SAC agent.
    batch: 'obs' (anchors) and 'pos' (positives), uint8 [B, crop, crop, 3k]
      (`replay_batch`).

  Returns:
    The batch's ContrastiveView.
  """
  if not agent.uses_curl:
    raise ValueError('the run trained no contrastive loss (curl_coef 0)')
  queries = agent.networks.encoder(batch['obs'])
  # The run's own key encoder and similarity (config.key_encoder,
  # config.similarity).
  keys = agent.curl_keys(batch['pos'])
  logits = agent.similarity.logits(queries, keys)
  return ContrastiveView(
      logits=logits.numpy(),
      accuracy=float(contrastive.top1_accuracy(logits)),
      loss=float(contrastive.info_nce_loss(logits)),
      anchors=dmc.newest_frame(np.asarray(batch['obs'])),
      positives=dmc.newest_frame(np.asarray(batch['pos'])))


def encode(encoder, observations: np.ndarray,
           chunk_size: int = 256) -> np.ndarray:
  """Features of observations, chunk by chunk.

  Args:
    encoder: a `networks.PixelEncoder`, e.g. `agent.networks.encoder`.
    observations: uint8 [N, H, W, 3k]; frames larger than the crop are
      centre-cropped by the encoder, as when the policy acts.
    chunk_size: observations per forward pass (bounds the memory).

  Returns:
    float32 [N, feature_dim].
  """
  return np.concatenate([
      encoder(observations[i:i + chunk_size]).numpy()
      for i in range(0, len(observations), chunk_size)])


def encoder_frames(observations: np.ndarray, crop_size: int) -> np.ndarray:
  """The newest frame of each observation's centre crop: what is encoded."""
  return dmc.newest_frame(np.asarray(
      augmentations.center_crop(observations, crop_size)))


def nearest_neighbours(latents: np.ndarray, query_indices: Sequence[int],
                       k: int) -> Tuple[np.ndarray, np.ndarray]:
  """The k latents nearest to each query's, by cosine similarity.

  Args:
    latents: [N, D] latent vectors (`encode`).
    query_indices: [Q] rows of `latents` to find neighbours of; a query is
      never its own neighbour.
    k: neighbours per query, at most N - 1.

  Returns:
    (indices [Q, k], nearest first; their cosine similarities [Q, k]).
  """
  latents = np.asarray(latents, np.float64)
  query_indices = np.asarray(query_indices)
  if not 0 < k < len(latents):
    raise ValueError(f'k must be in [1, {len(latents) - 1}], got {k}')
  unit = latents / np.maximum(
      np.linalg.norm(latents, axis=1, keepdims=True), 1e-12)
  similarity = unit[query_indices] @ unit.T
  similarity[np.arange(len(query_indices)), query_indices] = -np.inf
  # A stable sort: ties keep the order of the rows.
  order = np.argsort(-similarity, axis=1, kind='stable')[:, :k]
  return order, np.take_along_axis(similarity, order, axis=1)
