"""Atari100k Seaquest. Table 2: CURL 408, random 68.4, human 42054.7.

Run: python main.py --config=configs/atari/seaquest.py --workdir=/tmp/seaquest
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('seaquest')
