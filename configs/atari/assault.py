"""Atari100k Assault. Table 2: CURL 543.7, random 222.4, human 1496.

Run: python main.py --config=configs/atari/assault.py --workdir=/tmp/assault
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('assault')
