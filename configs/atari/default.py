"""CURL with Data-Efficient Rainbow on Atari100k: the paper's Table 2 settings.

Sources, cited per field: curl_rainbow = aravindsrinivas/curl_rainbow at
40bf738, whose README runs `python main.py --game <game>`, so Table 2 used its
argparse defaults (main.py); DER = van Hasselt, Hessel and Aslanides (2019),
"When to use parametric models in reinforcement learning?", whose settings
curl_rainbow's defaults equal (Kaixhin/Rainbow's README gives the same
command). docs/atari/official_settings.md quotes each line.

The loop counts environment steps, which here are emulator frames: one agent
step is action_repeat = 4 frames. The paper's 100k is agent steps, 400k
frames; logs and eval.csv name both.
"""

import ml_collections


def get_config(game: str = 'ms_pacman'):
  """Returns the Atari100k settings for `game` (an ale-py ROM id).

  Per-game configs call this; `--config=configs/atari/default.py:pong` does
  the same from the command line.
  """
  config = ml_collections.ConfigDict()
  config.agent = 'rainbow'

  # --- Environment (curl_rainbow env.py; curl_tf/envs/atari.py) ----------
  # ale-py ROM id; Table 2's 26 are curl_tf.envs.atari.ATARI_100K_GAMES.
  config.game = game
  # Emulator frames per agent step (the frame skip), the last two max-pooled
  # (env.py). The loop's env steps are these frames.
  config.action_repeat = 4
  # A new game starts with 0..noop_max-1 no-op frames (random.randrange(30)).
  config.noop_max = 30
  # Episode cap in emulator frames (main.py --max-episode-length 108e3).
  config.max_episode_frames = 108_000
  # Observed frames: grayscale frame_size x frame_size, `history` stacked.
  config.frame_size = 84
  config.history = 4

  # --- Budget and schedule (env steps = frames) ---------------------------
  # 100k agent steps (main.py --T-max 1e5), 400k frames.
  config.num_env_steps = 400_000
  # curl_rainbow acts with its (noisy) network from the first step: no
  # uniform-random warm-up.
  config.num_random_agent_steps = 0
  # Updates begin at this agent step (main.py --learn-start 1600), one
  # update per agent step after it (--replay-frequency 1).
  config.learning_starts_agent_steps = 1_600
  # Evaluation every 10k agent steps (main.py --evaluation-interval 10000)
  # of 10 whole games (--evaluation-episodes 10), raw scores, noise off,
  # epsilon-greedy with eval_epsilon (agent.py act_e_greedy's 0.001).
  config.eval_every_env_steps = 40_000
  config.num_eval_episodes = 10
  config.eval_epsilon = 0.001
  # Progress lines and TensorBoard every 1k agent steps; checkpoints (agent,
  # loop state and replay) every 10k.
  config.log_every_env_steps = 4_000
  config.checkpoint_every_env_steps = 40_000

  # --- Network (curl_rainbow model.py, --architecture data-efficient) ----
  config.hidden_units = 256  # --hidden-size
  config.noisy_sigma0 = 0.1  # --noisy-std
  config.num_atoms = 51  # --atoms
  config.v_min = -10.0  # --V-min
  config.v_max = 10.0  # --V-max

  # --- Learning (main.py; DER Table) -------------------------------------
  config.batch_size = 32  # --batch-size
  # Batches the tf.data pipeline prepares ahead of the learner.
  config.prefetch_batches = 2
  config.multi_step = 20  # --multi-step
  config.discount = 0.99  # --discount
  # Hard copy of the online network, in updates (--target-update 2000).
  config.target_update_period = 2_000
  config.learning_rate = 1e-4  # --learning-rate
  config.adam_epsilon = 1.5e-4  # --adam-eps
  config.max_gradient_norm = 10.0  # --norm-clip

  # --- Prioritised replay (main.py, memory.py) ---------------------------
  # --memory-capacity 1e5: as large as the run, nothing is evicted.
  config.replay_capacity = 100_000
  config.priority_exponent = 0.5  # --priority-exponent
  # Importance-sampling exponent, annealed linearly to 1 from the first
  # update to the last (--priority-weight 0.4).
  config.is_exponent_start = 0.4

  # --- CURL (curl_rainbow agent.py and model.py) -------------------------
  # Weight of the contrastive loss. None: curl_rainbow's for the game, 0.01
  # for pong, boxing, private_eye and freeway, 1 otherwise (agent.py's
  # self.coeff); a number overrides it (0: Rainbow without CURL).
  config.curl_coef = ml_collections.config_dict.placeholder(float)
  # Momentum of the key network, updated after every update (0.999).
  config.curl_momentum = 0.999
  # Codes compared by W (model.py: 576 -> 256 -> 128).
  config.curl_code_units = 128
  # The bilinear logits, row max subtracted, are multiplied by 0.1.
  config.curl_logit_scale = 0.1
  # Random shift of up to shift_pad pixels, edges replicated (agent.py's
  # crop 80, pad 4, crop 84).
  config.shift_pad = 4

  # The learner runs in float32 on one device.
  config.precision = 'float32'
  config.strategy = 'default'
  config.seed = 1
  return config
