"""Atari100k Krull. Table 2: CURL 3833.6, random 1598.0, human 2665.5.

Run: python main.py --config=configs/atari/krull.py --workdir=/tmp/krull
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('krull')
