"""Which input a run uses: an image folder tree, TFRecord shards or synthetic.

`open_data` detects the format of --data_dir and returns a DataSource: the
class names, the counts, and builders of the training, evaluation and scan
input_fns. In a cluster each training task reads only its share: the training
input_fns take the `input_context` (tf.distribute.InputContext) a strategy
across workers gives them (multi_worker_mirrored), and without one read the
share of their cluster task (parameter servers). Both name the same share:
the strategy's input pipeline id is the task's trainer_index.
"""
import collections

import tensorflow as tf

from alexnet_estimator import cluster
from alexnet_estimator import errors
from alexnet_estimator import image_folder
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import tfrecords

# train_input_fn and eval_input_fn: (params, SkippedFiles) -> input_fn;
# scan_input_fn: the same over the training data, one pass, in order (None
# for synthetic data, which has no files).
DataSource = collections.namedtuple('DataSource', [
    'class_names', 'num_train', 'num_validation', 'train_input_fn',
    'eval_input_fn', 'scan_input_fn', 'description'])


def _share(items, task, input_context=None):
  """The part of `items` this input pipeline reads: every n-th of them.

  Args:
    items: a list (files, labels or TFRecord shards).
    task: the cluster.Task, or None on one machine.
    input_context: the tf.distribute.InputContext a strategy passed the
      input_fn, or None. Across workers it names this pipeline; the task then
      is not used again (the data would be split twice).
  """
  if input_context is not None and input_context.num_input_pipelines > 1:
    return list(items)[input_context.input_pipeline_id::
                       input_context.num_input_pipelines]
  return cluster.shard(items, task)


def _training_input_fn(make, items, task):
  """A training input_fn that reads this pipeline's share of `items`.

  Args:
    make: function (share of items) -> input_fn of no arguments.
    items: the whole training set's list, split with _share.
    task: the cluster.Task, or None.

  Returns:
    An input_fn taking an optional `input_context`: Estimator passes one
    under a distribution strategy.
  """
  def _input_fn(input_context=None):
    return make(_share(items, task, input_context))()
  return _input_fn


def _folder_source(data_dir, validation_percent, task=None):
  data = image_folder.find(data_dir, validation_percent)
  if task is not None and 0 < len(data.train.files) < task.num_trainers:
    raise errors.DataError(
        '%s: %d training images cannot be split over %d training tasks'
        % (data_dir, len(data.train.files), task.num_trainers))
  examples = list(zip(data.train.files, data.train.labels))

  def make(share, is_training):
    files, labels = [f for f, _ in share], [l for _, l in share]
    return lambda params, skipped: input_lib.make_input_fn(
        files, labels, is_training, params, skipped)
  return DataSource(
      data.class_names, len(data.train.files), len(data.validation.files),
      lambda params, skipped: _training_input_fn(
          lambda share: make(share, True)(params, skipped), examples, task),
      lambda params, skipped: input_lib.make_input_fn(
          data.validation.files, data.validation.labels, False, params,
          skipped),
      make(cluster.shard(examples, task), False),
      '%s: %d classes, %d training and %d validation files (%s layout)%s' % (
          data_dir, len(data.class_names), len(data.train.files),
          len(data.validation.files), data.layout,
          # Named one by one in image_folder's warnings above.
          '; %d unreadable file(s) or folder(s) left out' % len(
              data.unreadable) if data.unreadable else ''))


def _tfrecord_source(data_dir, label_offset, labels_file, task=None):
  records = tfrecords.describe(data_dir, label_offset, labels_file)
  # In a cluster each training task reads every num_trainers-th shard.
  train_shards = cluster.shard(records.train, task)
  if not train_shards:
    raise errors.TFRecordError(
        '%s: %d training shards cannot be split over %d training tasks; '
        'write at least as many shards as tasks' % (
            data_dir, len(records.train), task.num_trainers))
  def make(shards, is_training):
    return lambda params, skipped: input_lib.make_tfrecord_input_fn(
        shards, is_training, params, skipped, records.label_offset,
        records.schema, records.shard_records)
  return DataSource(
      records.class_names, records.num_train, records.num_validation,
      lambda params, skipped: _training_input_fn(
          lambda share: make(share, True)(params, skipped), records.train,
          task),
      make(records.validation, False), make(train_shards, False),
      '%s: %d classes, %d training records in %d shards, %d validation '
      'records in %d shards (TFRecords, %s layout, label offset %d)' % (
          data_dir, len(records.class_names), records.num_train,
          len(records.train), records.num_validation,
          len(records.validation), records.layout, records.label_offset))


def _synthetic_source(num_classes):
  return DataSource(
      tuple(str(i) for i in range(num_classes)), 0, 0,
      lambda params, skipped: input_lib.make_synthetic_input_fn(params),
      None, None, 'synthetic data: random images, %d classes, no files read'
      % num_classes)


def open_data(data_dir, validation_percent=10.0, label_offset=None,
              labels_file=None, use_synthetic_data=False, num_classes=1000,
              task=None):
  """The run's data: synthetic, TFRecord shards, or an image folder tree.

  The format of `data_dir` is detected: training shards in a layout of
  tfrecords.find_layout (train-*, train/train-*, TFDS' *-train.tfrecord-*)
  mean TFRecords, anything else an image folder tree.

  Args:
    data_dir: the data folder (unused with `use_synthetic_data`).
    validation_percent: image folders without a validation folder: the share
      of each class held out.
    label_offset, labels_file: TFRecords: see tfrecords.describe.
    use_synthetic_data: random in-memory images of `num_classes` classes.
    num_classes: see `use_synthetic_data`.
    task: optional cluster.Task; training reads only this task's share.

  Returns:
    A DataSource.

  Raises:
    errors.DataError: the data cannot be read as any format.
  """
  if use_synthetic_data:
    return _synthetic_source(num_classes)
  if tfrecords.is_tfrecord_dir(data_dir):
    return _tfrecord_source(data_dir, label_offset, labels_file, task)
  return _folder_source(data_dir, validation_percent, task)


def first_batch_exists(input_fn):
  """True if `input_fn`'s dataset yields a batch; it reads only that far."""
  with tf.Graph().as_default():
    batch = tf.compat.v1.data.make_one_shot_iterator(
        input_fn().take(1)).get_next()
    with tf.Session() as sess:
      try:
        sess.run(batch)
        return True
      except tf.errors.OutOfRangeError:
        return False


def check_readable(source, params, skipped, data_dir, split='train'):
  """Raises DataError unless the split has a readable image.

  Training repeats forever: were no image readable, it would spin on skipping
  them; an evaluation would report accuracy 0 of 0 images. Reading up to the
  first good one rules both out.
  """
  if split == 'train':
    input_fn, count = source.scan_input_fn, source.num_train
  else:
    input_fn, count = source.eval_input_fn, source.num_validation
  if input_fn and not first_batch_exists(input_fn(params, skipped)):
    raise errors.DataError('%s: none of its %d %s files is a readable image'
                           % (data_dir, count, {'train': 'training'}.get(
                               split, split)))
