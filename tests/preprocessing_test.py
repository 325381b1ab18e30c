"""Decoding by content and the tutorial's, the paper's and Caffe's recipes."""
import io
import os

from absl.testing import parameterized
import numpy as np
from PIL import Image
import tensorflow as tf

from alexnet_estimator import model_fn
from alexnet_estimator import params as params_lib
from alexnet_estimator import preprocessing
from tests import helpers

RGB = (200, 60, 30)
SIZE = (16, 12)  # (width, height): decoded images are [12, 16, 3]


def _source():
  """The image every format test encodes: RGB with +-3 noise."""
  return helpers.solid(RGB, SIZE)


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
    data = helpers.encode(_source(), mode, fmt)
    self.assertAllEqual(self._decode(data), _pillow_rgb(data))
    if mode != 'P':  # the palette quantises
      self.assertAllEqual(self._decode(data), _source())

  @parameterized.named_parameters(
      ('png', 'PNG'), ('bmp_8_bit', 'BMP'), ('jpeg', 'JPEG'))
  def test_grayscale_becomes_three_equal_channels(self, fmt):
    image = self._decode(helpers.encode(_source(), 'L', fmt))
    tolerance = 4 if fmt == 'JPEG' else 0
    self.assertCloseImage(image, _gray(_source()), tolerance, 1)
    self.assertAllEqual(image[..., 0], image[..., 1])
    self.assertAllEqual(image[..., 0], image[..., 2])

  def test_grayscale_png_with_alpha(self):
    image = self._decode(helpers.encode(_source(), 'LA', 'PNG'))
    self.assertAllEqual(image, _gray(_source()))

  @parameterized.named_parameters(
      ('baseline', {}), ('progressive', {'progressive': True}),
      ('no_chroma_subsampling', {'subsampling': 0}))
  def test_rgb_jpeg_is_close_to_the_source(self, options):
    data = helpers.encode(_source(), 'RGB', 'JPEG', quality=95, **options)
    self.assertCloseImage(self._decode(data), _source(), 12, 2)

  def test_cmyk_jpeg_is_close_to_the_source(self):
    data = helpers.encode(_source(), 'CMYK', 'JPEG', quality=95)
    self.assertEqual(Image.open(io.BytesIO(data)).mode, 'CMYK')
    self.assertCloseImage(self._decode(data), _source(), 12, 2)

  def test_sixteen_bit_png_is_scaled_to_eight_bits(self):
    array = np.full([SIZE[1], SIZE[0]], 150 * 257, np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(array, 'I;16').save(buffer, 'PNG')
    self.assertAllEqual(self._decode(buffer.getvalue()),
                        np.full([SIZE[1], SIZE[0], 3], 150, np.uint8))

  def test_gif_is_close_to_the_source(self):
    data = helpers.encode(_source(), 'P', 'GIF')
    image = self._decode(data)
    self.assertAllEqual(image, _pillow_rgb(data))  # GIF itself is lossless
    self.assertCloseImage(image, _source(), 64, 12)

  def test_animated_gif_gives_its_first_frame(self):
    data = helpers.animated_gif([(250, 0, 0), (0, 0, 250), (0, 250, 0)],
                                SIZE)
    self.assertEqual(Image.open(io.BytesIO(data)).n_frames, 3)
    image = self._decode(data)
    self.assertAllEqual(image.shape, [SIZE[1], SIZE[0], 3])
    self.assertAllClose(image.reshape(-1, 3).mean(axis=0), (250, 0, 0),
                        atol=8)

  def test_decoding_is_by_content_not_file_name(self):
    path = helpers.write_image(
        os.path.join(self.get_temp_dir(), 'photo.jpg'), _source(), fmt='PNG')
    image = preprocessing.decode_image(tf.io.read_file(path))
    self.assertAllEqual(self.evaluate(image), _source())

  def test_size_is_kept(self):
    data = tf.placeholder(tf.string, [])
    image = preprocessing.decode_image(data)
    with self.cached_session() as sess:
      for size in ((1, 1), (37, 5), (5, 37)):
        array = helpers.solid(RGB, size)
        for mode, fmt in (('RGB', 'PNG'), ('RGB', 'JPEG'), ('RGB', 'BMP'),
                          ('L', 'BMP'), ('RGBA', 'BMP'), ('P', 'GIF')):
          encoded = helpers.encode(array, mode, fmt)
          self.assertAllEqual(sess.run(image, {data: encoded}).shape,
                              [size[1], size[0], 3],
                              msg='%s %s %s' % (mode, fmt, size))

  @parameterized.named_parameters(
      ('text', helpers.text_bytes()),
      ('empty', b''),
      ('truncated_jpeg', helpers.truncated_jpeg()),
      ('truncated_png', helpers.truncated_png()),
      ('jpeg_without_its_end', helpers.encode(_source())[:-2]),
      ('truncated_gif', helpers.encode(_source(), 'P', 'GIF')[:60]),
      ('truncated_bmp', helpers.encode(_source(), 'RGB', 'BMP')[:-10]),
      ('bmp_header_only', helpers.encode(_source(), 'RGB', 'BMP')[:30]),
      ('text_starting_like_bmp', b'BMW ' + helpers.text_bytes() * 3),
      ('just_bm', b'BM'),
      ('one_bit_bmp', helpers.encode(_source(), '1', 'BMP')),
      ('png_signature_only', b'\x89PNG\r\n\x1a\n'),
      ('jpeg_signature_only', b'\xff\xd8\xff'),
      ('tiff', helpers.encode(_source(), 'RGB', 'TIFF')),
      ('webp', helpers.encode(_source(), 'RGB', 'WEBP')))
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
        encoded = helpers.encode(_source(), mode, fmt)
        self.assertAllEqual(sess.run(image, {data: encoded}).shape,
                            [SIZE[1], SIZE[0], 3])
      with self.assertRaises(tf.errors.InvalidArgumentError):
        sess.run(image, {data: helpers.text_bytes()})


class PreprocessImageTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(67, 5)
  def test_solid_colour_maps_to_colour_over_255(self, image_size):
    exact = helpers.solid(RGB, (40, 30), noise=0)
    data = helpers.encode(exact, 'RGB', 'PNG')
    image = preprocessing.preprocess_image(tf.constant(data), image_size)
    self.assertEqual(image.shape.as_list(), [image_size, image_size, 3])
    self.assertEqual(image.dtype, tf.float32)
    value = self.evaluate(image)
    self.assertAllClose(value, np.broadcast_to(np.array(RGB) / 255.0,
                                               value.shape), atol=1e-6)

  def test_grayscale_jpeg_gives_equal_channels_in_unit_range(self):
    data = helpers.encode(_source(), 'L', 'JPEG')
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
        tf.constant(helpers.encode(array, 'RGB', 'PNG')), 224))
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
                         {data: helpers.encode(_source(), mode, fmt)})
        self.assertAllEqual(value.shape, [67, 67, 3])
        self.assertAllInRange(value, 0.0, 1.0)

  def test_bad_bytes_raise_invalid_argument(self):
    image = preprocessing.preprocess_image(
        tf.constant(helpers.truncated_png()), 67)
    with self.assertRaises(tf.errors.InvalidArgumentError):
      self.evaluate(image)


class PreprocessForTrainTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('jpeg_fused_crop', 'JPEG', True), ('png_crop', 'PNG', True),
      ('jpeg_no_crop', 'JPEG', False))
  def test_shape_range_and_colour(self, fmt, random_crop):
    data = helpers.encode(helpers.solid(RGB, (40, 30)), 'RGB', fmt,
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
    source = helpers.solid((200, 60, 30), (16, 12), noise=0)
    data = helpers.encode(source, 'P', 'BMP')
    self.assertEqual(data[28], 8)  # 8 bits per pixel
    image = self.evaluate(preprocessing.decode_image(tf.constant(data)))
    # Was: every pixel the palette index on 3 channels ([41, 41, 41]).
    self.assertAllClose(image.reshape(-1, 3).mean(axis=0), (200, 60, 30),
                        atol=10)


MEAN = np.array(preprocessing.MEAN_RGB)
EIGVEC = np.array(preprocessing.PCA_EIGVEC)
EIGVAL = np.array(preprocessing.PCA_EIGVAL)


def _paper(**kwargs):
  """Paper preprocessing params, small: image_size 67, resize_side 76."""
  return params_lib.make_params(
      dict(dict(preprocessing='paper', image_size=67, resize_side=76,
                pca_lighting=0.0, eval_crops=1), **kwargs))


def _bands(colours, widths, height):
  """Vertical bands of exact colours, left to right: uint8 [height, W, 3]."""
  return np.concatenate([helpers.solid(c, (w, height), noise=0)
                         for c, w in zip(colours, widths)], axis=1)


class PcaLightingTest(tf.test.TestCase):

  def test_eigenvectors_are_the_orthonormal_columns(self):
    self.assertAllClose(EIGVEC.T.dot(EIGVEC), np.eye(3), atol=1e-4)
    # Each column is an eigenvector of the covariance they make up.
    covariance = EIGVEC.dot(np.diag(EIGVAL)).dot(EIGVEC.T)
    for j in range(3):
      self.assertAllClose(covariance.dot(EIGVEC[:, j]),
                          EIGVAL[j] * EIGVEC[:, j], atol=1e-4)

  def test_shift_statistics_on_a_fixed_seed(self):
    sigma, draws = 0.1, 20000
    images = tf.zeros([draws, 2, 3, 3])
    shifted = self.evaluate(tf.map_fn(
        lambda image: preprocessing.pca_lighting(image, sigma, seed=5),
        images, parallel_iterations=100, back_prop=False))
    self.assertEqual(shifted.dtype, np.float32)
    shifts = shifted[:, 0, 0, :].astype(np.float64)
    # One shift per image: every pixel moves alike.
    self.assertAllEqual(shifted,
                        np.broadcast_to(shifts[:, None, None, :],
                                        shifted.shape))
    scale = (sigma * EIGVAL) ** 2  # variance along each eigenvector
    self.assertAllClose(shifts.mean(axis=0), np.zeros(3), atol=5e-4)
    expected = EIGVEC.dot(np.diag(scale)).dot(EIGVEC.T)
    self.assertAllClose(np.cov(shifts.T), expected, rtol=0,
                        atol=0.05 * scale[0])
    # Along the eigenvectors: the coefficients alpha_j * eigval_j of each
    # shift are independent, with variances (sigma * eigval_j)^2.
    coefficients = np.linalg.solve(EIGVEC, shifts.T)
    self.assertAllClose(coefficients.var(axis=1), scale, rtol=0.05)
    correlation = np.corrcoef(coefficients)
    self.assertAllClose(correlation, np.eye(3), atol=0.05)
    # The columns, not the rows: along the rows the spread differs.
    by_rows = np.linalg.solve(EIGVEC.T, shifts.T).var(axis=1)
    self.assertNotAllClose(by_rows, scale, rtol=0.5)

  def test_adds_to_the_image_without_clipping(self):
    image = tf.constant(np.linspace(0.0, 1.0, 4 * 5 * 3).reshape(4, 5, 3),
                        tf.float32)
    before, after = self.evaluate(
        [image, preprocessing.pca_lighting(image, 5.0, seed=1)])
    shift = after - before
    self.assertAllClose(shift, np.broadcast_to(shift[0, 0], shift.shape),
                        atol=1e-6)
    self.assertGreater(np.abs(shift[0, 0]).max(), 0.01)
    self.assertTrue((after < 0).any() or (after > 1).any())


class TenCropsTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((9, 11, 4), (8, 8, 8), (10, 7, 5))
  def test_views_are_the_numpy_slices_and_mirrors(self, height, width, size):
    array = np.arange(height * width * 3, dtype=np.float32).reshape(
        height, width, 3)
    placeholder = tf.placeholder(tf.float32, [None, None, 3])
    crops = preprocessing.ten_crops(placeholder, size)
    self.assertEqual(crops.shape.as_list(), [10, size, size, 3])
    with self.cached_session() as sess:
      value = sess.run(crops, {placeholder: array})
    top, left = (height - size) // 2, (width - size) // 2
    expected = [array[top:top + size, left:left + size],
                array[:size, :size], array[:size, -size:],
                array[-size:, :size], array[-size:, -size:]]
    expected += [view[:, ::-1] for view in expected]
    self.assertAllEqual(value.shape, [10, size, size, 3])
    for i, view in enumerate(expected):
      self.assertAllEqual(value[i], view, msg='view %d' % i)


class PaperPreprocessingTest(tf.test.TestCase, parameterized.TestCase):

  def _run(self, fn, data):
    return self.evaluate(fn(tf.constant(data)))

  @parameterized.named_parameters(('one_crop', 1), ('ten_crops', 10))
  def test_shapes_dtypes_and_ranges(self, eval_crops):
    params = _paper(eval_crops=eval_crops)
    data = helpers.encode(helpers.solid(RGB, (90, 80)), 'RGB', 'JPEG')
    train = preprocessing.train_preprocessor(params)(tf.constant(data))
    evaluated = preprocessing.eval_preprocessor(params)(tf.constant(data))
    eval_shape = [10, 67, 67, 3] if eval_crops == 10 else [67, 67, 3]
    self.assertEqual(train.shape.as_list(), [67, 67, 3])
    self.assertEqual(evaluated.shape.as_list(), eval_shape)
    self.assertEqual(preprocessing.output_shape(params, True), [67, 67, 3])
    self.assertEqual(preprocessing.output_shape(params, False), eval_shape)
    self.assertEqual(train.dtype, tf.float32)
    self.assertEqual(evaluated.dtype, tf.float32)
    for value in self.evaluate([train, evaluated]):
      self.assertTrue(np.all(value >= -MEAN - 1e-3))
      self.assertTrue(np.all(value <= 255.0 - MEAN + 1e-3))
      # 0-255 scale, centred: a reddish image is far from [0, 1].
      self.assertAllClose(value.reshape(-1, 3).mean(axis=0), RGB - MEAN,
                          atol=3)

  @parameterized.named_parameters(
      ('train', 'train', {}), ('one_crop', 'eval', {}),
      ('ten_crops', 'eval', {'eval_crops': 10}),
      ('small_image', 'eval', {'image_size': 70, 'resize_side': 300}))
  def test_solid_colour_becomes_colour_less_mean(self, mode, overrides):
    params = _paper(**overrides)
    data = helpers.encode(helpers.solid(RGB, (50, 40), noise=0), 'RGB',
                          'PNG')
    fn = (preprocessing.train_preprocessor if mode == 'train'
          else preprocessing.eval_preprocessor)(params)
    value = self._run(fn, data)
    self.assertAllClose(value, np.broadcast_to(RGB - MEAN, value.shape),
                        atol=1e-3)

  @parameterized.named_parameters(
      ('landscape_upscaled', (30, 60, 30), 60, False),
      ('landscape_downscaled', (60, 120, 60), 120, False),
      ('portrait', (30, 60, 30), 60, True))
  def test_short_side_resized_keeping_aspect_then_central_square(
      self, widths, height, portrait):
    # Bands A | B | C where B is the central square: a squashed image or an
    # off-centre square shows A or C.
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]
    array = _bands(colours, widths, height)
    if portrait:
      array = np.ascontiguousarray(array.transpose(1, 0, 2))
    params = _paper(image_size=76, resize_side=76)  # the square itself
    value = self._run(preprocessing.eval_preprocessor(params),
                      helpers.encode(array, 'RGB', 'PNG'))
    self.assertAllEqual(value.shape, [76, 76, 3])
    rgb = value + MEAN
    if portrait:
      rgb = rgb.transpose(1, 0, 2)
    # Bilinear may blend a neighbour band into the outer columns only.
    self.assertAllClose(rgb[:, 1:-1],
                        np.broadcast_to(colours[1], rgb[:, 1:-1].shape),
                        atol=1e-3)
    for column in (rgb[:, 0], rgb[:, -1]):
      distances = [np.abs(column - c).max() for c in colours]
      self.assertEqual(int(np.argmin(distances)), 1)

  def test_eval_takes_the_centre_of_the_square(self):
    array = np.arange(90 * 80 * 3).reshape(90, 80, 3) % 251
    data = helpers.encode(array.astype(np.uint8), 'RGB', 'PNG')
    square = self._run(preprocessing.eval_preprocessor(
        _paper(image_size=76, resize_side=76)), data)
    centre = self._run(preprocessing.eval_preprocessor(_paper()), data)
    crops = self._run(preprocessing.eval_preprocessor(_paper(eval_crops=10)),
                      data)
    self.assertAllEqual(centre, square[4:71, 4:71])
    self.assertAllEqual(crops, self.evaluate(
        preprocessing.ten_crops(tf.constant(square), 67)))

  def test_training_crops_a_window_of_the_square_and_flips(self):
    # A pattern with no symmetry: each output is one window, one way round.
    rng = np.random.RandomState(0)
    data = helpers.encode(rng.randint(0, 256, (80, 90, 3)).astype(np.uint8),
                          'RGB', 'PNG')
    square = self._run(preprocessing.eval_preprocessor(
        _paper(image_size=76, resize_side=76)), data)
    windows = {}
    for y in range(10):
      for x in range(10):
        window = square[y:y + 67, x:x + 67]
        windows[(y, x, False)] = window
        windows[(y, x, True)] = window[:, ::-1]
    image = preprocessing.train_preprocessor(_paper())(tf.constant(data))
    seen = set()
    with self.cached_session() as sess:
      for _ in range(30):
        value = sess.run(image)
        found = [k for k, w in windows.items()
                 if np.allclose(value, w, atol=1e-3)]
        self.assertLen(found, 1)
        seen.add(found[0])
    self.assertGreater(len({k[:2] for k in seen}), 5)  # crops move
    self.assertEqual({k[2] for k in seen}, {False, True})  # and flip

  def test_flip_gives_both_orientations(self):
    array = _bands([(250, 0, 0), (0, 0, 250)], (33, 34), 67)
    data = helpers.encode(array, 'RGB', 'PNG')
    params = _paper(resize_side=67)  # the crop is the whole image
    tf.compat.v1.set_random_seed(1)
    image = preprocessing.train_preprocessor(params)(tf.constant(data))
    expected = array.astype(np.float32) - MEAN
    flips = []
    with self.cached_session() as sess:
      for _ in range(20):
        value = sess.run(image)
        if np.allclose(value, expected, atol=1e-3):
          flips.append(False)
        else:
          self.assertAllClose(value, expected[:, ::-1], atol=1e-3)
          flips.append(True)
    self.assertIn(False, flips)
    self.assertIn(True, flips)

  def test_training_lighting_shifts_every_pixel_alike(self):
    data = helpers.encode(helpers.solid(RGB, (80, 80), noise=0), 'RGB',
                          'PNG')
    value = self._run(preprocessing.train_preprocessor(
        _paper(pca_lighting=0.5)), data)
    shift = value - (RGB - MEAN)
    self.assertAllClose(shift, np.broadcast_to(shift[0, 0], shift.shape),
                        atol=1e-3)
    self.assertGreater(np.abs(shift[0, 0]).max(), 0.1)  # on the 0-255 scale

  @parameterized.named_parameters(
      ('paper', {'preprocessing': 'paper', 'resize_side': 76}, [76, 76, 3]),
      ('tutorial', {}, [67, 67, 3]))
  def test_train_stages_decode_then_augment(self, overrides, decoded_shape):
    params = params_lib.make_params(
        dict(dict(image_size=67, pca_lighting=0.1), **overrides))
    stages = preprocessing.train_stages(params)
    self.assertEqual(stages.decoded_shape, decoded_shape)
    data = helpers.encode(helpers.solid(RGB, (90, 80)), 'RGB', 'PNG')
    decoded = stages.decode(tf.constant(data))
    self.assertEqual(decoded.shape.as_list(), decoded_shape)
    image = stages.augment(decoded)
    self.assertEqual(image.shape.as_list(), [67, 67, 3])
    self.assertEqual(image.dtype, tf.float32)
    self.assertAllEqual(self.evaluate(image).shape, [67, 67, 3])

  def test_bad_bytes_raise_invalid_argument(self):
    for fn in (preprocessing.train_preprocessor(_paper()),
               preprocessing.eval_preprocessor(_paper(eval_crops=10))):
      with self.assertRaises(tf.errors.InvalidArgumentError):
        self._run(fn, helpers.truncated_png())


def _whole_resize_then_centre(image_bytes, resize_side):
  """The paper's square as it was first built: resize it all, then crop."""
  image = tf.image.convert_image_dtype(
      preprocessing.decode_image(image_bytes), tf.float32)
  height_width = tf.cast(tf.shape(image)[:2], tf.float32)
  scale = resize_side / tf.reduce_min(height_width)
  new_size = tf.maximum(tf.cast(tf.round(height_width * scale), tf.int32),
                        resize_side)
  image = tf.image.resize_images(image, new_size)
  top, left = ((new_size[0] - resize_side) // 2,
               (new_size[1] - resize_side) // 2)
  return image[top:top + resize_side, left:left + resize_side]


def _largest_allocation(build, data):
  """Runs build(bytes) once; (its value, the largest tensor it allocated).

  The size is the largest `requested_bytes` of any op's output, from the
  step's full trace: a bound on the memory one image takes.
  """
  with tf.Graph().as_default():
    image = build(tf.constant(data))
    metadata = tf.RunMetadata()
    with tf.Session() as sess:
      value = sess.run(image, options=tf.RunOptions(
          trace_level=tf.RunOptions.FULL_TRACE), run_metadata=metadata)
  largest = 0
  for device in metadata.step_stats.dev_stats:
    for node in device.node_stats:
      for output in node.output:
        largest = max(largest, output.tensor_description.
                      allocation_description.requested_bytes)
  return value, largest


class PaperSquareTest(tf.test.TestCase, parameterized.TestCase):
  """The square is cropped before it is resized, to the same pixels."""

  @parameterized.parameters(
      ((90, 80), 76), ((80, 90), 76), ((375, 500), 256), ((500, 375), 67),
      ((1, 60), 76), ((60, 1), 76), ((257, 33), 76), ((7, 7), 76),
      ((300, 2), 67), ((76, 76), 76), ((999, 1000), 256))
  def test_same_pixels_as_resizing_the_whole_image(self, size, resize_side):
    rng = np.random.RandomState(sum(size))
    array = rng.randint(0, 256, size[::-1] + (3,)).astype(np.uint8)
    for fmt in ('PNG', 'JPEG'):
      data = tf.constant(helpers.encode(array, 'RGB', fmt))
      square, expected = self.evaluate([
          preprocessing.train_stages(
              _paper(resize_side=resize_side)).decode(data),
          _whole_resize_then_centre(data, resize_side)])
      self.assertAllClose(square, expected, rtol=0, atol=1e-6)

  @parameterized.named_parameters(
      ('train', True, {}), ('one_crop', False, {}),
      ('ten_crops', False, {'eval_crops': 10}),
      ('tutorial_train', True, {'preprocessing': 'tutorial'}),
      ('tutorial_eval', False, {'preprocessing': 'tutorial'}),
      ('caffe_train', True, {'preprocessing': 'caffe'}),
      ('caffe_eval', False, {'preprocessing': 'caffe'}))
  def test_extreme_aspect_ratio_costs_what_a_normal_image_does(
      self, is_training, overrides):
    # Resizing a 1 x 6000 image whole to a short side of 76 makes a
    # 76 x 456000 image: 416 MB (4.7 GB at the default 256).
    params = _paper(**overrides)
    build = (preprocessing.train_preprocessor if is_training
             else preprocessing.eval_preprocessor)(params)
    shape = preprocessing.output_shape(params, is_training)
    _, normal = _largest_allocation(build, helpers.encode(
        helpers.solid(RGB, (90, 80), noise=0), 'RGB', 'PNG'))
    for size in ((6000, 1), (1, 6000)):
      data = helpers.encode(helpers.solid(RGB, size, noise=0), 'RGB', 'PNG')
      self.assertLess(len(data), 200)  # a tiny file
      value, largest = _largest_allocation(build, data)
      self.assertAllEqual(value.shape, shape)
      self.assertLessEqual(largest, normal, msg=size)
      if params['preprocessing'] == 'paper':
        self.assertAllClose(value, np.broadcast_to(RGB - MEAN, shape),
                            atol=1e-3)


# Caffe's ImageNet mean pixel in its (B, G, R) order, as bvlc_alexnet.npy's
# readers subtract it; written out here, not read from the module.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])


def _caffe(**kwargs):
  """Caffe preprocessing params, small: image_size 67, resize_side 76."""
  return params_lib.make_params(
      dict(dict(preprocessing='caffe', image_size=67, resize_side=76,
                pca_lighting=0.0, eval_crops=1), **kwargs))


def _numpy_half_pixel_resize(image, size):
  """NumPy bilinear resize to [size, size] sampling at half-pixel centres.

  OpenCV's cv::resize (INTER_LINEAR), which Caffe's convert_imageset uses:
  output pixel i reads source position (i + 0.5) * in / out - 0.5, clamped
  to the image, between its two neighbours.
  """
  image = image.astype(np.float64)

  def taps(in_size):
    position = np.clip((np.arange(size) + 0.5) * in_size / size - 0.5,
                       0, in_size - 1)
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, position - lower

  top, bottom, y = taps(image.shape[0])
  left, right, x = taps(image.shape[1])
  rows = (image[top] * (1 - y)[:, None, None] +
          image[bottom] * y[:, None, None])
  return rows[:, left] * (1 - x)[None, :, None] + rows[:, right] * x[
      None, :, None]


def _numpy_caffe_eval(array, image_size, resize_side):
  """The caffe evaluation preprocessing in NumPy: uint8 RGB -> BGR less mean."""
  resized = _numpy_half_pixel_resize(array, resize_side)
  offset = (resize_side - image_size) // 2
  crop = resized[offset:offset + image_size, offset:offset + image_size]
  return crop[:, :, ::-1] - CAFFE_MEAN_BGR


class CaffePreprocessingTest(tf.test.TestCase, parameterized.TestCase):
  """The BVLC AlexNet's input: 256x256, crop, BGR, less Caffe's mean."""

  def _run(self, fn, data):
    return self.evaluate(fn(tf.constant(data)))

  def test_solid_colour_becomes_bgr_less_the_caffe_mean(self):
    data = helpers.encode(helpers.solid(RGB, (50, 40), noise=0), 'RGB', 'PNG')
    expected = np.array(RGB[::-1]) - CAFFE_MEAN_BGR  # blue first
    for fn in (preprocessing.train_preprocessor(_caffe()),
               preprocessing.eval_preprocessor(_caffe())):
      value = self._run(fn, data)
      self.assertAllEqual(value.shape, [67, 67, 3])
      self.assertAllClose(value, np.broadcast_to(expected, value.shape),
                          atol=1e-3)

  @parameterized.named_parameters(
      ('downscaled', (90, 80)), ('upscaled', (40, 30)),
      ('portrait', (30, 100)), ('extreme_aspect', (300, 3)),
      ('already_square', (76, 76)))
  def test_eval_is_the_numpy_resize_crop_and_swap(self, size):
    rng = np.random.RandomState(sum(size))
    array = rng.randint(0, 256, size[::-1] + (3,)).astype(np.uint8)
    value = self._run(preprocessing.eval_preprocessor(_caffe()),
                      helpers.encode(array, 'RGB', 'PNG'))
    # float32 source positions: within 0.01 of 255 (half a pixel off would
    # be tens).
    self.assertAllClose(value, _numpy_caffe_eval(array, 67, 76), rtol=0,
                        atol=1e-2)

  def test_upscaling_matches_pillows_bilinear(self):
    # Pillow's bilinear filter, when it enlarges, samples the half-pixel
    # centres too: a second, independent reference of the resize.
    rng = np.random.RandomState(7)
    array = rng.randint(0, 256, (30, 50, 3)).astype(np.uint8)
    decoded = preprocessing.train_stages(_caffe()).decode
    value = self._run(decoded, helpers.encode(array, 'RGB', 'PNG'))
    channels = [np.asarray(Image.fromarray(
        array[:, :, c].astype(np.float32), 'F').resize((76, 76),
                                                        Image.BILINEAR))
                for c in range(3)]
    self.assertAllClose(value, np.stack(channels, axis=-1), rtol=0, atol=1e-2)

  def test_a_256_image_is_only_cropped_at_227(self):
    # Caffe's test phase: the centre 227 crop (offset 14) of the 256x256
    # image, nothing resampled.
    rng = np.random.RandomState(3)
    array = rng.randint(0, 256, (256, 256, 3)).astype(np.uint8)
    params = _caffe(image_size=227, resize_side=256)
    value = self._run(preprocessing.eval_preprocessor(params),
                      helpers.encode(array, 'RGB', 'PNG'))
    expected = array[14:241, 14:241, ::-1] - CAFFE_MEAN_BGR
    self.assertAllClose(value, expected, rtol=0, atol=1e-4)

  def test_training_crops_a_window_of_the_resized_image_and_flips(self):
    rng = np.random.RandomState(0)
    array = rng.randint(0, 256, (50, 60, 3)).astype(np.uint8)
    resized = _numpy_half_pixel_resize(array, 76)[:, :, ::-1] - CAFFE_MEAN_BGR
    windows = {}
    for y in range(10):
      for x in range(10):
        window = resized[y:y + 67, x:x + 67]
        windows[(y, x, False)] = window
        windows[(y, x, True)] = window[:, ::-1]
    image = preprocessing.train_preprocessor(_caffe())(tf.constant(
        helpers.encode(array, 'RGB', 'PNG')))
    seen = set()
    with self.cached_session() as sess:
      for _ in range(30):
        value = sess.run(image)
        found = [k for k, w in windows.items()
                 if np.allclose(value, w, atol=1e-2)]
        self.assertLen(found, 1)
        seen.add(found[0])
    self.assertGreater(len({k[:2] for k in seen}), 5)  # crops move
    self.assertEqual({k[2] for k in seen}, {False, True})  # and flip

  @parameterized.named_parameters(('one_crop', 1), ('ten_crops', 10))
  def test_shapes_and_stages(self, eval_crops):
    # eval_crops 10 is Caffe's oversampling: corners, centre, mirrors.
    params = _caffe(eval_crops=eval_crops)
    data = tf.constant(helpers.encode(helpers.solid(RGB, (90, 80)), 'RGB',
                                      'JPEG'))
    stages = preprocessing.train_stages(params)
    self.assertEqual(stages.decoded_shape, [76, 76, 3])
    decoded = stages.decode(data)
    self.assertEqual(decoded.shape.as_list(), [76, 76, 3])
    train = stages.augment(decoded)
    evaluated = preprocessing.eval_preprocessor(params)(data)
    eval_shape = [10, 67, 67, 3] if eval_crops == 10 else [67, 67, 3]
    self.assertEqual(train.shape.as_list(), [67, 67, 3])
    self.assertEqual(evaluated.shape.as_list(), eval_shape)
    self.assertEqual(preprocessing.output_shape(params, True), [67, 67, 3])
    self.assertEqual(preprocessing.output_shape(params, False), eval_shape)
    self.assertEqual(evaluated.dtype, tf.float32)
    square, value = self.evaluate([decoded, evaluated])
    expected = square[4:71, 4:71]
    if eval_crops == 10:
      expected = self.evaluate(preprocessing.ten_crops(
          tf.constant(square), 67))
    self.assertAllClose(value, expected[..., ::-1] - CAFFE_MEAN_BGR,
                        atol=1e-4)

  def test_training_lighting_shifts_every_pixel_alike(self):
    data = helpers.encode(helpers.solid(RGB, (80, 80), noise=0), 'RGB',
                          'PNG')
    value = self._run(preprocessing.train_preprocessor(
        _caffe(pca_lighting=0.5)), data)
    shift = value - (np.array(RGB[::-1]) - CAFFE_MEAN_BGR)
    self.assertAllClose(shift, np.broadcast_to(shift[0, 0], shift.shape),
                        atol=1e-3)
    self.assertGreater(np.abs(shift[0, 0]).max(), 1.0)  # on the 0-255 scale

  def test_summary_images_show_the_original_colours(self):
    # model_fn's TensorBoard images undo the BGR swap and the mean.
    array = helpers.solid(RGB, (67, 67), noise=3)
    image = preprocessing.eval_preprocessor(_caffe(resize_side=67))(
        tf.constant(helpers.encode(array, 'RGB', 'PNG')))
    shown = model_fn._summary_images(image[tf.newaxis], _caffe())
    self.assertEqual(shown.dtype, tf.uint8)
    self.assertAllClose(self.evaluate(shown)[0], array, atol=1)

  def test_bad_bytes_raise_invalid_argument(self):
    for fn in (preprocessing.train_preprocessor(_caffe()),
               preprocessing.eval_preprocessor(_caffe())):
      with self.assertRaises(tf.errors.InvalidArgumentError):
        self._run(fn, helpers.truncated_png())


class TutorialPreprocessorTest(tf.test.TestCase, parameterized.TestCase):
  """The tutorial params give exactly what the tutorial functions give."""

  def _build(self, build, data, runs):
    """Builds build(bytes) in a new graph; its GraphDef, shape, `runs` values.

    The values of a random op can only be compared through its graph:
    sample_distorted_bounding_box takes no seed from the graph's.
    """
    with tf.Graph().as_default() as graph:
      tf.compat.v1.set_random_seed(3)
      image = build(tf.constant(data))
      with tf.Session() as sess:
        values = [sess.run(image) for _ in range(runs)]
    return graph.as_graph_def(), image.shape.as_list(), values

  @parameterized.named_parameters(
      ('jpeg', 'JPEG', {}), ('png', 'PNG', {}),
      ('jpeg_random_crop', 'JPEG', {'random_crop': True}),
      ('png_random_crop', 'PNG', {'random_crop': True}),
      ('image_size', 'JPEG', {'image_size': 70}))
  def test_bit_identical(self, fmt, overrides):
    params = params_lib.make_params(dict(dict(image_size=67), **overrides))
    size, crop = params['image_size'], params['random_crop']
    data = helpers.encode(helpers.solid(RGB, (50, 37)), 'RGB', fmt)
    self.assertEqual(preprocessing.output_shape(params, True),
                     [size, size, 3])
    self.assertEqual(preprocessing.output_shape(params, False),
                     [size, size, 3])
    pairs = [
        (preprocessing.train_preprocessor(params),
         lambda b: preprocessing.preprocess_for_train(b, size, crop), crop),
        (preprocessing.eval_preprocessor(params),
         lambda b: preprocessing.preprocess_image(b, size), False)]
    for new, old, random in pairs:
      runs = 1 if random else 2
      new_graph, new_shape, new_values = self._build(new, data, runs)
      old_graph, old_shape, old_values = self._build(old, data, runs)
      self.assertProtoEquals(old_graph, new_graph)  # the very same ops
      self.assertEqual(new_shape, old_shape)
      for a, b in zip(new_values, old_values):
        self.assertEqual(a.dtype, b.dtype)
        self.assertAllEqual(a.shape, b.shape)
        if not random:
          self.assertAllEqual(a, b)

  def test_lighting_shifts_the_tutorial_image(self):
    params = params_lib.make_params(image_size=67, pca_lighting=0.5)
    data = helpers.encode(helpers.solid(RGB, (40, 30)), 'RGB', 'PNG')
    image, lit = self.evaluate([
        preprocessing.preprocess_image(tf.constant(data), 67),
        preprocessing.train_preprocessor(params)(tf.constant(data))])
    shift = lit - image
    self.assertAllClose(shift, np.broadcast_to(shift[0, 0], shift.shape),
                        atol=1e-6)
    self.assertGreater(np.abs(shift[0, 0]).max(), 1e-3)

  def test_ten_crops_need_the_paper_preprocessing(self):
    params = dict(params_lib.make_params(image_size=67), eval_crops=10)
    with self.assertRaises(ValueError):
      preprocessing.eval_preprocessor(params)


if __name__ == '__main__':
  tf.test.main()
