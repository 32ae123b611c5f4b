"""Atari100k Hero. Table 2: CURL 6235.1, random 1027.0, human 30826.4.

Run: python main.py --config=configs/atari/hero.py --workdir=/tmp/hero
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('hero')
