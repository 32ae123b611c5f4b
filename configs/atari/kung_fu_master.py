"""Atari100k Kung Fu Master. Table 2: CURL 14280, random 258.5, human 22736.3.

Run:
  python main.py --config=configs/atari/kung_fu_master.py \
      --workdir=/tmp/kung_fu_master
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config']('kung_fu_master')
