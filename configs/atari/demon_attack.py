"""Atari100k Demon Attack. Table 2: CURL 834.0, random 152.1, human 3401.

Run:
  python main.py --config=configs/atari/demon_attack.py \
      --workdir=/tmp/demon_attack
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('demon_attack')
