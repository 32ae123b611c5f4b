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


# --- Atari100k (Table 2) --------------------------------------------------

# Table 2's columns we set our runs beside.
HUMAN = 'human'
RANDOM = 'random'
SIMPLE = 'SimPLe'
DER = 'Data-Efficient Rainbow'
CURL_RAINBOW = 'CURL'

TABLE2_SOURCE = (
    'Srinivas, Laskin & Abbeel (2020), Table 2: scores at 100k agent steps '
    '(400k frames); baselines as the paper took them from Kaiser et al. '
    '(2019), van Hasselt et al. (2019) and Kielak (2020)')

# game (ale-py's name) -> column -> score, as Table 2 prints them.
TABLE2: Dict[str, Dict[str, float]] = {
    game: dict(zip((HUMAN, RANDOM, SIMPLE, DER, CURL_RAINBOW), row))
    for game, row in {
        'alien': (7127.7, 227.8, 616.9, 739.9, 1148.2),
        'amidar': (1719.5, 5.8, 88.0, 188.6, 232.3),
        'assault': (1496.0, 222.4, 527.2, 431.2, 543.7),
        'asterix': (8503.3, 210.0, 1128.3, 470.8, 524.3),
        'bank_heist': (753.1, 14.2, 34.2, 51.0, 193.7),
        'battle_zone': (37800.0, 3285.71, 5184.4, 10124.6, 11208.0),
        'boxing': (12.1, 0.1, 9.1, 0.2, 4.8),
        'breakout': (31.8, 1.7, 16.4, 1.9, 18.2),
        'chopper_command': (9882.0, 811.0, 1246.9, 861.8, 1198.0),
        'crazy_climber': (35411.0, 10780.5, 62583.6, 16185.3, 27805.6),
        'demon_attack': (3401.0, 152.1, 208.1, 508.0, 834.0),
        'freeway': (29.6, 0.0, 20.3, 27.9, 27.9),
        'frostbite': (4334.7, 65.2, 254.7, 866.8, 924.0),
        'gopher': (2412.5, 257.6, 771.0, 349.5, 801.4),
        'hero': (30826.4, 1027.0, 2656.6, 6857.0, 6235.1),
        'jamesbond': (406.7, 29.0, 125.3, 301.6, 400.1),
        'kangaroo': (3035.0, 52.0, 323.1, 779.3, 345.3),
        'krull': (2665.5, 1598.0, 4539.9, 2851.5, 3833.6),
        'kung_fu_master': (22736.3, 258.5, 17257.2, 14346.1, 14280.0),
        'ms_pacman': (15693.0, 307.3, 1480.0, 1204.1, 1492.8),
        # CURL's 2.1 is this version's; the authors later reported -16.5 +-
        # 2.9 over 20 seeds (curl_rainbow issue #1).
        'pong': (14.6, -20.7, 12.8, -19.3, 2.1),
        'private_eye': (69571.3, 24.9, 58.3, 97.8, 105.2),
        'qbert': (13455.0, 163.9, 1288.8, 1152.9, 1225.6),
        'road_runner': (7845.0, 11.5, 5640.6, 9600.0, 6786.7),
        'seaquest': (42054.7, 68.4, 683.3, 354.1, 408.0),
        'up_n_down': (11693.2, 533.4, 3350.3, 2877.4, 2735.2),
    }.items()
}


def human_normalized(game: str, score_value: float) -> float:
  """(score - random) / (human - random), with Table 2's two columns."""
  row = TABLE2[game]
  return (score_value - row[RANDOM]) / (row[HUMAN] - row[RANDOM])
