"""CURL's augmentations: random crops (DMC), random shifts (Atari), centre crop.

All functions work on channels-last batches [B, H, W, C] of any dtype
(uint8 in practice: we crop before casting so the pipeline moves 84x84 bytes,
not 100x100 floats). A stack of frames lives on the channel axis, so one
offset per sample crops every frame of the stack identically.

The crops are vectorised with gathers rather than a per-sample `tf.map_fn`
over `tf.image.crop_to_bounding_box`, which would run B small ops per batch.
"""

import tensorflow as tf


def random_crop_offsets(batch_size: int, max_offset: int,
                        seed: tf.Tensor) -> tf.Tensor:
  """Draws one (y, x) crop offset per sample, uniform over 0..max_offset.

  Both ends are included: for 100 -> 84 there are 17 positions, 0..16. (The
  official CURL code draws from `np.random.randint(0, 16)`, which never picks
  16; we include it so every 84x84 window of the frame can be seen.)

  Args:
    batch_size: Number of samples B.
    max_offset: Largest offset, image_size - crop_size.
    seed: Shape-[2] int32/int64 tensor for the stateless RNG, so a tf.data
      pipeline draws the same offsets on every run.

  Returns:
    int32 tensor [B, 2] of (y, x) offsets.
  """
  return tf.random.stateless_uniform(
      [batch_size, 2], seed=seed, minval=0, maxval=max_offset + 1,
      dtype=tf.int32)


def crop(images: tf.Tensor, offsets: tf.Tensor, crop_size: int) -> tf.Tensor:
  """Crops each image at its own offset.

  Args:
    images: [B, H, W, C] tensor, any dtype.
    offsets: int32 [B, 2] (y, x) top-left corners; the caller keeps them
      within 0..H-crop_size and 0..W-crop_size.
    crop_size: Side of the square crop.

  Returns:
    [B, crop_size, crop_size, C] tensor of the same dtype as `images`.
  """
  window = tf.range(crop_size, dtype=tf.int32)
  rows = offsets[:, 0:1] + window  # [B, crop]
  cols = offsets[:, 1:2] + window  # [B, crop]
  return _gather_windows(images, rows, cols)


def _gather_windows(images: tf.Tensor, rows: tf.Tensor,
                    cols: tf.Tensor) -> tf.Tensor:
  """images[b, rows[b], :][:, cols[b]] for each sample b: [B, h, w, C]."""
  # batch_dims=1: sample b gathers with its own rows / cols.
  images = tf.gather(images, rows, axis=1, batch_dims=1)  # [B, h, W, C]
  return tf.gather(images, cols, axis=2, batch_dims=1)  # [B, h, w, C]


def random_shift(images: tf.Tensor, pad: int, seed: tf.Tensor) -> tf.Tensor:
  """Pads by `pad` replicating the edges, then crops back at random.

  The Atari augmentation (issue's and DrQ's form): a translation by -pad..pad
  pixels on each axis, uniform, with the border filled by the image's edge
  pixels, one translation per sample (so every frame of a stack moves
  together). curl_rainbow composes crop 80, pad 4, crop 84, whose
  translation is the sum of two uniform draws (triangular on -4..4) and
  whose border replicates the 80x80 crop's edge; this is the simpler
  uniform form. Gathers with clipped indices do the padding, so no padded
  copy is made.

  Args:
    images: [B, H, W, C] tensor, any dtype.
    pad: Largest shift in pixels.
    seed: Shape-[2] int tensor for the stateless RNG.

  Returns:
    [B, H, W, C] tensor of the same dtype as `images`.
  """
  batch_size, height, width = _dims(images, (0, 1, 2))
  offsets = random_crop_offsets(batch_size, 2 * pad, seed) - pad
  rows = tf.clip_by_value(offsets[:, 0:1] + tf.range(height), 0, height - 1)
  cols = tf.clip_by_value(offsets[:, 1:2] + tf.range(width), 0, width - 1)
  return _gather_windows(images, rows, cols)


def random_crop(images: tf.Tensor, crop_size: int,
                seed: tf.Tensor) -> tf.Tensor:
  """Random crop with independent offsets per sample (the CURL augmentation).

  Args:
    images: [B, H, W, C] tensor with H == W.
    crop_size: Side of the square crop.
    seed: Shape-[2] int tensor for the stateless RNG.

  Returns:
    [B, crop_size, crop_size, C] tensor of the same dtype as `images`.
  """
  batch_size, height, width = _dims(images, (0, 1, 2))
  if isinstance(height, int) and height != width:
    raise ValueError(f'Expected square images, got {height}x{width}.')
  offsets = random_crop_offsets(batch_size, height - crop_size, seed)
  return crop(images, offsets, crop_size)


def center_crop(images: tf.Tensor, crop_size: int) -> tf.Tensor:
  """Crops the centre, offset (size - crop_size) // 2 (8 for 100 -> 84).

  Used at evaluation time, as in the official code.

  Args:
    images: [B, H, W, C] or [H, W, C] tensor, any dtype.
    crop_size: Side of the square crop.

  Returns:
    [..., crop_size, crop_size, C] tensor of the same dtype as `images`.
  """
  height, width = _dims(images, (-3, -2))
  top = (height - crop_size) // 2
  left = (width - crop_size) // 2
  return images[..., top:top + crop_size, left:left + crop_size, :]


def _dims(images: tf.Tensor, axes):
  """Returns the sizes of `axes`: Python ints where static, else tensors.

  Static sizes keep the output shapes static (e.g. 84x84 after a centre crop).
  """
  dynamic = tf.shape(images)
  return tuple(images.shape[a] if images.shape[a] is not None else dynamic[a]
               for a in axes)
