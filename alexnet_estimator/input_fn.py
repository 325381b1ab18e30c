"""tf.data pipelines: image files -> ({'x': images}, labels) batches.

Every pipeline decodes with the preprocessing of its params:
`preprocessing.train_preprocessor(params)` for training (run as its two
`train_stages`: decode, then the random augmentation in a map of its own),
`preprocessing.eval_preprocessor(params)` for evaluation and prediction (the
tutorial's: `preprocess_for_train` and `preprocess_image`). Images are
[S, S, 3]; evaluation and prediction with params['eval_crops'] 10 give the ten
views of each image, [10, S, S, 3]. A file that cannot be read or decoded (not
an image, truncated, corrupt) is dropped from the stream, a warning names it
once, and `SkippedFiles` counts it: a bad file never stops or hangs a run.
"""
import os
import threading

from absl import logging
import numpy as np
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
    self._reasons = {}
    self._lost = {}  # (shard, record index) -> (records lost, reason)

  def _record(self, name, reason, warning=None):
    """Records `name` (bytes or str) with `reason`, once.

    The first time, logs 'Skipped NAME: `warning`' if a warning is given.
    """
    if isinstance(name, bytes):
      name = name.decode('utf-8', 'replace')
    with self._lock:
      if name in self._seen:
        return
      self._seen.add(name)
      self._files.append(name)
      self._reasons[name] = reason
    if warning:
      logging.warning('Skipped %s: %s', name, warning)

  def add(self, path):
    """Records `path` (bytes or str); logs a warning the first time."""
    self._record(path, 'not a readable image',
                 'not a readable JPEG, PNG, GIF or BMP image')

  def add_listed(self, path, reason):
    """Records `path`, already named with `reason` where it was found."""
    self._record(path, reason)

  def reason(self, path):
    """Why `path` was skipped (what it was recorded with)."""
    with self._lock:
      return self._reasons.get(path, 'not a readable image')

  def __contains__(self, path):
    if isinstance(path, bytes):
      path = path.decode('utf-8', 'replace')
    with self._lock:
      return path in self._seen

  @property
  def files(self):
    with self._lock:
      return list(self._files)

  @property
  def count(self):
    with self._lock:
      return len(self._files)

  def log_total(self, what):
    """Logs how many files of `what` (e.g. 'the training set') were skipped,
    and how many records of damaged shards could not be read."""
    if self.count:
      logging.warning('Skipped %d unreadable file(s) in %s (named above).',
                      self.count, what)
    if self.lost_records:
      logging.warning('Could not read %d record(s) of damaged TFRecord '
                      'shards in %s (named above).', self.lost_records, what)

  def add_record(self, name, reason):
    """Records a record skipped for `reason` (counted as a skipped file).

    Args:
      name: 'SHARD record N' (bytes or str).
      reason: what is wrong with it, e.g. its label is out of range.
    """
    self._record(name, reason, reason)

  def add_lost(self, shard, index, count, reason):
    """Records `count` records of `shard` that could not be read at all.

    A damaged shard (a corrupt record, a truncated file) is named once, at
    the record where the damage starts, however often it is read.

    Args:
      shard: the shard's path.
      index: the index of the first record lost.
      count: records lost there (1 for a corrupt record that is skipped).
      reason: one line naming the shard, the record and what became of the
        rest (tfrecords.describe_damage).
    """
    with self._lock:
      if (shard, index) in self._lost:
        return
      self._lost[(shard, index)] = (count, reason)
    logging.warning('Lost %d record(s): %s.', count, reason)

  @property
  def lost_records(self):
    """Records of damaged shards that could not be read (see add_lost)."""
    with self._lock:
      return sum(count for count, _ in self._lost.values())

  @property
  def lost(self):
    """[(shard, first record index, records lost, reason)], in that order."""
    with self._lock:
      return sorted((shard, index, count, reason) for (shard, index), (
          count, reason) in self._lost.items())


def _load_or_flag(load, image_shape, source, label, name):
  """A one-element dataset: (image, label, name, ok).

  tf.data cannot catch a decode error inside `map`; `ignore_errors` on a
  per-element dataset can. If that dataset comes out empty, the appended
  placeholder element (ok=False, an empty image of the rank of `image_shape`)
  carries `name` out for reporting.
  """
  decoded = tf.data.Dataset.from_tensors((source, label)).map(
      lambda s, l: load(s, l) + (name, tf.constant(True))).apply(
          tf.data.experimental.ignore_errors())
  flagged = tf.data.Dataset.from_tensors(
      (tf.zeros([0] * (len(image_shape) - 1) + [image_shape[-1]]), label,
       name, tf.constant(False)))
  return decoded.concatenate(flagged).take(1)


def _decode_skipping_bad(ds, load, image_shape, skipped, num_parallel_calls,
                         deterministic=True):
  """Maps (source, label, name) to (image, label, name), dropping failures.

  Args:
    ds: dataset of (source, int32 label, string name) elements.
    load: function (source, label) -> (float32 image of `image_shape`, int32
      label) that may raise at run time for bad data.
    image_shape: Python list, the static shape of what `load` gives
      (preprocessing.output_shape, or train_stages' decoded_shape).
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
      lambda s, l, n: _load_or_flag(load, image_shape, s, l, n),
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
    image.set_shape(image_shape)
    return image, label, name

  return ds.filter(keep).map(restore_shape)


def _stages(params, is_training):
  """(decode, its static shape, augment or None) for a pipeline.

  Training decodes where bad files are caught and draws its random crop, flip
  and lighting afterwards, in one map (see preprocessing.train_stages).
  """
  if is_training:
    return preprocessing.train_stages(params)
  return (preprocessing.eval_preprocessor(params),
          preprocessing.output_shape(params, is_training=False), None)


def _augment(ds, augment):
  """Maps `augment` over the images of (image, label, name) elements.

  One map, instantiated once: its random ops keep their state from image to
  image, a new draw for each (in parallel, which image gets which draw is not
  reproducible). The order of the elements is kept.
  """
  if augment is None:
    return ds
  return ds.map(lambda image, label, name: (augment(image), label, name),
                num_parallel_calls=_num_parallel_calls())


def _decoded_files(files, labels, params, skipped, is_training):
  """Dataset of (image, label, path) for the files that decode, in order.

  Args:
    files: list of paths; labels: parallel list of int class ids.
    params: the params dict; its preprocessing keys pick the decoding.
    skipped: SkippedFiles.
    is_training: Python bool: the training preprocessing, a shuffle every
      epoch and repeat forever; else the evaluation preprocessing, one pass.
  """
  ds = tf.data.Dataset.from_tensor_slices(
      (tf.constant(files, tf.string), tf.constant(labels, tf.int32)))
  if is_training:
    # Shuffle the whole file list (names are small): every file is seen once
    # per epoch, in a new order each epoch.
    ds = ds.shuffle(len(files), reshuffle_each_iteration=True)
  # A file found bad is not read again (later epochs, later evaluations, or
  # after the start-up check met it): one warning for it, and no repeat of
  # TensorFlow's own decoder errors.
  ds = ds.filter(lambda path, label: tf.py_func(
      lambda p: p not in skipped, [path], tf.bool, stateful=True))
  ds = ds.map(lambda path, label: (path, label, path))

  decode, shape, augment = _stages(params, is_training)

  def load(path, label):
    return decode(tf.io.read_file(path)), label
  ds = _augment(_decode_skipping_bad(ds, load, shape, skipped,
                                     _num_parallel_calls()), augment)
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
    params: dict (params.make_params); reads batch_size and the
      preprocessing keys (preprocessing, image_size, random_crop,
      resize_side, pca_lighting, eval_crops).
    skipped: a SkippedFiles that records the files that do not decode.

  Returns:
    A function of no arguments returning a tf.data.Dataset of
    ({'x': float32 [B, S, S, 3]}, int32 [B]) batches; evaluation with
    eval_crops 10 gives 'x' [B, 10, S, S, 3].
  """
  files, labels = list(files), list(labels)

  def _input_fn():
    ds = _decoded_files(files, labels, params, skipped, is_training)
    ds = ds.map(lambda image, label, path: ({'x': image}, label))
    ds = ds.batch(params['batch_size'], drop_remainder=is_training)
    return ds.prefetch(_AUTOTUNE)
  return _input_fn


def make_predict_input_fn(files, params, skipped):
  """Returns an input_fn for prediction over `files`, in their order.

  Features are {'x': images, 'file': paths}: model_fn passes 'file' through, so
  every prediction names its file even when an unreadable one was skipped.
  Images get the evaluation preprocessing of `params`, as the model was
  evaluated: 'x' is float32 [B, S, S, 3], or [B, 10, S, S, 3] with eval_crops
  10.

  Args:
    files: list of image paths.
    params: dict (params.make_params); reads batch_size and the evaluation
      preprocessing keys (preprocessing, image_size, resize_side, eval_crops).
    skipped: a SkippedFiles that records the files that do not decode.

  Returns:
    A function of no arguments returning a tf.data.Dataset of feature dicts.
  """
  files = list(files)

  def _input_fn():
    ds = _decoded_files(files, [0] * len(files), params, skipped,
                        is_training=False)
    ds = ds.map(lambda image, label, path: {'x': image, 'file': path})
    return ds.batch(params['batch_size']).prefetch(_AUTOTUNE)
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


def _parse_record(record, decode, label_offset, params,
                  schema=tfrecords.IMAGENET_SCHEMA):
  """A tf.train.Example of `schema` -> (image, int32 class id).

  `decode`: encoded image -> image, the first stage of `_stages`. The class
  id is the stored label less `label_offset`, not checked here: a record
  whose class id is not in [0, params['num_classes']) is skipped and named
  by `_check_labels`, with that reason.
  """
  del params  # the classes are checked after decoding
  parsed = tf.io.parse_single_example(record, tfrecords.features(schema))
  image = decode(parsed[schema.image])
  label = tf.cast(parsed[schema.label] - label_offset, tf.int32)
  return image, label


def _check_labels(ds, num_classes, label_offset, skipped):
  """Drops (image, label, name) elements whose class id is out of range."""
  def report(name, label):
    skipped.add_record(name, 'its label %d is not one of the %d classes '
                       '(stored labels %d..%d; see --label_offset and '
                       '--labels_file)' % (label + label_offset, num_classes,
                                           label_offset,
                                           label_offset + num_classes - 1))
    return False

  def keep(image, label, name):
    del image  # unused
    return tf.cond((label >= 0) & (label < num_classes),
                   lambda: tf.constant(True),
                   lambda: tf.py_func(report, [name, label], tf.bool,
                                      stateful=True))
  return ds.filter(keep)


def _lost_count(damage, expected):
  """Records lost at `damage`: 1 for a corrupt record that is skipped; the
  rest of the shard by its known count (at least 1) when reading stops."""
  if damage.kind == tfrecords.CORRUPT_RECORD or expected is None:
    return 1
  return max(1, expected - damage.index)


def _read_on(shard, index, offset, skipped, shard_records):
  """The records of `shard` from record `index` (byte `offset`) on, in Python.

  Returns:
    (object array of records, int64 array of their indices); empty when the
    shard ended there. Damage is counted in `skipped`, named once.
  """
  path = tf.compat.as_str_any(shard)
  try:
    size = tf.io.gfile.stat(path).length
  except tf.errors.OpError:
    size = None  # read_records names it
  records, indices = [], []
  if size is None or offset < size:
    for i, record, damage in tfrecords.read_records(path, offset, index):
      if damage is None:
        records.append(record)
        indices.append(i)
      else:
        skipped.add_lost(path, damage.index, _lost_count(
            damage, shard_records.get(path)), tfrecords.describe_damage(damage))
  return (np.array(records, dtype=object).reshape([-1]),
          np.array(indices, dtype=np.int64).reshape([-1]))


# Called from interleave's function, which autograph converts with all it
# calls: this builds graph functions itself and hands read_on to py_func as
# plain Python.
@tf.autograph.experimental.do_not_convert
def _named_records(shard, skipped=None, shard_records=None):
  """(record, 'SHARD record N') for every record of `shard` that reads.

  tf.data's TFRecordDataset reads the shard natively, as fast as ever, up to
  the first damage (it cannot skip a record and read on: it ends the shard,
  silently, and a truncated header looks like its end). A scan adds up the
  records' bytes on the way, so where it stopped is known; at the end of the
  stream (a sentinel element) `_read_on` reads the rest in Python as the
  framing allows (a corrupt record skipped, a broken length header the end),
  counting and naming what is lost. It costs one stat of the file for a whole
  shard; a damaged shard's rest is held in memory once.

  Args:
    shard: string scalar Tensor, the shard's path.
    skipped: SkippedFiles that counts lost records (None: a throwaway one).
    shard_records: optional {path: records in the shard}, to count what a
      truncated or broken shard loses.
  """
  skipped = SkippedFiles() if skipped is None else skipped
  shard_records = shard_records or {}
  fast = tf.data.TFRecordDataset(shard).apply(
      tf.data.experimental.ignore_errors()).apply(
          tf.data.experimental.enumerate_dataset())
  end = tf.data.Dataset.from_tensors((tf.constant(-1, tf.int64),
                                      tf.constant('')))

  def read_on(path, index, offset):
    return _read_on(path, int(index), int(offset), skipped, shard_records)

  # One function per record (the scan), as the plain enumerate + map was.
  def step(state, element):
    count, offset = state  # records read so far, and their bytes
    index, record = element
    real = index >= 0  # else the sentinel: the fast reader has ended
    records, indices = tf.cond(
        real, lambda: (tf.reshape(record, [1]), tf.reshape(index, [1])),
        lambda: tuple(tf.py_func(read_on, [shard, count, offset],
                                 [tf.string, tf.int64], stateful=True)))
    records.set_shape([None])
    indices.set_shape([None])
    names = tf.strings.join([shard, ' record ',
                             tf.strings.as_string(indices)])
    # With its framing: uint64 length, two uint32 checksums.
    size = tf.cast(tf.strings.length(record), tf.int64) + 16
    return (count + 1, offset + size), (records, names)

  zero = tf.constant(0, tf.int64)
  return fast.concatenate(end).apply(tf.data.experimental.scan(
      (zero, zero), step)).apply(tf.data.experimental.unbatch())


def make_tfrecord_input_fn(shards, is_training, params, skipped,
                           label_offset=tfrecords.DEFAULT_LABEL_OFFSET,
                           schema=tfrecords.IMAGENET_SCHEMA,
                           shard_records=None):
  """Returns an input_fn over TFRecord shards (tfrecords.py's layouts).

  Training: shard order shuffled each epoch, shards read in parallel
  (interleaved), an optional in-memory cache of the records, a record shuffle
  buffer before repeat, parallel decoding, batches of a fixed size, prefetch.
  Evaluation: every record once, in order, the last batch kept.

  Nothing a shard holds stops a run: a record that does not decode, or whose
  label is not one of the classes, is skipped and named ('SHARD record N');
  a damaged shard is read as its framing allows and the records it loses are
  counted (`skipped.lost_records`) and named once.

  Args:
    shards: list of TFRecord paths.
    is_training: Python bool.
    params: dict; reads batch_size, num_classes, shuffle_buffer,
      cache_input, sloppy_input, datasets_num_private_threads and the
      preprocessing keys (preprocessing, image_size, random_crop,
      resize_side, pca_lighting, eval_crops).
    skipped: a SkippedFiles that records the records that do not decode and
      those that are lost.
    label_offset: stored label of class id 0 (1 for ImageNet's builders, 0
      for TFDS).
    schema: tfrecords.Schema, the records' feature keys.
    shard_records: optional {shard path: records it holds}, to count what a
      truncated shard loses.

  Returns:
    An input_fn taking an optional tf.distribute.InputContext: each input
    pipeline then reads its own subset of the shards.
  """
  shards = list(shards)
  shard_records = dict(shard_records or {})
  deterministic = not params['sloppy_input']

  def _input_fn(input_context=None):
    files = tf.data.Dataset.from_tensor_slices(tf.constant(shards))
    if input_context is not None and input_context.num_input_pipelines > 1:
      files = files.shard(input_context.num_input_pipelines,
                          input_context.input_pipeline_id)
    if is_training:
      files = files.shuffle(len(shards), reshuffle_each_iteration=True)
    ds = files.apply(tf.data.experimental.parallel_interleave(
        lambda shard: _named_records(shard, skipped, shard_records),
        cycle_length=min(len(shards), 10), sloppy=not deterministic))
    if params['cache_input']:
      ds = ds.cache()
    if is_training:
      # Shuffle before repeat: each record once per epoch.
      ds = ds.shuffle(params['shuffle_buffer'],
                      reshuffle_each_iteration=True).repeat()
    ds = ds.map(lambda record, name: (record, tf.constant(0), name))

    decode, shape, augment = _stages(params, is_training)

    def load(record, unused_label):
      return _parse_record(record, decode, label_offset, params, schema)
    ds = _decode_skipping_bad(ds, load, shape, skipped, _num_parallel_calls(),
                              deterministic)
    ds = _augment(_check_labels(ds, params['num_classes'], label_offset,
                                skipped), augment)
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
