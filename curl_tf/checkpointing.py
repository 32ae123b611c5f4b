"""Checkpoints of a whole run: agent, loop state and replay, committed as one.

Layout under WORKDIR/checkpoints, for a checkpoint at env step N:

  agent-<N>.index, agent-<N>.data-*   tf.train.Checkpoint of the agent
  replay-<N>/                         Reverb's checkpoint of the replay table
  manifest-<N>.json                   the commit record: the loop's state,
                                      the two paths above, the table size
  reverb/                             Reverb's own checkpoint root, a
                                      scratch directory (see below)

A checkpoint counts once its manifest exists. The manifest is written last,
to a temporary name, flushed to disk and renamed, so a run killed at any
moment leaves the previous complete checkpoint or the new one, never half of
one. The newest `keep` agent checkpoints are kept (the previous one is the
fallback when the newest is damaged), but only the newest replay checkpoint:
one holds up to 100k frames, about 1.2 GB.

Replay. `Client.checkpoint()` makes Reverb write the table to a new directory
under its root, deleting the older ones there. The checkpoint is moved out of
the root at once, to replay-<N>, so that Reverb deletes nothing of ours and
the manifest can name it. A resumed server starts with an empty root and
`replay-<N>` as its fallback checkpoint (Reverb loads the root's newest
checkpoint first). Reverb writes the table while the learner goes on
training, so the replay part runs on a background thread, and the manifest
is committed when it is done.
"""

import dataclasses
import glob
import json
import os
import re
import shutil
import threading
from typing import Any, Dict, List, Optional

from absl import logging
import reverb
import tensorflow as tf

from curl_tf import config_lib

_MANIFEST = re.compile(r'manifest-(\d+)\.json$')


@dataclasses.dataclass
class LoopState:
  """What the training loop needs, besides the agent and replay, to go on.

  Attributes:
    env_step: Environment steps taken; the loop resumes at this step.
    episode_count: Training episodes finished.
    action_rng_state: State of the numpy generator of the random first
      actions (`Generator.bit_generator.state`).
    learning_start_agent_step: First agent step that updates the agent
      (Table 3's 1,000 random steps; later after a replay loss).
    data_wait_s: Learner time spent waiting for batches.
    learner_s: Learner time in all.
    eval_s: Time spent in evaluations.
  """
  env_step: int
  episode_count: int
  action_rng_state: Dict[str, Any]
  learning_start_agent_step: int
  data_wait_s: float = 0.0
  learner_s: float = 0.0
  eval_s: float = 0.0


@dataclasses.dataclass
class Restored:
  """A checkpoint read back: loop state and where its replay is.

  Attributes:
    state: The loop's state at the checkpoint.
    manifest: Path of the manifest it came from.
    replay_dir: Reverb checkpoint to load the table from, or None when no
      replay checkpoint is left.
    replay_items: Items the table held when the checkpoint began (the
      restored table must hold at least as many).
  """
  state: LoopState
  manifest: str
  replay_dir: Optional[str]
  replay_items: int


def _write_atomically(path: str, text: str) -> None:
  tmp = f'{path}.tmp'
  with open(tmp, 'w') as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
  # The rename itself is durable once the directory entry is.
  directory = os.open(os.path.dirname(path), os.O_RDONLY)
  try:
    os.fsync(directory)
  finally:
    os.close(directory)


class RunCheckpointer:
  """Saves and restores a run's checkpoints under WORKDIR/checkpoints."""

  def __init__(self, workdir: str, agent, keep: int = 2):
    """Creates the checkpointer.

    Args:
      workdir: The run's workdir.
      agent: The agent; its `checkpoint_items()` are saved.
      keep: Complete checkpoints kept (the newest replay only).
    """
    self.directory = os.path.join(workdir, 'checkpoints')
    os.makedirs(self.directory, exist_ok=True)
    self._checkpoint = tf.train.Checkpoint(**agent.checkpoint_items())
    self._keep = keep
    self._pending: Optional[threading.Thread] = None
    self._pending_error: Optional[BaseException] = None

  @property
  def reverb_root(self) -> str:
    """Reverb's checkpoint root: empty whenever a server starts on it."""
    return os.path.join(self.directory, 'reverb')

  def empty_reverb_root(self) -> str:
    """Empties Reverb's root (a crashed save may have left a checkpoint)."""
    shutil.rmtree(self.reverb_root, ignore_errors=True)
    os.makedirs(self.reverb_root)
    return self.reverb_root

  def manifests(self) -> List[str]:
    """Committed manifests, newest first."""
    found = []
    for path in glob.glob(os.path.join(self.directory, 'manifest-*.json')):
      match = _MANIFEST.search(path)
      if match:
        found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found, reverse=True)]

  # --- Saving -----------------------------------------------------------------

  def save(self, state: LoopState, replay_address: str, table_name: str,
           wait: bool = False) -> None:
    """Checkpoints the agent now and the replay table in the background.

    Args:
      state: The loop's state; its env_step names the checkpoint.
      replay_address: Address of the Reverb server holding the table.
      table_name: The replay table (its size is recorded).
      wait: Block until the checkpoint is committed.
    """
    self.wait()  # One save at a time; also surfaces a failed earlier one.
    step = state.env_step
    prefix = os.path.join(self.directory, f'agent-{step:09d}')
    self._checkpoint.write(prefix)
    client = reverb.Client(replay_address)
    replay_items = client.server_info()[table_name].current_size
    manifest = {
        'env_step': step,
        'agent_checkpoint': os.path.basename(prefix),
        'replay_checkpoint': f'replay-{step:09d}',
        'replay_items': replay_items,
        'loop_state': dataclasses.asdict(state),
    }

    def save_replay_and_commit():
      try:
        written = client.checkpoint()
        replay_dir = os.path.join(self.directory,
                                  manifest['replay_checkpoint'])
        shutil.rmtree(replay_dir, ignore_errors=True)
        os.rename(written, replay_dir)
        path = os.path.join(self.directory, f'manifest-{step:09d}.json')
        _write_atomically(path, json.dumps(manifest, indent=1))
        self._prune()
      except BaseException as e:  # pylint: disable=broad-except
        self._pending_error = e

    self._pending = threading.Thread(target=save_replay_and_commit,
                                     name='replay_checkpoint', daemon=True)
    self._pending.start()
    if wait:
      self.wait()

  def wait(self) -> None:
    """Blocks until the pending save, if any, is committed (or failed)."""
    if self._pending is not None:
      self._pending.join()
      self._pending = None
    if self._pending_error is not None:
      error, self._pending_error = self._pending_error, None
      raise RuntimeError(f'checkpoint failed: {error}') from error

  def _prune(self) -> None:
    """Drops all but the newest `keep` checkpoints and the newest replay."""
    manifests = self.manifests()
    kept = manifests[:self._keep]
    kept_files = set()
    newest_replay = None
    for i, path in enumerate(kept):
      with open(path) as f:
        manifest = json.load(f)
      kept_files.add(manifest['agent_checkpoint'])
      if i == 0:
        newest_replay = manifest['replay_checkpoint']
    for path in manifests[self._keep:]:
      os.remove(path)
    for path in glob.glob(os.path.join(self.directory, 'agent-*')):
      if os.path.basename(path).split('.')[0] not in kept_files:
        os.remove(path)
    for path in glob.glob(os.path.join(self.directory, 'replay-*')):
      if os.path.basename(path) != newest_replay:
        shutil.rmtree(path, ignore_errors=True)

  # --- Restoring --------------------------------------------------------------

  def restore(self) -> Optional[Restored]:
    """Restores the agent from the newest readable checkpoint.

    A damaged newest checkpoint (unreadable manifest, missing or corrupt
    agent files) is skipped with a one-line warning naming it, and the
    previous one is used. Its replay checkpoint is gone (only the newest is
    kept), so the newest replay checkpoint on disk is used instead, if any.

    Returns:
      The restored loop state and replay location, or None when the
      workdir has no checkpoint (a fresh run).

    Raises:
      ConfigError: There are checkpoints but none is readable.
    """
    manifests = self.manifests()
    errors = []
    skipped = []  # Warnings, shown only if an older checkpoint restores.
    for path in manifests:
      try:
        with open(path) as f:
          manifest = json.load(f)
        state = LoopState(**manifest['loop_state'])
        prefix = os.path.join(self.directory, manifest['agent_checkpoint'])
        self._checkpoint.read(prefix).assert_existing_objects_matched()
      # A damaged file fails in many ways (a truncated data file raises
      # IndexError in TF's reader, garbage DataLossError, a bad manifest
      # ValueError or KeyError): any failure to read means damaged.
      except Exception as e:  # pylint: disable=broad-except
        reason = ' '.join(str(e).split())[:200]
        skipped.append(f'checkpoint {path} is damaged, skipped '
                       f'({type(e).__name__}: {reason})')
        errors.append(f'{os.path.basename(path)}: {type(e).__name__}')
        continue
      for warning in skipped:
        logging.warning('%s', warning)
      replay_dir = os.path.join(self.directory,
                                manifest['replay_checkpoint'])
      replay_items = manifest['replay_items']
      if not os.path.isdir(replay_dir):
        replay_dir, replay_items = self._newest_replay_dir(), 0
        logging.warning('replay checkpoint of %s is gone; using %s', path,
                        replay_dir or 'an empty table')
      return Restored(state=state, manifest=path, replay_dir=replay_dir,
                      replay_items=replay_items)
    if manifests:
      raise config_lib.ConfigError(
          f'no readable checkpoint in {self.directory} '
          f'({"; ".join(errors)})')
    return None

  def _newest_replay_dir(self) -> Optional[str]:
    found = sorted(glob.glob(os.path.join(self.directory, 'replay-*')))
    return found[-1] if found else None
