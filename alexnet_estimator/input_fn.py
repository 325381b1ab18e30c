"""tf.data pipelines: image files -> ({'x': images}, labels) batches.

Every pipeline decodes with `preprocessing.preprocess_image`. A file that cannot
be read or decoded (not an image, truncated, corrupt) is dropped from the
stream, a warning names it once, and `SkippedFiles` counts it: a bad file never
stops or hangs a run.
"""
import os
import threading

from absl import logging
import tensorflow as tf

from alexnet_estimator import preprocessing
from alexnet_estimator import tfrecords

_AUTOTUNE = tf.data.experimental.AUTOTUNE


def _num_parallel_calls():
  """Images in flight: four per core keeps every core busy between waits."""
  return 4 * (os.cpu_count() or 1)


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


def _load_or_flag(load, source, label, name):
  """A one-element dataset: (image, label, name, ok).

  tf.data cannot catch a decode error inside `map`; `ignore_errors` on a
  per-element dataset can. If that dataset comes out empty, the appended
  placeholder element (ok=False) carries `name` out for reporting.
  """
  decoded = tf.data.Dataset.from_tensors((source, label)).map(
      lambda s, l: load(s, l) + (name, tf.constant(True))).apply(
          tf.data.experimental.ignore_errors())
  flagged = tf.data.Dataset.from_tensors(
      (tf.zeros([0, 0, 3]), label, name, tf.constant(False)))
  return decoded.concatenate(flagged).take(1)


def _decode_skipping_bad(ds, load, image_size, skipped, num_parallel_calls,
                         deterministic=True):
  """Maps (source, label, name) to (image, label, name), dropping failures.

  Args:
    ds: dataset of (source, int32 label, string name) elements.
    load: function (source, label) -> (float32 image [S, S, 3], int32 label)
      that may raise at run time for bad data.
    image_size: S.
    skipped: SkippedFiles; gets the name of every element that fails.
    num_parallel_calls: Python int, loads run in parallel.
    deterministic: keep the input order (False lets fast elements overtake).
  """
  # Parallel and, with block_length 1 and sloppy=False, in input order: each
  # sub-dataset yields exactly one element. The experimental
  # parallel_interleave, not Dataset.interleave(num_parallel_calls=...):
  # TF 1.15's parallel Dataset.interleave segfaults now and then when an
  # endless pipeline is torn down (seen here in about 1 run in 10).
  ds = ds.apply(tf.data.experimental.parallel_interleave(
      lambda s, l, n: _load_or_flag(load, s, l, n),
      cycle_length=num_parallel_calls, block_length=1,
      sloppy=not deterministic))

  def report(name):
    skipped.add(name)
    return False

  def keep(image, label, name, ok):
    del image, label  # unused
    return tf.cond(ok, lambda: tf.constant(True),
                   lambda: tf.py_func(report, [name], tf.bool,
                                      stateful=True))

  def restore_shape(image, label, name, ok):
    del ok  # always True here
    image.set_shape([image_size, image_size, 3])
    return image, label, name

  return ds.filter(keep).map(restore_shape)


def _decoded_files(files, labels, image_size, skipped, is_training):
  """Dataset of (image, label, path) for the files that decode, in order.

  Args:
    files: list of paths; labels: parallel list of int class ids.
  """
  ds = tf.data.Dataset.from_tensor_slices(
      (tf.constant(files, tf.string), tf.constant(labels, tf.int32)))
  if is_training:
    # Shuffle the whole file list (names are small): every file is seen once
    # per epoch, in a new order each epoch.
    ds = ds.shuffle(len(files), reshuffle_each_iteration=True)
  ds = ds.map(lambda path, label: (path, label, path))

  def load(path, label):
    return (preprocessing.preprocess_image(tf.io.read_file(path), image_size),
            label)
  ds = _decode_skipping_bad(ds, load, image_size, skipped,
                            _num_parallel_calls())
  # Repeat after skipping: if no file decodes, an epoch is empty and repeat()
  # ends the input instead of spinning forever on skipped files.
  return ds.repeat() if is_training else ds


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


def _parse_record(record, image_size, label_offset, is_training, params):
  """A tf.train.Example of the ImageNet layout -> (image, int32 class id)."""
  features = tf.io.parse_single_example(record, tfrecords.FEATURES)
  if is_training:
    image = preprocessing.preprocess_for_train(
        features['image/encoded'], image_size, params['random_crop'])
  else:
    image = preprocessing.preprocess_image(features['image/encoded'],
                                           image_size)
  label = tf.cast(features['image/class/label'] - label_offset, tf.int32)
  # An out-of-range label fails here and the record is skipped, named.
  with tf.control_dependencies([tf.debugging.assert_greater_equal(label, 0),
                                tf.debugging.assert_less(
                                    label, params['num_classes'])]):
    return tf.identity(image), label


def _named_records(shard):
  """(record, 'SHARD record N') pairs; a truncated shard ends where it breaks."""
  records = tf.data.TFRecordDataset(shard).apply(
      tf.data.experimental.ignore_errors())
  return records.apply(tf.data.experimental.enumerate_dataset()).map(
      lambda i, r: (r, tf.strings.join([shard, ' record ',
                                        tf.strings.as_string(i)])))


def make_tfrecord_input_fn(shards, is_training, params, skipped,
                           label_offset=tfrecords.DEFAULT_LABEL_OFFSET):
  """Returns an input_fn over ImageNet-style TFRecord shards.

  Training: shard order shuffled each epoch, shards read in parallel
  (interleaved), an optional in-memory cache of the records, a record shuffle
  buffer before repeat, parallel decoding, batches of a fixed size, prefetch.
  Evaluation: every record once, in order, the last batch kept.

  Args:
    shards: list of TFRecord paths.
    is_training: Python bool.
    params: dict; reads batch_size, image_size, num_classes, random_crop,
      shuffle_buffer, cache_input, sloppy_input and
      datasets_num_private_threads.
    skipped: a SkippedFiles that records the records that do not decode.
    label_offset: stored label of class id 0 (1 for ImageNet's builders).

  Returns:
    An input_fn taking an optional tf.distribute.InputContext: each input
    pipeline then reads its own subset of the shards.
  """
  shards = list(shards)
  deterministic = not params['sloppy_input']

  def _input_fn(input_context=None):
    files = tf.data.Dataset.from_tensor_slices(tf.constant(shards))
    if input_context is not None and input_context.num_input_pipelines > 1:
      files = files.shard(input_context.num_input_pipelines,
                          input_context.input_pipeline_id)
    if is_training:
      files = files.shuffle(len(shards), reshuffle_each_iteration=True)
    ds = files.apply(tf.data.experimental.parallel_interleave(
        _named_records, cycle_length=min(len(shards), 10),
        sloppy=not deterministic))
    if params['cache_input']:
      ds = ds.cache()
    if is_training:
      # Shuffle before repeat: each record once per epoch.
      ds = ds.shuffle(params['shuffle_buffer'],
                      reshuffle_each_iteration=True).repeat()
    ds = ds.map(lambda record, name: (record, tf.constant(0), name))

    def load(record, unused_label):
      return _parse_record(record, params['image_size'], label_offset,
                           is_training, params)
    ds = _decode_skipping_bad(ds, load, params['image_size'], skipped,
                              _num_parallel_calls(), deterministic)
    ds = ds.map(lambda image, label, name: ({'x': image}, label))
    ds = ds.batch(params['batch_size'], drop_remainder=is_training)
    ds = ds.prefetch(_AUTOTUNE)
    if params['datasets_num_private_threads']:
      options = tf.data.Options()
      options.experimental_threading.private_threadpool_size = (
          params['datasets_num_private_threads'])
      ds = ds.with_options(options)
    return ds
  return _input_fn
