"""Atari100k Up n Down. Table 2: CURL 2735.2, random 533.4, human 11693.2.

Run: python main.py --config=configs/atari/up_n_down.py --workdir=/tmp/up_n_down
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('up_n_down')
