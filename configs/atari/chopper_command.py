"""Atari100k Chopper Command. Table 2: CURL 1198.0, random 811.0, human 9882.

Run:
  python main.py --config=configs/atari/chopper_command.py \
      --workdir=/tmp/chopper_command
"""

import os
import runpy


def get_config():
  return runpy.run_path(os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'default.py'))['get_config'](
          'chopper_command')
