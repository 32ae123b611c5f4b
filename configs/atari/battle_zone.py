"""Atari100k Battle Zone. Table 2: CURL 11208.0, random 3285.71, human 37800.

Run:
  python main.py --config=configs/atari/battle_zone.py \
      --workdir=/tmp/battle_zone
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('battle_zone')
