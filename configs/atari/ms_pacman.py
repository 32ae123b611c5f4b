"""Atari100k Ms. Pac-Man. Table 2: CURL 1492.8, random 307.3, human 15693.

Run: python main.py --config=configs/atari/ms_pacman.py --workdir=/tmp/ms_pacman
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('ms_pacman')
