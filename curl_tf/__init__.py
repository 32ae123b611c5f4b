"""curl_tf: CURL (contrastive RL from pixels) in TensorFlow 2."""

import os

# TensorFlow 2.15 turns its oneDNN kernels on by itself only on CPUs with
# AVX-512 VNNI/BF16, AVX-VNNI or AMX (port.cc's IsMklEnabled); elsewhere, e.g.
# an AMD EPYC with AVX2, its convolutions and matmuls fall back to Eigen. On
# 2 cores of such an EPYC (2026-12-07) oneDNN made the float32 train step
# 1.40x faster at 84x84, batch 128 (729 -> 520 ms), and 1.37x at
# configs/learning_check.py's size on one core (204 -> 149 ms). Asking for it
# here, before any curl_tf module imports TensorFlow, gives every entry point
# (main.py, the sweep's runs, the benchmark) the same kernels on every x86
# CPU. A user's TF_ENABLE_ONEDNN_OPTS wins; the setting is read only when
# TensorFlow is first imported, so it does nothing if that happened already.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
