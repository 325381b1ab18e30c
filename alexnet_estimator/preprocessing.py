"""Per-image ops: decode any common format to RGB, resize, scale to [0, 1].

Training, evaluation, prediction and the exported SavedModel all call
`preprocess_image`, so a served image is treated exactly as an evaluated one.
"""
import tensorflow as tf

# BMP header fields (little-endian): size of the info header at byte 14,
# bits per pixel (uint16) at 28, colours in the table (uint32, 0: all) at 46.
_BMP_INFO_SIZE_OFFSET = 14
_BMP_BPP_OFFSET = 28
_BMP_COLOURS_USED_OFFSET = 46
# tf.io.decode_bmp must be told the channel count the file has.
_BMP_CHANNELS = {24: 3, 32: 4}


def _to_rgb(image):
  """uint8 [H, W, C] with C in {1, 3, 4} -> uint8 [H, W, 3]."""
  channels = tf.shape(image)[-1]
  return tf.case([(tf.equal(channels, 1), lambda: tf.tile(image, [1, 1, 3])),
                  (tf.equal(channels, 4), lambda: image[:, :, :3])],
                 default=lambda: image)


def _bmp_field(image_bytes, offset, dtype, size):
  return tf.cast(tf.io.decode_raw(
      tf.strings.substr(image_bytes, offset, size), dtype)[0], tf.int32)


def _decode_paletted_bmp(image_bytes):
  """8-bit BMP: decode_bmp gives colour-table indices; look up their colours.

  The table follows the info header: 4 bytes (blue, green, red, 0) a colour.
  """
  indices = tf.cast(tf.io.decode_bmp(image_bytes, channels=1)[:, :, 0],
                    tf.int32)
  colours = _bmp_field(image_bytes, _BMP_COLOURS_USED_OFFSET, tf.int32, 4)
  colours = tf.where(tf.equal(colours, 0), 256, colours)
  table_start = 14 + _bmp_field(image_bytes, _BMP_INFO_SIZE_OFFSET,
                                tf.int32, 4)
  table = tf.reshape(tf.io.decode_raw(
      tf.strings.substr(image_bytes, table_start, 4 * colours), tf.uint8),
                     [-1, 4])
  rgb_table = tf.reverse(table[:, :3], axis=[1])  # BGR -> RGB
  # An index past the table raises here, and the image is skipped.
  return tf.gather(rgb_table, indices)


def _decode_bmp(image_bytes):
  """Decodes 8-, 24- and 32-bit BMPs, which decode_image(channels=3) refuses."""
  bpp = _bmp_field(image_bytes, _BMP_BPP_OFFSET, tf.uint16, 2)
  branches = [(tf.equal(bpp, 8), lambda: _decode_paletted_bmp(image_bytes))]
  branches += [(tf.equal(bpp, bits),
                lambda c=c: _to_rgb(tf.io.decode_bmp(image_bytes, channels=c)))
               for bits, c in sorted(_BMP_CHANNELS.items())]
  # Any other depth: decode_bmp raises, and the caller skips the image.
  return tf.case(branches,
                 default=lambda: tf.io.decode_bmp(image_bytes, channels=3))


def decode_image(image_bytes):
  """Decodes one encoded image by its content, whatever its file name says.

  JPEG (including CMYK and grayscale), PNG (including grayscale and RGBA), GIF
  (first frame) and BMP (8, 24 and 32 bit) all become RGB.

  Args:
    image_bytes: scalar string Tensor, the encoded image.

  Returns:
    uint8 Tensor [height, width, 3]. Running it raises InvalidArgumentError for
    bytes that are not a complete image of these formats.
  """
  is_bmp = tf.equal(tf.strings.substr(image_bytes, 0, 2), 'BM')
  image = tf.cond(
      is_bmp, lambda: _decode_bmp(image_bytes),
      lambda: tf.io.decode_image(image_bytes, channels=3,
                                 expand_animations=False))
  image.set_shape([None, None, 3])
  return image


def preprocess_image(image_bytes, image_size):
  """The tutorial's preprocessing: decode, scale to [0, 1], resize to a square.

  Args:
    image_bytes: scalar string Tensor, the encoded image.
    image_size: Python int, side of the output.

  Returns:
    float32 Tensor [image_size, image_size, 3] with values in [0, 1].
  """
  return _to_unit_square(decode_image(image_bytes), image_size)


def _to_unit_square(image, image_size):
  """uint8 [H, W, 3] -> float32 [image_size, image_size, 3] in [0, 1]."""
  image = tf.image.convert_image_dtype(image, tf.float32)
  # Bilinear weights are convex, so the result stays within [0, 1].
  image = tf.image.resize_images(image, [image_size, image_size])
  image.set_shape([image_size, image_size, 3])
  return image


def _random_crop_window(image_shape, min_object_covered=0.1,
                        area_range=(0.08, 1.0),
                        aspect_ratio_range=(3. / 4., 4. / 3.)):
  """A random [y, x, height, width] window, as Inception-style training uses."""
  begin, size, _ = tf.image.sample_distorted_bounding_box(
      image_shape, bounding_boxes=tf.zeros([1, 0, 4]),
      min_object_covered=min_object_covered,
      aspect_ratio_range=aspect_ratio_range, area_range=area_range,
      max_attempts=10, use_image_if_no_bounding_boxes=True)
  return tf.stack([begin[0], begin[1], size[0], size[1]])


def preprocess_for_train(image_bytes, image_size, random_crop=False):
  """Training preprocessing: the tutorial's resize, or a random crop first.

  With `random_crop`, a JPEG is decoded with the fused
  tf.image.decode_and_crop_jpeg, which decodes only the crop window; other
  formats are decoded whole, then cropped.

  Args:
    image_bytes: scalar string Tensor, the encoded image.
    image_size: Python int, side of the output.
    random_crop: Python bool.

  Returns:
    float32 Tensor [image_size, image_size, 3] with values in [0, 1].
  """
  if not random_crop:
    return preprocess_image(image_bytes, image_size)
  is_jpeg = tf.equal(tf.strings.substr(image_bytes, 0, 3), b'\xff\xd8\xff')

  def fused_jpeg():
    window = _random_crop_window(tf.image.extract_jpeg_shape(image_bytes))
    return tf.image.decode_and_crop_jpeg(image_bytes, window, channels=3)

  def other():
    image = decode_image(image_bytes)
    window = _random_crop_window(tf.shape(image))
    return tf.image.crop_to_bounding_box(image, window[0], window[1],
                                         window[2], window[3])

  image = tf.cond(is_jpeg, fused_jpeg, other)
  image.set_shape([None, None, 3])
  return _to_unit_square(image, image_size)
