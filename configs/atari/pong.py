"""Atari100k Pong. Table 2: CURL 2.1, random -20.7, human 14.6.

Run: python main.py --config=configs/atari/pong.py --workdir=/tmp/pong
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('pong')
