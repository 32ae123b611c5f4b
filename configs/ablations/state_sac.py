"""Table 1's state SAC: SAC on dm_control's proprioceptive state.

No frames, encoder, crops or contrastive loss, and nothing rendered; Table 3's
other settings are unchanged. Over configs/learning_check.py, the CPU-sized
proxy the ablations compare on:
  python -m curl_tf.sweep --configs=configs/learning_check.py,configs/ablations/state_sac.py --seeds=1,2 --root=runs/ablations
"""

import os
import runpy

# Loaded by path (configs is no package), from any directory.
_BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'learning_check.py')


def get_config():
  config = runpy.run_path(_BASE)['get_config']()
  config.observation = 'states'
  config.frame_stack = 1
  config.curl_coef = 0.0
  return config
