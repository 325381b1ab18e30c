"""Per-image ops: decode any common format to RGB, crop, resize, normalise.

Three recipes, chosen by params['preprocessing']:

  'tutorial': resize the whole image to image_size x image_size, values in
    [0, 1] (`preprocess_image`); training may first take an Inception-style
    random crop (params['random_crop'], `preprocess_for_train`).
  'paper': Krizhevsky et al. 2012, section 2: resize the short side to
    resize_side keeping the aspect ratio, keep the central square; then a
    random image_size crop and a random horizontal flip in training (section
    4.1), the central crop or the ten crops (corners and centre, and their
    mirror images, section 4.1) in evaluation; values 0-255 less the ImageNet
    channel mean (`MEAN_RGB`).
  'caffe': the input of the BVLC (Caffe model zoo) AlexNet, whose weights
    (bvlc_alexnet.npy) weights.py imports: both sides resized to resize_side
    (256x256, ignoring the aspect ratio, as Caffe's ImageNet data preparation
    does), then a random image_size crop and a random horizontal flip in
    training, the central crop (or the ten crops) in evaluation; channels in
    BGR order, values 0-255 less Caffe's ImageNet mean (`MEAN_BGR`).

Any recipe may add the paper's PCA colour lighting in training
(params['pca_lighting'] > 0, `pca_lighting`).

`train_preprocessor(params)` and `eval_preprocessor(params)` return the
function image bytes -> image of a recipe (`train_stages(params)` splits the
training one into decode, then random augmentation). Training, evaluation,
prediction and the exported SavedModel all call them, so a served image is
treated exactly as an evaluated one; `output_shape(params, is_training)` is the
shape they give.
"""
import collections

import tensorflow as tf

# ImageNet per-channel mean (R, G, B) on the 0-255 scale, as VGG/Caffe-derived
# TensorFlow models subtract it: tensorflow/models, research/slim/preprocessing/
# vgg_preprocessing.py (_R_MEAN, _G_MEAN, _B_MEAN).
MEAN_RGB = (123.68, 116.78, 103.94)

# The mean pixel (B, G, R) the BVLC AlexNet's input is centred on, 0-255 scale,
# as the code that reads bvlc_alexnet.npy subtracts it (Caffe's ImageNet mean
# image, averaged per channel).
MEAN_BGR = (103.939, 116.779, 123.68)

# Principal components of ImageNet's RGB pixel values (scaled to [0, 1]), from
# facebook/fb.resnet.torch, datasets/imagenet.lua (`pca`); many AlexNet and
# ResNet reproductions copy them. Column j of PCA_EIGVEC is the unit
# eigenvector of eigenvalue PCA_EIGVAL[j]: fb.resnet.torch's Lighting
# (datasets/transforms.lua) adds rgb[i] = sum_j eigvec[i][j] alpha[j] eigval[j].
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009),
              (-0.5808, -0.0045, -0.8140),
              (-0.5836, -0.6948, 0.4203))

# First bytes of the formats decode_image reads. image_folder finds images by
# them too.
JPEG_SIGNATURE = b'\xff\xd8\xff'
BMP_SIGNATURE = b'BM'
IMAGE_SIGNATURES = (JPEG_SIGNATURE, b'\x89PNG\r\n\x1a\n', b'GIF87a', b'GIF89a',
                    BMP_SIGNATURE)

# BMP header fields (little-endian): size of the info header at byte 14,
# bits per pixel (uint16) at 28, colours in the table (uint32, 0: all) at 46.
_BMP_INFO_SIZE_OFFSET = 14
_BMP_BPP_OFFSET = 28
_BMP_COLOURS_USED_OFFSET = 46
# tf.io.decode_bmp must be told the channel count the file has.
_BMP_CHANNELS = {24: 3, 32: 4}


def _starts_with(image_bytes, signature):
  """Scalar bool Tensor: the encoded image starts with `signature`."""
  return tf.equal(tf.strings.substr(image_bytes, 0, len(signature)),
                  signature)


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
  is_bmp = _starts_with(image_bytes, BMP_SIGNATURE)
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
  is_jpeg = _starts_with(image_bytes, JPEG_SIGNATURE)

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


def pca_lighting(image, stddev, seed=None):
  """The paper's colour lighting (section 4.1): one RGB shift per image.

  Adds PCA_EIGVEC @ (alpha * PCA_EIGVAL) to every pixel, alpha ~ N(0, stddev^2)
  drawn afresh for each call (each image) and each principal component. Values
  are not clipped, as in the paper.

  Args:
    image: float Tensor [..., 3], RGB on the 0-1 scale.
    stddev: Python float, the std-dev of alpha (the paper's 0.1).
    seed: optional op seed of the draw.

  Returns:
    A Tensor of the shape and dtype of `image`.
  """
  alpha = tf.random.normal([3], stddev=stddev, seed=seed, dtype=image.dtype)
  eigvec = tf.constant(PCA_EIGVEC, dtype=image.dtype)
  eigval = tf.constant(PCA_EIGVAL, dtype=image.dtype)
  shift = tf.reduce_sum(eigvec * (alpha * eigval)[tf.newaxis, :], axis=1)
  return image + shift


def ten_crops(image, size):
  """The paper's ten test views (section 4.1) of one image.

  Args:
    image: Tensor [H, W, C] with H, W >= size.
    size: Python int, side of each crop.

  Returns:
    Tensor [10, size, size, C]: the centre, top-left, top-right, bottom-left
    and bottom-right crops, then the horizontal mirror image of each of those,
    in that order.
  """
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  top, left = (height - size) // 2, (width - size) // 2
  bottom, right = height - size, width - size
  crops = tf.stack([image[y:y + size, x:x + size]
                    for y, x in ((top, left), (0, 0), (0, right),
                                 (bottom, 0), (bottom, right))])
  crops = tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0)
  crops.set_shape([10, size, size, image.shape[-1]])
  return crops


def _central_crop(image, size):
  """[H, W, C] -> the central [size, size, C] (offsets rounded down)."""
  shape = tf.shape(image)
  top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
  image = image[top:top + size, left:left + size]
  image.set_shape([size, size, image.shape[-1]])
  return image


def _bilinear_taps(in_size, full_size, start, size):
  """The source pixels of `size` outputs, from `start`, of a 1-D resize.

  As tf.image.resize_images (bilinear, no align_corners, no half-pixel
  centres) has them for a resize from `in_size` to `full_size` pixels: output
  i reads position i * in_size / full_size (float32), which lies between
  pixels `lower` and `upper` at weight `lerp` from lower.

  Args:
    in_size: int32 scalar Tensor, the input's length along the axis.
    full_size: int32 scalar Tensor, the length of the whole resized axis.
    start: int32 scalar Tensor, the first output wanted.
    size: Python int, the outputs wanted.

  Returns:
    (lower, upper, lerp): int32 [size] indices into the input and float32
    [size] weights.
  """
  scale = tf.cast(in_size, tf.float32) / tf.cast(full_size, tf.float32)
  position = tf.cast(tf.range(start, start + size), tf.float32) * scale
  floor = tf.floor(position)
  lower = tf.maximum(tf.cast(floor, tf.int32), 0)
  upper = tf.minimum(tf.cast(tf.ceil(position), tf.int32), in_size - 1)
  return lower, upper, position - floor


def _resized_central_square(image_bytes, resize_side):
  """Decodes; short side to `resize_side` (bilinear); the central square.

  The pixels are those of tf.image.resize_images of the whole image followed
  by the central crop, but only the square is computed, from the part of the
  image it covers: the resized long side is never made. So memory is bounded
  by the short side and resize_side, whatever the aspect ratio: a 1 x 6000
  image costs what a 1 x 1 one does, where resizing it whole to a short side
  of 256 took 4.7 GB.

  Returns:
    float32 Tensor [resize_side, resize_side, 3] with values in [0, 1].
  """
  image = decode_image(image_bytes)
  shape = tf.shape(image)
  height_width = tf.cast(shape[:2], tf.float32)
  scale = resize_side / tf.reduce_min(height_width)
  # The short side becomes exactly resize_side, the long one the nearest
  # integer to its scaled length; the square is that image's centre.
  full_size = tf.maximum(tf.cast(tf.round(height_width * scale), tf.int32),
                         resize_side)
  start = (full_size - resize_side) // 2
  rows = _bilinear_taps(shape[0], full_size[0], start[0], resize_side)
  cols = _bilinear_taps(shape[1], full_size[1], start[1], resize_side)
  # Only the source pixels the square reads: about the central square of the
  # short side (the taps are sorted).
  top, left = rows[0][0], cols[0][0]
  window = image[top:rows[1][-1] + 1, left:cols[1][-1] + 1]

  def corners(row_index):
    by_row = tf.gather(window, row_index - top)
    return [tf.image.convert_image_dtype(
        tf.gather(by_row, col_index - left, axis=1), tf.float32)
            for col_index in cols[:2]]
  top_left, top_right = corners(rows[0])
  bottom_left, bottom_right = corners(rows[1])
  # resize_bilinear's arithmetic, in its order, so the pixels are the same.
  x_lerp = cols[2][tf.newaxis, :, tf.newaxis]
  y_lerp = rows[2][:, tf.newaxis, tf.newaxis]
  upper = top_left + (top_right - top_left) * x_lerp
  lower = bottom_left + (bottom_right - bottom_left) * x_lerp
  image = upper + (lower - upper) * y_lerp
  image.set_shape([resize_side, resize_side, 3])
  return image


def _subtract_mean(image):
  """[0, 1] RGB -> 0-255 less the ImageNet channel mean."""
  return image * 255.0 - tf.constant(MEAN_RGB, tf.float32)


def caffe_resize(image_bytes, resize_side):
  """Decodes; both sides to `resize_side`, as Caffe's data preparation does.

  Caffe's ImageNet recipe (convert_imageset --resize_height 256
  --resize_width 256) squashes every image to 256x256 with OpenCV's bilinear
  cv::resize, which samples at half-pixel centres: resize_bilinear with
  half_pixel_centers=True reads the same source positions (and leaves a
  256x256 image as it is). Values stay floats (Caffe stores them rounded to
  uint8: at most 0.5 apart).

  Args:
    image_bytes: scalar string Tensor, the encoded image.
    resize_side: Python int, the side of the output.

  Returns:
    float32 Tensor [resize_side, resize_side, 3], RGB on the 0-255 scale.
  """
  image = tf.cast(decode_image(image_bytes), tf.float32)
  image = tf.compat.v1.image.resize_bilinear(
      image[tf.newaxis], [resize_side, resize_side],
      half_pixel_centers=True)[0]
  image.set_shape([resize_side, resize_side, 3])
  return image


def caffe_normalise(image):
  """RGB on the 0-255 scale -> BGR less MEAN_BGR, the BVLC model's input.

  Args:
    image: float32 Tensor [..., 3], RGB, values 0-255.

  Returns:
    float32 Tensor of the same shape: channels B, G, R, less MEAN_BGR.
  """
  return tf.reverse(image, axis=[-1]) - tf.constant(MEAN_BGR, tf.float32)


def output_shape(params, is_training):
  """The static shape of one preprocessed image, a Python list.

  Args:
    params: a params dict (params.make_params).
    is_training: Python bool.

  Returns:
    [S, S, 3], or [10, S, S, 3] for evaluation with 10 crops.
  """
  size = params['image_size']
  if not is_training and params['eval_crops'] == 10:
    return [10, size, size, 3]
  return [size, size, 3]


# The training preprocessing in two stages (see `train_stages`).
TrainStages = collections.namedtuple('TrainStages',
                                     ['decode', 'decoded_shape', 'augment'])


# The recipes that resize to a resize_side square and crop it: (the square
# from the image bytes, the scale of its values (1 or 255), their values as
# the network sees them). Training and evaluation both read it.
_SQUARE_RECIPES = {
    'paper': (_resized_central_square, 1.0, _subtract_mean),
    'caffe': (caffe_resize, 255.0, caffe_normalise),
}


def train_stages(params):
  """The training preprocessing of `params` as decode, then augment.

  `train_preprocessor(params)(b)` is `augment(decode(b))`. `decode` is what
  may fail on bad bytes; `augment` draws this image's random crop, flip and
  lighting (all but the tutorial's random_crop window, which the fused JPEG
  decode needs). The input pipelines decode inside the per-file dataset that
  catches decode errors and augment in a plain map afterwards: tf.data
  instantiates the function of each per-file dataset anew, so with a
  graph-level seed (RunConfig(tf_random_seed=...)) random ops there would
  start from the same state, and draw the same, for every image.

  Args:
    params: a params dict (params.make_params); reads preprocessing,
      image_size, random_crop (tutorial only), resize_side (paper and caffe)
      and pca_lighting.

  Returns:
    A TrainStages: decode (scalar string Tensor -> float32 Tensor of
    decoded_shape), decoded_shape (Python list) and augment (that Tensor ->
    float32 [S, S, 3]).
  """
  image_size = params['image_size']
  lighting = params['pca_lighting']
  if params['preprocessing'] == 'tutorial':
    random_crop = params['random_crop']

    def augment_tutorial(image):
      if lighting > 0:
        image = pca_lighting(image, lighting)
      return image
    return TrainStages(
        lambda image_bytes: preprocess_for_train(image_bytes, image_size,
                                                 random_crop),
        [image_size, image_size, 3], augment_tutorial)
  resize_side = params['resize_side']
  resize, scale, normalise = _SQUARE_RECIPES[params['preprocessing']]

  def augment(image):
    image = tf.image.random_crop(image, [image_size, image_size, 3])
    image = tf.image.random_flip_left_right(image)
    if lighting > 0:  # its RGB shift is on the 0-1 scale
      image = (pca_lighting(image / scale, lighting) * scale if scale != 1
               else pca_lighting(image, lighting))
    image = normalise(image)
    image.set_shape([image_size, image_size, 3])
    return image
  return TrainStages(lambda image_bytes: resize(image_bytes, resize_side),
                     [resize_side, resize_side, 3], augment)


def train_preprocessor(params):
  """Returns the training preprocessing of `params`.

  Reads preprocessing, image_size, random_crop (tutorial only), resize_side
  (paper and caffe) and pca_lighting.

  Args:
    params: a params dict (params.make_params).

  Returns:
    A function: scalar string Tensor (encoded image) -> float32 Tensor
    [S, S, 3]. Tutorial: `preprocess_for_train`, values in [0, 1] (the
    lighting may step outside). Paper: a random crop of the central square and
    a random flip, 0-255 less MEAN_RGB. Caffe: a random crop of the image
    resized to resize_side x resize_side (`caffe_resize`) and a random flip,
    BGR less MEAN_BGR. Each adds `pca_lighting` when params['pca_lighting'] >
    0.
  """
  stages = train_stages(params)
  return lambda image_bytes: stages.augment(stages.decode(image_bytes))


def eval_preprocessor(params):
  """Returns the evaluation (and prediction and serving) preprocessing.

  Reads preprocessing, image_size, resize_side (paper and caffe) and
  eval_crops.

  Args:
    params: a params dict (params.make_params).

  Returns:
    A function: scalar string Tensor (encoded image) -> float32 Tensor of
    `output_shape(params, False)`. Tutorial: `preprocess_image`, [S, S, 3] in
    [0, 1]. Paper: the central crop [S, S, 3] (eval_crops 1) or `ten_crops`
    [10, S, S, 3] (eval_crops 10) of the central square, 0-255 less MEAN_RGB.
    Caffe: the same crops of the image resized to resize_side x resize_side
    (`caffe_resize`), BGR less MEAN_BGR.

  Raises:
    ValueError: eval_crops 10 with the tutorial preprocessing.
  """
  image_size = params['image_size']
  if params['preprocessing'] == 'tutorial':
    if params['eval_crops'] != 1:
      raise ValueError('eval_crops %r needs preprocessing paper or caffe'
                       % (params['eval_crops'],))
    return lambda image_bytes: preprocess_image(image_bytes, image_size)
  resize_side = params['resize_side']
  ten = params['eval_crops'] == 10
  shape = output_shape(params, is_training=False)
  resize, _, normalise = _SQUARE_RECIPES[params['preprocessing']]

  def preprocess(image_bytes):
    image = resize(image_bytes, resize_side)
    if ten:
      image = ten_crops(image, image_size)
    else:
      image = _central_crop(image, image_size)
    image = normalise(image)
    image.set_shape(shape)
    return image
  return preprocess
