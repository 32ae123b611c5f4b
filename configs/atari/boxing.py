"""Atari100k Boxing. Table 2: CURL 4.8, random 0.1, human 12.1.

Run: python main.py --config=configs/atari/boxing.py --workdir=/tmp/boxing
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('boxing')
