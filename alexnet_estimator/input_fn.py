"""tf.data pipelines: image files -> ({'x': images}, labels) batches.

Every pipeline decodes with `preprocessing.preprocess_image`. A file that cannot
be read or decoded (not an image, truncated, corrupt) is dropped from the
stream, a warning names it once, and `SkippedFiles` counts it: a bad file never
stops or hangs a run.
"""
import threading

from absl import logging
import tensorflow as tf

from alexnet_estimator import preprocessing

_AUTOTUNE = tf.data.experimental.AUTOTUNE


class SkippedFiles(object):
  """Thread-safe record of the files a pipeline dropped, each warned once."""

  def __init__(self):
    self._lock = threading.Lock()
    self._files = []
    self._seen = set()

  def add(self, path):
    """Records `path` (bytes or str); logs a warning the first time."""
    if isinstance(path, bytes):
      path = path.decode('utf-8', 'replace')
    with self._lock:
      if path in self._seen:
        return
      self._seen.add(path)
      self._files.append(path)
    logging.warning('Skipped %s: not a readable JPEG, PNG, GIF or BMP image',
                    path)

  @property
  def files(self):
    with self._lock:
      return list(self._files)

  @property
  def count(self):
    with self._lock:
      return len(self._files)


def _load_or_flag(path, label, image_size):
  """A one-element dataset: (image, label, path, ok).

  tf.data cannot catch a decode error inside `map`; `ignore_errors` on a
  per-file dataset can. If that dataset comes out empty, the appended
  placeholder element (ok=False) carries the path out for reporting.
  """
  def load(p, l):
    image = preprocessing.preprocess_image(tf.io.read_file(p), image_size)
    return image, l, p, tf.constant(True)
  decoded = tf.data.Dataset.from_tensors((path, label)).map(load).apply(
      tf.data.experimental.ignore_errors())
  flagged = tf.data.Dataset.from_tensors(
      (tf.zeros([0, 0, 3]), label, path, tf.constant(False)))
  return decoded.concatenate(flagged).take(1)


def _decoded_files(files, labels, image_size, skipped, is_training):
  """Dataset of (image, label, path) for the files that decode, in order.

  Args:
    files: list of paths; labels: parallel list of int class ids.
  """
  ds = tf.data.Dataset.from_tensor_slices(
      (tf.constant(files, tf.string), tf.constant(labels, tf.int32)))
  if is_training:
    # Shuffle the whole file list (names are small) before repeat: every file
    # is seen once per epoch, in a new order each epoch.
    ds = ds.shuffle(len(files), reshuffle_each_iteration=True).repeat()
  # Parallel and still in input order: each sub-dataset yields one element.
  ds = ds.interleave(lambda p, l: _load_or_flag(p, l, image_size),
                     cycle_length=_AUTOTUNE, block_length=1,
                     num_parallel_calls=_AUTOTUNE)

  def report(path):
    skipped.add(path.numpy())
    return False

  def keep(image, label, path, ok):
    del image, label  # unused
    return tf.cond(ok, lambda: tf.constant(True),
                   lambda: tf.py_function(report, [path], tf.bool))

  def restore_shape(image, label, path):
    image.set_shape([image_size, image_size, 3])
    return image, label, path

  ds = ds.filter(keep).map(lambda i, l, p, ok: restore_shape(i, l, p))
  return ds


def make_input_fn(files, labels, is_training, params, skipped):
  """Returns an input_fn over image files for train or eval.

  Args:
    files: list of image paths.
    labels: list of int class ids, parallel to `files`.
    is_training: Python bool. True: shuffle every epoch, repeat forever, drop
      the last partial batch. False: one pass in order, nothing dropped.
    params: dict with 'batch_size' and 'image_size'.
    skipped: a SkippedFiles that records the files that do not decode.

  Returns:
    A function of no arguments returning a tf.data.Dataset of
    ({'x': float32 [B, S, S, 3]}, int32 [B]) batches.
  """
  files, labels = list(files), list(labels)

  def _input_fn():
    ds = _decoded_files(files, labels, params['image_size'], skipped,
                        is_training)
    ds = ds.map(lambda image, label, path: ({'x': image}, label))
    ds = ds.batch(params['batch_size'], drop_remainder=is_training)
    return ds.prefetch(_AUTOTUNE)
  return _input_fn


def make_predict_input_fn(files, batch_size, image_size, skipped):
  """Returns an input_fn for prediction over `files`, in their order.

  Features are {'x': images, 'file': paths}: model_fn passes 'file' through, so
  every prediction names its file even when an unreadable one was skipped.
  """
  files = list(files)

  def _input_fn():
    ds = _decoded_files(files, [0] * len(files), image_size, skipped,
                        is_training=False)
    ds = ds.map(lambda image, label, path: {'x': image, 'file': path})
    return ds.batch(batch_size).prefetch(_AUTOTUNE)
  return _input_fn


def make_synthetic_input_fn(params):
  """Returns an input_fn of one random batch repeated forever, no files read.

  For tests and throughput runs: it tells an input-bound run from a
  compute-bound one. Labels are in [0, params['num_classes']).
  """
  def _make_batch(_):
    shape = [params['batch_size'], params['image_size'],
             params['image_size'], 3]
    images = tf.random.uniform(shape, seed=1)
    labels = tf.random.uniform([params['batch_size']],
                               maxval=params['num_classes'], dtype=tf.int32,
                               seed=2)
    return {'x': images}, labels

  def _input_fn():
    # Made once inside the dataset and cached: no per-step cost.
    return tf.data.Dataset.range(1).map(_make_batch).cache().repeat()
  return _input_fn
