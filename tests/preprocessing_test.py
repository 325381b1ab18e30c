"""Tests for decoding by content and the tutorial's resize to [0, 1]."""
import io
import os

from absl.testing import parameterized
import numpy as np
from PIL import Image
import tensorflow as tf

from alexnet_estimator import preprocessing
from tests import testdata

RGB = (200, 60, 30)
SIZE = (16, 12)  # (width, height): decoded images are [12, 16, 3]


def _source():
  """The image every format test encodes: RGB with +-3 noise."""
  return testdata.solid(RGB, SIZE)


def _pillow_rgb(data):
  """What Pillow reads from `data`, as a uint8 RGB array [H, W, 3]."""
  return np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))


def _gray(array):
  """The RGB array Pillow's own grayscale conversion gives, as [H, W, 3]."""
  gray = np.asarray(Image.fromarray(array).convert('L'))
  return np.stack([gray] * 3, axis=-1)


class DecodeImageTest(tf.test.TestCase, parameterized.TestCase):

  def _decode(self, data):
    image = preprocessing.decode_image(tf.constant(data))
    self.assertEqual(image.shape.as_list(), [None, None, 3])
    self.assertEqual(image.dtype, tf.uint8)
    return self.evaluate(image)

  def assertCloseImage(self, image, expected, max_error, mean_error):
    """Same shape and dtype, every pixel within max_error, means within."""
    self.assertEqual(image.dtype, np.uint8)
    self.assertAllEqual(image.shape, expected.shape)
    error = np.abs(image.astype(np.int32) - expected.astype(np.int32))
    self.assertLessEqual(error.max(), max_error)
    self.assertAllClose(image.reshape(-1, 3).mean(axis=0),
                        expected.reshape(-1, 3).mean(axis=0), atol=mean_error)

  @parameterized.named_parameters(
      ('png_rgb', 'RGB', 'PNG'), ('bmp_24_bit', 'RGB', 'BMP'),
      ('bmp_32_bit_rgba', 'RGBA', 'BMP'), ('png_rgba', 'RGBA', 'PNG'),
      ('png_palette', 'P', 'PNG'))
  def test_lossless_rgb_formats_decode_exactly(self, mode, fmt):
    data = testdata.encode(_source(), mode, fmt)
    self.assertAllEqual(self._decode(data), _pillow_rgb(data))
    if mode != 'P':  # the palette quantises
      self.assertAllEqual(self._decode(data), _source())

  @parameterized.named_parameters(
      ('png', 'PNG'), ('bmp_8_bit', 'BMP'), ('jpeg', 'JPEG'))
  def test_grayscale_becomes_three_equal_channels(self, fmt):
    image = self._decode(testdata.encode(_source(), 'L', fmt))
    tolerance = 4 if fmt == 'JPEG' else 0
    self.assertCloseImage(image, _gray(_source()), tolerance, 1)
    self.assertAllEqual(image[..., 0], image[..., 1])
    self.assertAllEqual(image[..., 0], image[..., 2])

  def test_grayscale_png_with_alpha(self):
    image = self._decode(testdata.encode(_source(), 'LA', 'PNG'))
    self.assertAllEqual(image, _gray(_source()))

  @parameterized.named_parameters(
      ('baseline', {}), ('progressive', {'progressive': True}),
      ('no_chroma_subsampling', {'subsampling': 0}))
  def test_rgb_jpeg_is_close_to_the_source(self, options):
    data = testdata.encode(_source(), 'RGB', 'JPEG', quality=95, **options)
    self.assertCloseImage(self._decode(data), _source(), 12, 2)

  def test_cmyk_jpeg_is_close_to_the_source(self):
    data = testdata.encode(_source(), 'CMYK', 'JPEG', quality=95)
    self.assertEqual(Image.open(io.BytesIO(data)).mode, 'CMYK')
    self.assertCloseImage(self._decode(data), _source(), 12, 2)

  def test_sixteen_bit_png_is_scaled_to_eight_bits(self):
    array = np.full([SIZE[1], SIZE[0]], 150 * 257, np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(array, 'I;16').save(buffer, 'PNG')
    self.assertAllEqual(self._decode(buffer.getvalue()),
                        np.full([SIZE[1], SIZE[0], 3], 150, np.uint8))

  def test_gif_is_close_to_the_source(self):
    data = testdata.encode(_source(), 'P', 'GIF')
    image = self._decode(data)
    self.assertAllEqual(image, _pillow_rgb(data))  # GIF itself is lossless
    self.assertCloseImage(image, _source(), 64, 12)

  def test_animated_gif_gives_its_first_frame(self):
    data = testdata.animated_gif([(250, 0, 0), (0, 0, 250), (0, 250, 0)],
                                 SIZE)
    self.assertEqual(Image.open(io.BytesIO(data)).n_frames, 3)
    image = self._decode(data)
    self.assertAllEqual(image.shape, [SIZE[1], SIZE[0], 3])
    self.assertAllClose(image.reshape(-1, 3).mean(axis=0), (250, 0, 0),
                        atol=8)

  def test_decoding_is_by_content_not_file_name(self):
    path = testdata.write_image(
        os.path.join(self.get_temp_dir(), 'photo.jpg'), _source(), fmt='PNG')
    image = preprocessing.decode_image(tf.io.read_file(path))
    self.assertAllEqual(self.evaluate(image), _source())

  def test_size_is_kept(self):
    data = tf.placeholder(tf.string, [])
    image = preprocessing.decode_image(data)
    with self.cached_session() as sess:
      for size in ((1, 1), (37, 5), (5, 37)):
        array = testdata.solid(RGB, size)
        for mode, fmt in (('RGB', 'PNG'), ('RGB', 'JPEG'), ('RGB', 'BMP'),
                          ('L', 'BMP'), ('RGBA', 'BMP'), ('P', 'GIF')):
          encoded = testdata.encode(array, mode, fmt)
          self.assertAllEqual(sess.run(image, {data: encoded}).shape,
                              [size[1], size[0], 3],
                              msg='%s %s %s' % (mode, fmt, size))

  @parameterized.named_parameters(
      ('text', testdata.text_bytes()),
      ('empty', b''),
      ('truncated_jpeg', testdata.truncated_jpeg()),
      ('truncated_png', testdata.truncated_png()),
      ('jpeg_without_its_end', testdata.encode(_source())[:-2]),
      ('truncated_gif', testdata.encode(_source(), 'P', 'GIF')[:60]),
      ('truncated_bmp', testdata.encode(_source(), 'RGB', 'BMP')[:-10]),
      ('bmp_header_only', testdata.encode(_source(), 'RGB', 'BMP')[:30]),
      ('text_starting_like_bmp', b'BMW ' + testdata.text_bytes() * 3),
      ('just_bm', b'BM'),
      ('one_bit_bmp', testdata.encode(_source(), '1', 'BMP')),
      ('png_signature_only', b'\x89PNG\r\n\x1a\n'),
      ('jpeg_signature_only', b'\xff\xd8\xff'),
      ('tiff', testdata.encode(_source(), 'RGB', 'TIFF')),
      ('webp', testdata.encode(_source(), 'RGB', 'WEBP')))
  def test_bad_bytes_raise_invalid_argument(self, data):
    with self.assertRaises(tf.errors.InvalidArgumentError):
      self._decode(data)

  def test_one_graph_decodes_many_formats(self):
    # The tf.cond/tf.case branches are chosen per run, not per graph.
    data = tf.placeholder(tf.string, [])
    image = preprocessing.decode_image(data)
    with self.cached_session() as sess:
      for mode, fmt in (('RGB', 'BMP'), ('L', 'BMP'), ('RGB', 'PNG'),
                        ('RGBA', 'BMP'), ('P', 'GIF'), ('RGB', 'JPEG')):
        encoded = testdata.encode(_source(), mode, fmt)
        self.assertAllEqual(sess.run(image, {data: encoded}).shape,
                            [SIZE[1], SIZE[0], 3])
      with self.assertRaises(tf.errors.InvalidArgumentError):
        sess.run(image, {data: testdata.text_bytes()})


class PreprocessImageTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(67, 5)
  def test_solid_colour_maps_to_colour_over_255(self, image_size):
    exact = testdata.solid(RGB, (40, 30), noise=0)
    data = testdata.encode(exact, 'RGB', 'PNG')
    image = preprocessing.preprocess_image(tf.constant(data), image_size)
    self.assertEqual(image.shape.as_list(), [image_size, image_size, 3])
    self.assertEqual(image.dtype, tf.float32)
    value = self.evaluate(image)
    self.assertAllClose(value, np.broadcast_to(np.array(RGB) / 255.0,
                                               value.shape), atol=1e-6)

  def test_grayscale_jpeg_gives_equal_channels_in_unit_range(self):
    data = testdata.encode(_source(), 'L', 'JPEG')
    value = self.evaluate(preprocessing.preprocess_image(tf.constant(data),
                                                         67))
    self.assertAllEqual(value.shape, [67, 67, 3])
    self.assertAllEqual(value[..., 0], value[..., 2])
    self.assertAllInRange(value, 0.0, 1.0)

  def test_extremes_stay_in_unit_range(self):
    array = np.zeros([31, 17, 3], np.uint8)
    array[::2] = 255  # hard edges: bilinear must not overshoot
    array[:, ::3, 1] = 255
    value = self.evaluate(preprocessing.preprocess_image(
        tf.constant(testdata.encode(array, 'RGB', 'PNG')), 224))
    self.assertAllInRange(value, 0.0, 1.0)
    self.assertAllClose(value.min(), 0.0, atol=0.05)
    self.assertAllClose(value.max(), 1.0, atol=0.05)

  def test_every_format_gives_the_same_shape(self):
    data = tf.placeholder(tf.string, [])
    image = preprocessing.preprocess_image(data, 67)
    self.assertEqual(image.shape.as_list(), [67, 67, 3])
    with self.cached_session() as sess:
      for mode, fmt in (('RGB', 'JPEG'), ('CMYK', 'JPEG'), ('RGBA', 'PNG'),
                        ('P', 'GIF'), ('L', 'BMP'), ('RGBA', 'BMP')):
        value = sess.run(image,
                         {data: testdata.encode(_source(), mode, fmt)})
        self.assertAllEqual(value.shape, [67, 67, 3])
        self.assertAllInRange(value, 0.0, 1.0)

  def test_bad_bytes_raise_invalid_argument(self):
    image = preprocessing.preprocess_image(
        tf.constant(testdata.truncated_png()), 67)
    with self.assertRaises(tf.errors.InvalidArgumentError):
      self.evaluate(image)


class PreprocessForTrainTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('jpeg_fused_crop', 'JPEG', True), ('png_crop', 'PNG', True),
      ('jpeg_no_crop', 'JPEG', False))
  def test_shape_range_and_colour(self, fmt, random_crop):
    data = testdata.encode(testdata.solid(RGB, (40, 30)), 'RGB', fmt,
                           **({'quality': 95} if fmt == 'JPEG' else {}))
    image = preprocessing.preprocess_for_train(tf.constant(data), 67,
                                               random_crop=random_crop)
    self.assertEqual(image.shape.as_list(), [67, 67, 3])
    self.assertEqual(image.dtype, tf.float32)
    value = self.evaluate(image)
    self.assertAllInRange(value, 0.0, 1.0)
    # A crop of a solid image is still that colour.
    self.assertAllClose(value.reshape(-1, 3).mean(axis=0),
                        np.array(RGB) / 255.0, atol=0.02)


class PaletteBmpTest(tf.test.TestCase):

  def test_8_bit_colour_bmp_decodes_to_its_colours(self):
    # Pillow writes mode 'P' as an 8-bit BMP with a colour table, as MS Paint
    # and many tools do ("256-colour bitmap").
    source = testdata.solid((200, 60, 30), (16, 12), noise=0)
    data = testdata.encode(source, 'P', 'BMP')
    self.assertEqual(data[28], 8)  # 8 bits per pixel
    image = self.evaluate(preprocessing.decode_image(tf.constant(data)))
    # Was: every pixel the palette index on 3 channels ([41, 41, 41]).
    self.assertAllClose(image.reshape(-1, 3).mean(axis=0), (200, 60, 30),
                        atol=10)


if __name__ == '__main__':
  tf.test.main()
