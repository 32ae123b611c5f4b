"""Published DeepMind Control scores, the yardstick for our runs.

Mean and standard deviation over seeds of the evaluated episode return at
100k and 500k environment steps (the paper's DMControl100k and DMControl500k
columns). Keys are `<domain>_<task>`, as the config files are named.

Sources:
- CURL: Srinivas, Laskin & Abbeel (2020), "CURL: Contrastive Unsupervised
  Representations for Reinforcement Learning", Table 1 (10 seeds).
- CURL re-run by DrQ: Kostrikov, Yarats & Fergus (2020), "Image Augmentation
  Is All You Need: Regularizing Deep Reinforcement Learning from Pixels",
  Table 1, CURL row (their re-run with the official code, 10 seeds).
- Pixel SAC and state SAC: CURL's Table 1, 100k column (the baselines Figure 5's
  ablations and issue 11's systems are compared with).
"""

from typing import Dict, Optional, Tuple

# (mean, std) of the return.
Score = Tuple[float, float]

CURL_PAPER = 'CURL (paper)'
CURL_DRQ_RERUN = 'CURL (DrQ re-run)'
PIXEL_SAC = 'pixel SAC (paper)'
STATE_SAC = 'state SAC (paper)'

SOURCES = {
    CURL_PAPER: 'Srinivas, Laskin & Abbeel (2020), Table 1',
    CURL_DRQ_RERUN: 'Kostrikov, Yarats & Fergus (2020), Table 1',
    PIXEL_SAC: 'Srinivas, Laskin & Abbeel (2020), Table 1',
    STATE_SAC: 'Srinivas, Laskin & Abbeel (2020), Table 1',
}

# system -> task -> env step -> (mean, std).
SCORES: Dict[str, Dict[str, Dict[int, Score]]] = {
    CURL_PAPER: {
        'finger_spin': {100_000: (767, 56), 500_000: (926, 45)},
        'cartpole_swingup': {100_000: (582, 146), 500_000: (841, 45)},
        'reacher_easy': {100_000: (538, 233), 500_000: (929, 44)},
        'cheetah_run': {100_000: (299, 48), 500_000: (518, 28)},
        'walker_walk': {100_000: (403, 24), 500_000: (902, 43)},
        'ball_in_cup_catch': {100_000: (769, 43), 500_000: (959, 27)},
    },
    CURL_DRQ_RERUN: {
        'finger_spin': {100_000: (779, 108), 500_000: (874, 151)},
        'cartpole_swingup': {100_000: (592, 170), 500_000: (861, 30)},
        'reacher_easy': {100_000: (517, 113), 500_000: (904, 94)},
        'cheetah_run': {100_000: (307, 48), 500_000: (500, 91)},
        'walker_walk': {100_000: (344, 132), 500_000: (906, 56)},
        'ball_in_cup_catch': {100_000: (772, 241), 500_000: (958, 13)},
    },
    PIXEL_SAC: {
        'finger_spin': {100_000: (179, 66)},
        'cartpole_swingup': {100_000: (419, 40)},
        'reacher_easy': {100_000: (145, 30)},
        'cheetah_run': {100_000: (197, 15)},
        'walker_walk': {100_000: (42, 12)},
        'ball_in_cup_catch': {100_000: (312, 63)},
    },
    STATE_SAC: {
        'finger_spin': {100_000: (811, 46)},
        'cartpole_swingup': {100_000: (835, 22)},
        'reacher_easy': {100_000: (746, 25)},
        'cheetah_run': {100_000: (616, 18)},
        'walker_walk': {100_000: (891, 82)},
        'ball_in_cup_catch': {100_000: (746, 91)},
    },
}

# The environment steps of Table 1's two columns.
TABLE1_STEPS = (100_000, 500_000)

# DeepMind Control's rewards are in [0, 1] per step over 1000 steps, so 1000
# is every task's maximum return: scores are normalised by it.
DMC_MAX_RETURN = 1000.0


def score(system: str, task: str, env_step: int) -> Optional[Score]:
  """The published (mean, std), or None where the source gives none."""
  return SCORES[system].get(task, {}).get(env_step)
