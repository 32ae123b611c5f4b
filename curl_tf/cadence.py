"""When the loop does what: a step predicate, and stopping on a signal.

After DrQ-v2's `Every`, but in environment steps (the budget is the loop's
range, so no `Until` is needed). Config cadences are whole agent steps
(config_lib checks that they are multiples of action_repeat), so
`env_step % every` lands exactly on them, and a resumed run keeps the same
schedule with no state to restore.
"""

import signal
import threading
from typing import Optional

from absl import logging


class Every:
  """True at env steps 0, every, 2 every, ..."""

  def __init__(self, every_env_steps: int):
    self.every = every_env_steps

  def __call__(self, env_step: int) -> bool:
    return env_step % self.every == 0


class StopOnSignal:
  """Turns the first SIGINT or SIGTERM into a request to stop cleanly.

  The loop checks `requested` once per agent step, writes a checkpoint and
  returns, so Ctrl-C and a cluster's preemption (SIGTERM, then SIGKILL after
  a grace period) lose nothing. A second SIGINT interrupts at once, for a
  user who does not want to wait. Handlers can only be installed from the
  main thread; elsewhere (a notebook's worker thread) this does nothing.
  """

  def __init__(self):
    self.signal_name: Optional[str] = None
    self._previous = {}

  @property
  def requested(self) -> bool:
    return self.signal_name is not None

  def _handle(self, signum, unused_frame):
    if self.requested and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.signal_name = signal.Signals(signum).name
    logging.warning('%s received: checkpointing, then stopping (Ctrl-C again '
                    'to stop at once)', self.signal_name)

  def __enter__(self) -> 'StopOnSignal':
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGINT, signal.SIGTERM):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *unused_exc_info):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}
