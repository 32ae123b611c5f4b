"""Tests for curl_tf.augmentations."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from curl_tf import augmentations


def _images(batch_size, size=100, channels=9, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, [batch_size, size, size, channels], np.uint8)


class RandomCropOffsetsTest(absltest.TestCase):

  def test_covers_every_offset_from_zero_to_max_inclusive(self):
    offsets = augmentations.random_crop_offsets(
        20_000, 16, seed=tf.constant([1, 2])).numpy()
    self.assertEqual(offsets.shape, (20_000, 2))
    self.assertEqual(offsets.dtype, np.int32)
    # 17 positions, ~1,176 draws each: every one appears, nothing above 16.
    self.assertEqual(set(offsets[:, 0]), set(range(17)))
    self.assertEqual(set(offsets[:, 1]), set(range(17)))

  def test_same_seed_same_offsets_different_seed_different(self):
    draw = lambda seed: augmentations.random_crop_offsets(
        64, 16, seed=tf.constant(seed)).numpy()
    np.testing.assert_array_equal(draw([3, 4]), draw([3, 4]))
    self.assertFalse(np.array_equal(draw([3, 4]), draw([3, 5])))


class CropTest(absltest.TestCase):

  def test_hand_computed_crop(self):
    # Two 4x4 single-channel images holding 0..15 and 100..115.
    images = np.stack([np.arange(16).reshape(4, 4),
                       100 + np.arange(16).reshape(4, 4)])[..., None]
    offsets = tf.constant([[1, 2], [0, 0]], tf.int32)
    cropped = augmentations.crop(tf.constant(images, tf.uint8), offsets, 2)
    expected = np.array([[[6, 7], [10, 11]],
                         [[100, 101], [104, 105]]])[..., None]
    np.testing.assert_array_equal(cropped.numpy(), expected)

  def test_equals_numpy_slicing_at_drawn_offsets(self):
    images = _images(8)
    seed = tf.constant([7, 8])
    offsets = augmentations.random_crop_offsets(8, 16, seed).numpy()
    cropped = augmentations.random_crop(tf.constant(images), 84, seed)
    self.assertEqual(cropped.dtype, tf.uint8)
    self.assertEqual(cropped.shape, (8, 84, 84, 9))
    for b, (y, x) in enumerate(offsets):
      np.testing.assert_array_equal(cropped[b].numpy(),
                                    images[b, y:y + 84, x:x + 84])

  def test_all_frames_of_a_stack_are_cropped_identically(self):
    # Three frames equal up to a per-frame constant: 0, 10 and 20.
    base = _images(16, channels=3)[..., :3] // 2
    stack = np.concatenate([base, base + 10, base + 20], axis=-1)
    cropped = augmentations.random_crop(
        tf.constant(stack), 84, tf.constant([0, 1])).numpy().astype(int)
    for frame in (1, 2):
      np.testing.assert_array_equal(
          cropped[..., 3 * frame:3 * frame + 3] - cropped[..., 0:3],
          np.full([16, 84, 84, 3], 10 * frame))

  def test_works_on_float_images(self):
    images = _images(2).astype(np.float32)
    offsets = tf.constant([[16, 0], [3, 16]], tf.int32)
    cropped = augmentations.crop(tf.constant(images), offsets, 84).numpy()
    np.testing.assert_array_equal(cropped[0], images[0, 16:100, 0:84])
    np.testing.assert_array_equal(cropped[1], images[1, 3:87, 16:100])


class CenterCropTest(absltest.TestCase):

  def test_batch(self):
    images = _images(3)
    cropped = augmentations.center_crop(tf.constant(images), 84)
    self.assertEqual(cropped.shape, (3, 84, 84, 9))
    np.testing.assert_array_equal(cropped.numpy(), images[:, 8:92, 8:92])

  def test_single_image(self):
    image = _images(1)[0]
    cropped = augmentations.center_crop(tf.constant(image), 84)
    self.assertEqual(cropped.shape, (84, 84, 9))
    np.testing.assert_array_equal(cropped.numpy(), image[8:92, 8:92])

  def test_inside_tf_function_with_unknown_batch_keeps_static_sides(self):
    crop_fn = tf.function(
        lambda x: augmentations.center_crop(x, 84),
        input_signature=[tf.TensorSpec([None, 100, 100, 9], tf.uint8)])
    output_shape = crop_fn.get_concrete_function().structured_outputs.shape
    self.assertEqual(output_shape.as_list(), [None, 84, 84, 9])


class RandomShiftTest(absltest.TestCase):

  def test_shift_against_naive_edge_padded_crop(self):
    images = tf.constant(np.random.default_rng(0).integers(
        0, 256, (16, 12, 10, 4)), tf.uint8)
    seed = tf.constant([3, 4])
    shifted = augmentations.random_shift(images, 4, seed).numpy()
    offsets = augmentations.random_crop_offsets(16, 8, seed).numpy()
    padded = np.pad(images.numpy(), [(0, 0), (4, 4), (4, 4), (0, 0)],
                    mode='edge')
    for b, (y, x) in enumerate(offsets):
      np.testing.assert_array_equal(shifted[b], padded[b, y:y + 12, x:x + 10])

  def test_shifts_cover_minus_pad_to_pad_and_move_stacks_together(self):
    # A single bright pixel in the middle of every channel: its position
    # after the shift is the translation, the same in all 4 channels.
    images = np.zeros((400, 21, 21, 4), np.uint8)
    images[:, 10, 10, :] = 255
    shifted = augmentations.random_shift(
        tf.constant(images), 4, tf.constant([5, 6])).numpy()
    moves = set()
    for sample in shifted:
      rows, cols = np.nonzero(sample[..., 0])
      self.assertLen(rows, 1)
      for channel in range(1, 4):
        np.testing.assert_array_equal(sample[..., channel], sample[..., 0])
      moves.add((rows[0] - 10, cols[0] - 10))
    self.assertEqual(moves, {(dy, dx) for dy in range(-4, 5)
                             for dx in range(-4, 5)})


if __name__ == '__main__':
  absltest.main()
