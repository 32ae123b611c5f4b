"""Atari100k Alien. Table 2: CURL 1148.2, random 227.8, human 7127.7.

Run: python main.py --config=configs/atari/alien.py --workdir=/tmp/alien
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('alien')
