"""Default CURL-SAC config: every field, once, with its meaning and unit.

Values are the paper's Table 3 (DMControl) unless a comment says otherwise.
Per-environment configs import this module and override a few fields.
Override from the command line as `--config.batch_size=512`.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  """Returns the default config (cartpole swingup, Table 3 settings)."""
  config = ml_collections.ConfigDict()
  # Which agent: 'sac' (CURL-SAC on DeepMind Control, these fields) or
  # 'rainbow' (CURL-Rainbow on Atari, configs/atari/default.py).
  config.agent = 'sac'

  # --- Environment ---------------------------------------------------------
  # What the agent sees: 'pixels' (CURL, pixel SAC) or 'states' (dm_control's
  # proprioceptive observation, flattened: Table 1's state SAC, an MLP SAC
  # with no encoder, crops or contrastive loss, and nothing rendered). States
  # need frame_stack 1 and curl_coef 0 (configs/ablations/state_sac.py).
  config.observation = 'pixels'
  # dm_control suite domain and task, e.g. 'cartpole' and 'swingup'.
  config.domain_name = 'cartpole'
  config.task_name = 'swingup'
  # Environment steps per agent step; the action is repeated below the
  # renderer, so one frame is rendered per agent step. Table 3: 8 for
  # cartpole swingup, 2 for finger spin and walker walk, 4 otherwise.
  config.action_repeat = 8
  # Frames stacked along the channel axis (Table 3: 3). At reset the first
  # frame is repeated.
  config.frame_stack = 3
  # Rendered frame side in pixels (Table 3: render 100x100).
  config.image_size = 100
  # Side of the random crop fed to the encoder (Table 3: 84x84).
  config.crop_size = 84
  # dm_control camera id used for rendering.
  config.camera_id = 0

  # --- Budget and evaluation (environment steps) ---------------------------
  # Training budget in environment steps (agent steps x action_repeat), the
  # unit of the paper's tables (100k and 500k).
  config.num_env_steps = 500_000
  # Uniform-random agent steps before learning starts (Table 3: 1,000 agent
  # steps, as in the official code).
  config.num_random_agent_steps = 1000
  # Evaluate every this many environment steps (and at step 0 and the end).
  config.eval_every_env_steps = 10_000
  # Episodes per evaluation (Table 3: 10). Evaluation uses the centre crop and
  # the policy's mean action.
  config.num_eval_episodes = 10
  # Write training scalars every this many environment steps.
  config.log_every_env_steps = 1000
  # Checkpoint the run (agent, loop state and replay) every this many
  # environment steps, and at the end. A run started again with the same
  # workdir resumes from the newest complete checkpoint.
  config.checkpoint_every_env_steps = 10_000

  # --- Replay ---------------------------------------------------------------
  # Replay capacity in transitions (Table 3: 100,000).
  config.replay_capacity = 100_000
  # Minibatch size (Table 3 says 512; the official scripts use 128, and the
  # author wrote in MishaLaskin/curl issue #15 that the paper's runs used 512).
  config.batch_size = 512
  # Batches the tf.data pipeline keeps ready ahead of the learner. One is
  # enough: the pipeline makes a batch 8x faster than the learner uses it
  # (the learner waited on data ~1% of its time with 1 and with 2), and at
  # batch 512 with 100k transitions in replay the process's RSS was 3.54-3.58
  # GiB with 1 against 4.08-4.24 GiB with 2 (benchmark full_replay).
  config.prefetch_batches = 1

  # --- Networks -------------------------------------------------------------
  # Conv layers, filters and latent size (Table 3: 4 / 32 / 50).
  config.num_conv_layers = 4
  config.num_filters = 32
  config.feature_dim = 50
  # Encoder head after the conv layers. 'linear': Dense(50) + LayerNorm, as in
  # the official code that produced Table 1 (default, so scores compare).
  # 'mlp': Dense(1024) + ReLU + Dense(50) + LayerNorm + tanh, as in the paper's
  # pseudocode.
  config.encoder_head = 'linear'
  # Hidden units of the actor and critic MLPs (Table 3: 1024).
  config.hidden_units = 1024
  # Bounds of the actor's log standard deviation (official code).
  config.log_std_min = -10.0
  config.log_std_max = 2.0

  # --- SAC ------------------------------------------------------------------
  # Discount (Table 3: 0.99).
  config.discount = 0.99
  # Initial entropy temperature alpha (Table 3: 0.1).
  config.init_temperature = 0.1
  # Learning rates: critic and encoder (also the bilinear W), actor, alpha.
  # Table 3: 1e-3 (2e-4 for cheetah run); alpha 1e-4.
  config.critic_lr = 1e-3
  config.actor_lr = 1e-3
  config.encoder_lr = 1e-3
  config.alpha_lr = 1e-4
  # Adam beta1 for critic, actor and encoder (0.9) and for alpha (0.5).
  config.beta1 = 0.9
  config.alpha_beta1 = 0.5
  # EMA rates: Q heads (Table 3: 0.01) and encoder, i.e. the key encoder
  # (Table 3: 0.05).
  config.critic_tau = 0.01
  config.encoder_tau = 0.05
  # Target networks and actor updated every this many train steps
  # (Table 3: critic target update frequency 2; official code: actor 2).
  config.critic_target_update_freq = 2
  config.actor_update_freq = 2

  # --- Train step -----------------------------------------------------------
  # 'joint' (default): critic and contrastive losses share one encoder pass of
  # the anchor and one optimizer step, as the paper describes. 'sequential':
  # the official code's order (critic, actor, contrastive) with one Adam step
  # per loss on the encoder. 'official': the official code's exact optimizer
  # structure, which produced Table 1: as 'sequential', but the contrastive
  # gradient moves the encoder through two Adam optimizers (its encoder
  # optimizer and its CURL optimizer both hold the encoder), so two steps.
  config.update_mode = 'joint'

  # --- Contrastive objective (Figure 5's ablations) ---------------------------
  # 'bilinear' (the paper: q^T W k with a learned W) or 'cosine' (q.k /
  # (|q||k|) / curl_temperature, Figure 5's alternative).
  config.similarity = 'bilinear'
  # Temperature of the cosine similarity (unused by 'bilinear'). 0.1: SimCLR
  # (Chen et al., 2020) pretrains on ImageNet with 0.1; MoCo (He et al.,
  # 2020) uses 0.07.
  config.curl_temperature = 0.1
  # Where the contrastive keys come from: 'momentum' (the paper: the EMA
  # target encoder) or 'query' (the query encoder itself, under
  # stop-gradient: Figure 5's "no EMA").
  config.key_encoder = 'momentum'
  # Weight of the contrastive loss. 0 skips the contrastive pass entirely:
  # pixel SAC, Table 1's baseline (no W, no key forward, no InfoNCE).
  config.curl_coef = 1.0
  # Compile the train step with XLA.
  config.jit_compile = False
  # Number format of the convolutions and dense layers: 'float32',
  # 'mixed_bfloat16' (float32 master weights and LayerNorms, float32 losses;
  # curl_tf/precision.py says what stays float32 and why) or 'auto'
  # (bfloat16 where the hardware runs it natively: TPUs, Ampere-or-newer
  # GPUs, CPUs with AMX; else float32). 'mixed_float16' (with loss scaling)
  # is for GPUs before Ampere. 'auto' by evidence: learning_check's returns
  # in bfloat16 (339, 365, 350 over seeds 1-3) are within float32's spread
  # (278, 434, 256); README, Precision.
  config.precision = 'auto'
  # Where the learner runs (curl_tf/distribution.py): 'default' (one
  # device), 'mirrored' (all local GPUs; the global batch is split across
  # them), 'tpu' (with main.py's --tpu=ADDRESS) or 'auto' (mirrored over 2+
  # GPUs, one GPU if there is one, else the CPU).
  config.strategy = 'auto'

  # --- Reproducibility ------------------------------------------------------
  # One seed for TF, numpy and the environments.
  config.seed = 1

  return config
