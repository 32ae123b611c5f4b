"""The update mode 'sequential': critic, actor, targets, then contrastive, one Adam step each.

Over configs/learning_check.py, the CPU-sized proxy the ablations compare on:
  python -m curl_tf.sweep --configs=configs/learning_check.py,configs/ablations/sequential.py --seeds=1,2 --root=runs/ablations
"""

import os
import runpy

# Loaded by path (configs is no package), from any directory.
_BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'learning_check.py')


def get_config():
  config = runpy.run_path(_BASE)['get_config']()
  config.update_mode = 'sequential'
  return config
