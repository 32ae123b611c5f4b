"""Atari100k Asterix. Table 2: CURL 524.3, random 210.0, human 8503.3.

Run: python main.py --config=configs/atari/asterix.py --workdir=/tmp/asterix
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('asterix')
