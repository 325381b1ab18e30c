"""Querying an exported model: a loaded-once Predictor, and TF Serving REST.

`Predictor` loads a SavedModel once with TensorFlow's standard loader into a
graph and session of its own, then answers every call from them: image
paths, encoded bytes or pixel arrays, one at a time or in a list. That is what
a notebook wants: `Estimator.predict` rebuilds its graph and restores the
checkpoint on every call.

TF Serving's REST API takes `{"instances": [{"b64": "<base64>"}, ...]}` for a
signature with one string input whose name ends in `_bytes`, as ours
(`image_bytes`) does. `rest_body` writes such a body, and
`Predictor.predict_rest` answers it the way the server does, so the export can
be tried without a server.
"""
import base64
import json
import os

import numpy as np
import tensorflow as tf

from alexnet_estimator import export as export_lib


def rest_body(image_bytes_list):
  """Returns the TF Serving REST request body (str) for encoded images."""
  return json.dumps({'instances': [
      {'b64': base64.b64encode(b).decode('ascii')} for b in image_bytes_list]})


def decode_rest_instances(body):
  """The encoded images of a REST body, decoded as TF Serving does.

  Accepts both `[{"b64": ...}]` and the named form
  `[{"image_bytes": {"b64": ...}}]`.

  Raises:
    ValueError: the body is not of either form.
  """
  instances = json.loads(body).get('instances')
  if not isinstance(instances, list):
    raise ValueError('REST body has no "instances" list')
  images = []
  for instance in instances:
    if isinstance(instance, dict) and export_lib.INPUT_NAME in instance:
      instance = instance[export_lib.INPUT_NAME]
    if not (isinstance(instance, dict) and set(instance) == {'b64'}):
      raise ValueError('each instance must be {"b64": ...}, got %r'
                       % (instance,))
    images.append(base64.b64decode(instance['b64']))
  return images


def find_saved_model(export_dir):
  """The SavedModel folder `export_dir` names.

  Args:
    export_dir: a SavedModel folder, or the folder that `export_saved_model`
      (or `--mode export`) wrote timestamped SavedModels into.

  Returns:
    `export_dir` itself if it holds a SavedModel, else its newest timestamped
    subfolder that does.

  Raises:
    IOError: there is no SavedModel there.
  """
  if tf.saved_model.contains_saved_model(export_dir):
    return export_dir
  stamps = []
  if tf.io.gfile.isdir(export_dir):
    stamps = sorted((int(name.rstrip('/')), name.rstrip('/'))
                    for name in tf.io.gfile.listdir(export_dir)
                    if name.rstrip('/').isdigit())
  for _, name in reversed(stamps):
    path = os.path.join(export_dir, name)
    if tf.saved_model.contains_saved_model(path):
      return path
  raise IOError('%s holds no SavedModel (no saved_model.pb in it or in a '
                'timestamped subfolder)' % export_dir)


def _read_file(path):
  """The bytes of file `path`; IOError with a one-line message naming it."""
  try:
    with open(path, 'rb') as f:
      return f.read()
  except (IOError, OSError) as e:
    raise IOError('cannot read image file %s: %s'
                  % (path, e.strerror or e)) from None


def _to_uint8(array, name):
  """An RGB image array as uint8 [H, W, 3]; ValueError naming `name` if not.

  uint8 is taken as is; other integer types must be in [0, 255]; floats must
  be in [0, 1] and are scaled by 255 and rounded.
  """
  if array.ndim != 3 or array.shape[-1] != 3 or not all(array.shape[:2]):
    raise ValueError('%s: an image array must be RGB [height, width, 3], got '
                     'shape %s' % (name, array.shape))
  if array.dtype == np.uint8:
    return array
  if np.issubdtype(array.dtype, np.floating):
    if not (np.all(np.isfinite(array)) and array.min() >= 0 and
            array.max() <= 1):
      raise ValueError('%s: float pixels must lie in [0, 1] (got [%g, %g]); '
                       'pass 0-255 values as uint8' % (name, array.min(),
                                                       array.max()))
    return np.round(array * 255.0).astype(np.uint8)
  if np.issubdtype(array.dtype, np.integer):
    if array.min() < 0 or array.max() > 255:
      raise ValueError('%s: integer pixels must lie in [0, 255] (got [%d, '
                       '%d])' % (name, array.min(), array.max()))
    return array.astype(np.uint8)
  raise ValueError('%s: an image array must be uint8, integer or float, got '
                   '%s' % (name, array.dtype))


class Predictor(object):
  """Answers images from an exported SavedModel loaded once.

  The SavedModel's own serving signature does the work, so every image gets
  the evaluation preprocessing the model was trained with, exactly as TF
  Serving would give it. In a notebook:

    with alexnet_estimator.Predictor('RUN_EXPORT') as predictor:
      out = predictor.predict(['cat.jpg', 'dog.png'])
      print(out['class_names'], out['probabilities'].max(axis=1))
  """

  def __init__(self, export_dir):
    """Loads the SavedModel.

    Args:
      export_dir: a SavedModel folder, or the folder that `--mode export`
        wrote timestamped ones into (the newest is loaded).

    Raises:
      IOError: no SavedModel there.
      ValueError: its 'serving_default' signature has no `image_bytes` input.
    """
    self._export_dir = find_saved_model(export_dir)
    self._graph = tf.Graph()
    self._session = tf.Session(graph=self._graph)
    try:
      with self._graph.as_default():
        meta = tf.saved_model.loader.load(
            self._session, [tf.saved_model.tag_constants.SERVING],
            self._export_dir)
        signature = meta.signature_def['serving_default']
        if export_lib.INPUT_NAME not in signature.inputs:
          raise ValueError('the serving signature of %s has no %s input'
                           % (self._export_dir, export_lib.INPUT_NAME))
        self._input = signature.inputs[export_lib.INPUT_NAME].name
        self._outputs = {k: v.name for k, v in signature.outputs.items()}
        # Arrays are encoded losslessly to PNG here, so they go through the
        # signature's own decoding and preprocessing like any file.
        self._pixels = tf.placeholder(tf.uint8, [None, None, 3],
                                      name='predictor_pixels')
        self._png = tf.image.encode_png(self._pixels)
      # Nothing is added after loading: every call reuses this graph.
      self._graph.finalize()
    except Exception:
      self._session.close()
      raise
    self._closed = False

  @property
  def export_dir(self):
    """The SavedModel folder loaded (a timestamped one, if found so)."""
    return self._export_dir

  @property
  def graph(self):
    """The tf.Graph the SavedModel was loaded into (finalized)."""
    return self._graph

  @property
  def session(self):
    """The tf.Session that answers every call."""
    return self._session

  def _encoded(self, image, name):
    """Encoded image bytes of one path, bytes object or [H, W, 3] array."""
    if isinstance(image, (bytes, bytearray)):
      return bytes(image)
    if isinstance(image, np.ndarray):
      return self._session.run(self._png,
                               {self._pixels: _to_uint8(image, name)})
    if isinstance(image, str) or hasattr(image, '__fspath__'):
      return _read_file(os.fspath(image))
    raise TypeError('%s: expected a path, encoded bytes or a numpy array, '
                    'got %s' % (name, type(image).__name__))

  def predict(self, images):
    """Predicts the classes of one image or a list of images.

    Args:
      images: one image or a list (or tuple) of them; an image is
        - a path (str or os.PathLike) of an image file (JPEG, PNG, GIF, BMP);
        - a bytes object: the contents of such a file (never a path);
        - a numpy array [height, width, 3], RGB: uint8 in [0, 255], another
          integer type in [0, 255], or float in [0, 1] (as matplotlib shows
          them), which is scaled by 255 and rounded to uint8.
        A numpy array [N, height, width, 3] is a list of N images.
        Arrays are encoded losslessly as PNG, so every image goes through the
        SavedModel's own decoding and evaluation preprocessing.

    Returns:
      A dict of numpy arrays with one row per image, in order, as the
      serving signature gives them: 'classes' int32 [N], 'class_names'
      bytes [N], 'probabilities' float32 [N, num_classes]. N is 1 for a
      single image.

    Raises:
      IOError: a path cannot be read; the message names it.
      ValueError: no images, an array of the wrong shape, type or range, or
        bytes or a file that do not decode as an image; the message names it
        (its path, or its index in `images`).
      TypeError: an image of another type.
      RuntimeError: the Predictor is closed.
    """
    if self._closed:
      raise RuntimeError('this Predictor is closed')
    if isinstance(images, np.ndarray) and images.ndim == 4:
      images = list(images)
    elif not isinstance(images, (list, tuple)):
      images = [images]
    if not images:
      raise ValueError('no images to predict')
    names = [tf.compat.as_str(os.fspath(image))
             if isinstance(image, str) or hasattr(image, '__fspath__')
             else 'image %d (%s)' % (i, type(image).__name__)
             for i, image in enumerate(images)]
    encoded = [self._encoded(image, name)
               for image, name in zip(images, names)]
    try:
      return self._session.run(self._outputs, {self._input: encoded})
    except tf.errors.InvalidArgumentError:
      # A bad image fails the whole batch; find it only on this slow path.
      for data, name in zip(encoded, names):
        try:
          self._session.run(self._outputs, {self._input: [data]})
        except tf.errors.InvalidArgumentError as single:
          raise ValueError('%s is not a decodable image: %s' % (
              name, single.message.splitlines()[0])) from None
      raise

  def predict_rest(self, body):
    """Answers a REST body as TF Serving would: {"predictions": [...]}."""
    out = self.predict(decode_rest_instances(body))
    predictions = []
    for i in range(len(out['classes'])):
      predictions.append({
          'classes': int(out['classes'][i]),
          'class_names': tf.compat.as_str(out['class_names'][i]),
          'probabilities': [float(p) for p in out['probabilities'][i]]})
    return {'predictions': predictions}

  def close(self):
    """Frees the session; later calls raise RuntimeError. Idempotent."""
    if not self._closed:
      self._closed = True
      self._session.close()

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc_value, traceback):
    self.close()
