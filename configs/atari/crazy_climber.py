"""Atari100k Crazy Climber. Table 2: CURL 27805.6, random 10780.5, human 35411.

Run:
  python main.py --config=configs/atari/crazy_climber.py \
      --workdir=/tmp/crazy_climber
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('crazy_climber')
