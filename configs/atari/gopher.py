"""Atari100k Gopher. Table 2: CURL 801.4, random 257.6, human 2412.5.

Run: python main.py --config=configs/atari/gopher.py --workdir=/tmp/gopher
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('gopher')
