"""Atari 2600 games under the Atari100k protocol, as TF-Agents PyEnvironments.

The protocol is the one CURL's Table 2 was run with, the settings of
Data-Efficient Rainbow (van Hasselt et al., 2019) as
aravindsrinivas/curl_rainbow implements them (env.py and main.py there;
docs/atari/official_settings.md lists each with its line):
- the ALE without sticky actions (`repeat_action_probability` 0), which
  ale-py otherwise sets to 0.25;
- each agent step repeats the action for 4 emulator frames; the observed frame
  is the pixel-wise max of the last two, each converted to grayscale and
  resized to 84x84 with bilinear interpolation first (curl_rainbow resizes,
  then pools; Dopamine pools, then resizes);
- the observation stacks the last 4 observed frames on the channel axis,
  oldest first, zeros before the episode's first frame: uint8 [84, 84, 4];
- a new game starts with a uniform number of single-frame no-ops in
  [0, noop_max), 0 to 29 as curl_rainbow's `random.randrange(30)`, but drawn
  from a seeded generator (curl_rainbow's is never seeded);
- an episode lasts at most 108,000 emulator frames (27,000 agent steps);
- the minimal action set;
- in training only: rewards are the 4-frame sum clipped to [-1, 1], and the
  loss of a life ends the episode as a termination.

Two departures from curl_rainbow, both toward what the learner sees:
- After a lost life the next episode starts from zeroed history (and one
  no-op frame, as there), as Dopamine's runner does by starting a new episode.
  curl_rainbow keeps acting on the stack with the old life's frames while its
  replay zero-pads them, so the agent acted on states it never trained on.
- The 108k-frame cap is a truncation (discount 1: the learner bootstraps
  through it), as our DeepMind Control episodes' time limit; curl_rainbow
  treats it as a termination.

Frames are counted and reported both as agent steps and as emulator frames
(4 per agent step); the Atari100k budget is 100k agent steps, 400k frames.
"""

from typing import Optional

import ale_py
from ale_py import roms
import cv2
import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

# The games of the paper's Table 2 (Atari100k), as ale-py names their ROMs,
# which are curl_rainbow's `--game` names too.
ATARI_100K_GAMES = (
    'alien', 'amidar', 'assault', 'asterix', 'bank_heist', 'battle_zone',
    'boxing', 'breakout', 'chopper_command', 'crazy_climber', 'demon_attack',
    'freeway', 'frostbite', 'gopher', 'hero', 'jamesbond', 'kangaroo', 'krull',
    'kung_fu_master', 'ms_pacman', 'pong', 'private_eye', 'qbert',
    'road_runner', 'seaquest', 'up_n_down')

# Emulator frames per second of the NTSC Atari 2600, for videos.
FRAMES_PER_SECOND = 60


def newest_frame(observation: np.ndarray) -> np.ndarray:
  """Returns the newest frame of a stacked observation, uint8 [..., H, W, 1]."""
  return observation[..., -1:]


class AtariEnv(py_environment.PyEnvironment):
  """One Atari game, played through ale_py.ALEInterface (ROMs from ale-py).

  Time steps follow TF-Agents: FIRST at reset, MID, then LAST. A game over
  (and, in training, a lost life) is a termination with discount 0; the
  frame cap is a truncation with discount 1. Stepping after LAST starts a new
  episode: after a lost life the game goes on, otherwise a new game begins.
  """

  def __init__(self, game: str, *, seed: int, training: bool,
               frame_skip: int = 4, noop_max: int = 30,
               max_episode_frames: int = 108_000, frame_size: int = 84,
               history: int = 4):
    """Loads the game.

    Args:
      game: an ale-py ROM id, e.g. 'ms_pacman' (see ATARI_100K_GAMES).
      seed: seeds the emulator and the no-op counts; give training and
        evaluation environments different seeds.
      training: clip rewards to [-1, 1] and end episodes at a lost life.
        Evaluation environments (False) report raw scores of whole games.
      frame_skip: emulator frames per agent step (the action repeat).
      noop_max: a new game starts with a uniform number of no-op frames in
        [0, noop_max).
      max_episode_frames: the emulator frames an episode may last.
      frame_size: observed frames are frame_size x frame_size.
      history: observed frames stacked in an observation.

    Raises:
      ValueError: an unknown game or a setting out of range.
    """
    super().__init__(handle_auto_reset=True)
    if game not in roms.get_all_rom_ids():
      raise ValueError(f'unknown Atari game {game!r}: ale-py has no such ROM')
    for name, value, lowest in (('frame_skip', frame_skip, 2),
                                ('noop_max', noop_max, 1),
                                ('max_episode_frames', max_episode_frames, 1),
                                ('frame_size', frame_size, 1),
                                ('history', history, 1)):
      if value < lowest:
        raise ValueError(f'{name} must be at least {lowest}, got {value}')
    self._game = game
    self._training = training
    self._frame_skip = frame_skip
    self._noop_max = noop_max
    self._frame_size = frame_size
    self._rng = np.random.default_rng(seed)
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    self._ale = ale_py.ALEInterface()
    # The ALE reads its settings when it loads the ROM, so they come first.
    self._ale.setInt('random_seed', int(seed) % 2**31)
    self._ale.setFloat('repeat_action_probability', 0.0)
    self._ale.setInt('frame_skip', 1)
    self._ale.setInt('max_num_frames_per_episode', max_episode_frames)
    self._ale.loadROM(str(roms.get_rom_path(game)))
    self._actions = self._ale.getMinimalActionSet()
    self._noop = ale_py.Action.NOOP
    screen_height, screen_width = self._ale.getScreenDims()
    self._screens = np.zeros((2, screen_height, screen_width), np.uint8)
    self._stack = np.zeros((frame_size, frame_size, history), np.uint8)
    self._lives = 0
    self._life_lost = False
    self._action_spec = array_spec.BoundedArraySpec(
        shape=(), dtype=np.int32, minimum=0, maximum=len(self._actions) - 1,
        name='action')
    self._observation_spec = array_spec.ArraySpec(
        shape=self._stack.shape, dtype=np.uint8, name='pixels')

  def action_spec(self) -> array_spec.BoundedArraySpec:
    return self._action_spec

  def observation_spec(self) -> array_spec.ArraySpec:
    return self._observation_spec

  @property
  def game(self) -> str:
    return self._game

  @property
  def action_repeat(self) -> int:
    """Emulator frames per agent step."""
    return self._frame_skip

  @property
  def agent_step_seconds(self) -> float:
    """Emulated seconds per agent step."""
    return self._frame_skip / FRAMES_PER_SECOND

  @property
  def lives(self) -> int:
    return self._ale.lives()

  def step_observation(self, observation: np.ndarray) -> np.ndarray:
    """What replay stores of one observation: its newest frame, [84, 84, 1]."""
    return newest_frame(observation)

  def _screen(self, out: np.ndarray) -> np.ndarray:
    self._ale.getScreenGrayscale(out)
    return out

  def _resized(self, screen: np.ndarray) -> np.ndarray:
    return cv2.resize(screen, (self._frame_size, self._frame_size),
                      interpolation=cv2.INTER_LINEAR)

  def _push(self, frame: np.ndarray) -> np.ndarray:
    self._stack = np.roll(self._stack, -1, axis=-1)
    self._stack[..., -1] = frame
    return self._stack.copy()

  def _new_game(self) -> None:
    self._ale.reset_game()
    for _ in range(self._rng.integers(self._noop_max)):
      self._ale.act(self._noop)
      if self._ale.game_over():
        self._ale.reset_game()

  def _reset(self) -> ts.TimeStep:
    if self._life_lost and not self._ale.game_over():
      # The game goes on after a lost life: one no-op frame, as curl_rainbow.
      self._ale.act(self._noop)
    else:
      self._new_game()
    self._life_lost = False
    self._lives = self._ale.lives()
    self._stack[:] = 0
    return ts.restart(self._push(self._resized(self._screen(self._screens[1]))))

  def _step(self, action: np.ndarray) -> ts.TimeStep:
    ale_action = self._actions[int(action)]
    reward = 0
    # The last two screens, pooled; a game that ends early pools the screens
    # it last showed.
    for repeat in range(self._frame_skip):
      reward += self._ale.act(ale_action)
      self._screen(self._screens[repeat % 2])
      if self._ale.game_over():
        break
    frame = np.maximum(self._resized(self._screens[0]),
                       self._resized(self._screens[1]))
    observation = self._push(frame)
    if self._training:
      reward = np.clip(reward, -1, 1)
    reward = np.float32(reward)
    if self._ale.game_over(with_truncation=False):
      return ts.termination(observation, reward)
    lives = self._ale.lives()
    if self._training and 0 < lives < self._lives:
      self._life_lost = True
      return ts.termination(observation, reward)
    self._lives = lives
    if self._ale.game_truncated():
      return ts.truncation(observation, reward, np.float32(1.0))
    return ts.transition(observation, reward, np.float32(1.0))

  def render_frame(self, size: Optional[int] = None) -> np.ndarray:
    """The screen now in colour, uint8 [210, 160, 3], or resized to size."""
    rgb = self._ale.getScreenRGB()
    if size is None:
      return rgb
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
