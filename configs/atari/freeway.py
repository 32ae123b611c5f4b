"""Atari100k Freeway. Table 2: CURL 27.9, random 0.0, human 29.6.

Run: python main.py --config=configs/atari/freeway.py --workdir=/tmp/freeway
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('freeway')
