"""curl_tf: CURL (contrastive RL from pixels) in TensorFlow 2."""
