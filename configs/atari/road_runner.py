"""Atari100k Road Runner. Table 2: CURL 6786.7, random 11.5, human 7845.0.

Run:
  python main.py --config=configs/atari/road_runner.py \
      --workdir=/tmp/road_runner
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('road_runner')
