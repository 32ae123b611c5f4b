"""Atari100k Breakout. Table 2: CURL 18.2, random 1.7, human 31.8.

Run: python main.py --config=configs/atari/breakout.py --workdir=/tmp/breakout
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('breakout')
