"""Tests for decoding by content and the tutorial's resize to [0, 1]."""
import io

import numpy as np
from PIL import Image
import tensorflow as tf

from alexnet_estimator import preprocessing
from tests import testdata

RGB = (200, 60, 30)


def _animated_gif(first, second):
  frames = [Image.fromarray(testdata.solid(c, (16, 12))) for c in (first,
                                                                   second)]
  buffer = io.BytesIO()
  frames[0].save(buffer, 'GIF', save_all=True, append_images=frames[1:])
  return buffer.getvalue()


class DecodeImageTest(tf.test.TestCase):

  def _decode(self, data):
    return self.evaluate(preprocessing.decode_image(tf.constant(data)))

  def assertDecodesTo(self, data, colour, tolerance):
    image = self._decode(data)
    self.assertEqual(image.dtype, np.uint8)
    self.assertAllEqual(image.shape, [12, 16, 3])
    self.assertAllClose(image.reshape(-1, 3).mean(axis=0), colour,
                        atol=tolerance)

  def test_every_format_and_colour_mode_becomes_rgb(self):
    array = testdata.solid(RGB, (16, 12))
    gray = float(np.asarray(Image.fromarray(array).convert('L')).mean())
    cases = [
        ('RGB', 'JPEG', RGB, 6), ('L', 'JPEG', (gray,) * 3, 6),
        ('CMYK', 'JPEG', RGB, 10), ('RGB', 'PNG', RGB, 2),
        ('L', 'PNG', (gray,) * 3, 2), ('RGBA', 'PNG', RGB, 2),
        ('P', 'GIF', RGB, 25), ('RGB', 'BMP', RGB, 2),
        ('RGBA', 'BMP', RGB, 2), ('L', 'BMP', (gray,) * 3, 2)]
    for mode, fmt, colour, tolerance in cases:
      with self.subTest(mode=mode, fmt=fmt):
        self.assertDecodesTo(testdata.encode(array, mode, fmt), colour,
                             tolerance)

  def test_animated_gif_gives_its_first_frame(self):
    self.assertDecodesTo(_animated_gif((250, 0, 0), (0, 0, 250)),
                         (250, 0, 0), 25)

  def test_bad_bytes_raise(self):
    for name, data in sorted(testdata.bad_files().items()):
      with self.subTest(name=name):
        with self.assertRaises(tf.errors.InvalidArgumentError):
          self._decode(data)


class PreprocessImageTest(tf.test.TestCase):

  def test_resizes_to_a_square_in_unit_range(self):
    data = testdata.encode(testdata.solid(RGB, (40, 30)), 'RGB', 'PNG')
    image = preprocessing.preprocess_image(tf.constant(data), 67)
    self.assertEqual(image.shape.as_list(), [67, 67, 3])
    self.assertEqual(image.dtype, tf.float32)
    value = self.evaluate(image)
    self.assertGreaterEqual(value.min(), 0.0)
    self.assertLessEqual(value.max(), 1.0)
    self.assertAllClose(value.reshape(-1, 3).mean(axis=0),
                        np.array(RGB) / 255.0, atol=0.02)

  def test_extremes_stay_in_range(self):
    array = np.zeros([31, 17, 3], np.uint8)
    array[::2] = 255  # hard edges: bilinear must not overshoot
    image = self.evaluate(preprocessing.preprocess_image(
        tf.constant(testdata.encode(array, 'RGB', 'PNG')), 224))
    self.assertGreaterEqual(image.min(), 0.0)
    self.assertLessEqual(image.max(), 1.0)


if __name__ == '__main__':
  tf.test.main()
