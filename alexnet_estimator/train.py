r"""Trains, evaluates, predicts with and exports AlexNet on tf.estimator.

  python -m alexnet_estimator.train --data_dir DATA --model_dir RUN
  python -m alexnet_estimator.train --mode eval --data_dir DATA --model_dir RUN
  python -m alexnet_estimator.train --mode predict --model_dir RUN IMAGE_OR_DIR...
  python -m alexnet_estimator.train --mode export --model_dir RUN --export_dir OUT

DATA is a class-per-folder image tree: DATA/train/<class>/* with
DATA/validation/<class>/* (or val/), or DATA/<class>/* split deterministically.
--recipe paper trains as Krizhevsky et al. 2012 did instead of as the tutorial
does (grouped convs, paper LRN, momentum, weight decay, plateau schedule, paper
augmentation, 10-crop evaluation); the flags after --recipe change single
pieces. --warm_start_from fine-tunes a trained run for new classes.
--num_gpus/--distribution_strategy spread training over devices; with
TF_CONFIG (or --worker_hosts, --ps_hosts, --task_type, --task_index) the
process is one task of a cluster (scripts/local_cluster.py starts one here).
--mode eval prints its metrics as one JSON object on the last line of stdout;
--mode predict prints one JSON object per image; --mode export prints the
SavedModel's path. Rerunning a training run resumes from its last checkpoint.
"""
from __future__ import print_function

import collections
import json
import logging as logging_lib
import math
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # hide C++ start-up INFO

# pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
import tensorflow as tf

from alexnet_estimator import cli
from alexnet_estimator import cluster
from alexnet_estimator import distribution
from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import export as export_lib
from alexnet_estimator import hooks as hooks_lib
from alexnet_estimator import image_folder
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import schedule
from alexnet_estimator import tfrecords

MODES = ('train', 'eval', 'train_and_eval', 'predict', 'export')
# Images drawn by --gallery.
GALLERY_IMAGES = 32

FLAGS = flags.FLAGS
flags.DEFINE_string('data_dir', None, 'Image folder tree (see above). Needed '
                    'by train, eval and train_and_eval.')
flags.DEFINE_string('model_dir', None, 'Folder of the run: checkpoints, '
                    'TensorBoard summaries and the model description.')
flags.DEFINE_enum('mode', 'train_and_eval', MODES, 'What to do.')
flags.DEFINE_string('export_dir', None, 'With --mode export (or after '
                    'training, if set): folder to write a timestamped '
                    'SavedModel into.')
flags.DEFINE_string('gallery', None, 'With --mode predict: also write a PNG '
                    'of the first %d images with their top-5 classes '
                    '(needs matplotlib, the [plots] extra).' % GALLERY_IMAGES)
flags.DEFINE_integer('train_epochs', 10, 'Epochs to train for, counted from '
                     'step 0 of the run.')
flags.DEFINE_integer('max_train_steps', None, 'If set, stop training at this '
                     'global step even if --train_epochs asks for more.')
flags.DEFINE_integer('epochs_between_evals', 1, 'With train_and_eval: '
                     'epochs of training between evaluations.')
flags.DEFINE_integer('steps_between_evals', None, 'With train_and_eval: '
                     'steps between evaluations (instead of '
                     '--epochs_between_evals). In a cluster the evaluator '
                     'evaluates each checkpoint, so this sets the checkpoint '
                     'cadence too.')
flags.DEFINE_float('validation_percent', 10.0, 'Share of each class held out '
                   'for validation when --data_dir has no validation folder.')
flags.DEFINE_integer('save_checkpoints_steps', None, 'Checkpoint every this '
                     'many steps (default: every 10 minutes and at the end).')
flags.DEFINE_integer('log_every_n_steps', 10, 'Log progress and write '
                     'summaries every this many steps.')
flags.DEFINE_integer('label_offset', None, 'TFRecords: the stored label of '
                     'class id 0 (default: dataset_info.json\'s, else 1, as '
                     'ImageNet\'s builders store labels 1..1000).')
flags.DEFINE_string('labels_file', None, 'TFRecords: class names, one per '
                    'line, in label order (default: dataset_info.json, else '
                    'the records\' synsets).')
flags.DEFINE_boolean('use_synthetic_data', False, 'Train on in-memory random '
                     'images, reading no files: tells an input-bound run from '
                     'a compute-bound one. Needs --max_train_steps.')
flags.DEFINE_integer('num_classes', 1000, 'With --use_synthetic_data: the '
                     'number of classes.')
# Hyper-parameters: None keeps params.DEFAULTS (or the model's own settings).
flags.DEFINE_integer('batch_size', None, 'Global batch size (default %d).'
                     % params_lib.DEFAULTS['batch_size'])
flags.DEFINE_float('learning_rate', None, 'Learning rate (default %g, the '
                   'tutorial\'s).' % params_lib.DEFAULTS['learning_rate'])
flags.DEFINE_enum('optimizer', None, params_lib.OPTIMIZERS, 'sgd is the '
                  'tutorial\'s GradientDescentOptimizer (default); momentum '
                  'uses --momentum; adam is AdamOptimizer.')
flags.DEFINE_float('momentum', None, 'Momentum for --optimizer momentum '
                   '(default %g).' % params_lib.DEFAULTS['momentum'])
flags.DEFINE_float('dropout_rate', None, 'Dropout rate after dense1 and '
                   'dense2 (default %g).' % params_lib.DEFAULTS['dropout_rate'])
flags.DEFINE_integer('image_size', None, 'Side images are resized to '
                     '(default %d; at least %d).' % (
                         params_lib.DEFAULTS['image_size'],
                         params_lib.MIN_IMAGE_SIZE))
flags.DEFINE_enum('data_format', None, params_lib.DATA_FORMATS, 'Layout of '
                  'the convolutions; default channels_first when a GPU is '
                  'present, else channels_last. Exports are always NHWC.')

flags.DEFINE_boolean('random_crop', None, 'Train on random crops (area '
                     '8-100%%, fused JPEG decode) instead of whole images.')
flags.DEFINE_integer('shuffle_buffer', None, 'TFRecords: records in the '
                     'shuffle buffer (default %d).'
                     % params_lib.DEFAULTS['shuffle_buffer'])
flags.DEFINE_boolean('cache_input', None, 'TFRecords: keep the records in '
                     'memory after the first epoch (small data sets).')
flags.DEFINE_boolean('sloppy_input', None, 'Let fast images overtake slow '
                     'ones in the input: faster, order not reproducible.')
flags.DEFINE_integer('datasets_num_private_threads', None, 'Threads of '
                     'tf.data\'s own pool (default: share TensorFlow\'s).')
flags.DEFINE_enum('dtype', None, params_lib.DTYPES, 'fp16: automatic mixed '
                  'precision in training (graph rewrite, dynamic loss '
                  'scaling; GPUs only gain from it). Default fp32.')

# Devices (see distribution.py).
flags.DEFINE_integer('num_gpus', None, 'GPUs to use (default: all that '
                     'TensorFlow sees; 0 for the CPU).')
flags.DEFINE_enum('distribution_strategy', 'default', distribution.STRATEGIES,
                  'default: one device, or MirroredStrategy over --num_gpus > '
                  '1; off: no strategy; one_device: OneDeviceStrategy; '
                  'mirrored: MirroredStrategy (over --virtual_cpus CPU devices '
                  'without GPUs). --batch_size is global.')
flags.DEFINE_integer('virtual_cpus', 1, 'With --distribution_strategy '
                     'mirrored and no GPU: split the CPU into this many '
                     'devices (tries the multi-device path without GPUs).')
flags.DEFINE_boolean('enable_xla', False, 'Compile the graph with XLA\'s JIT '
                     '(on GPUs; on a CPU TensorFlow also needs '
                     'TF_XLA_FLAGS=--tf_xla_cpu_global_jit).')
flags.DEFINE_enum('tf_gpu_thread_mode', 'global',
                  distribution.GPU_THREAD_MODES, 'gpu_private: each GPU gets '
                  'its own kernel-launch threads (TF_GPU_THREAD_MODE).')

# Several machines (see cluster.py). TF_CONFIG in the environment works too.
flags.DEFINE_list('worker_hosts', None, 'host:port of each training task; the '
                  'first is the chief. With --ps_hosts, --task_type and '
                  '--task_index these write TF_CONFIG.')
flags.DEFINE_list('ps_hosts', [], 'host:port of each parameter server.')
flags.DEFINE_enum('task_type', None, ('worker', 'chief', 'ps', 'evaluator'),
                  'This process\'s task: worker (worker 0 is the chief), ps '
                  'or evaluator.')
flags.DEFINE_integer('task_index', 0, 'Index into --worker_hosts or '
                     '--ps_hosts.')

# The recipe and its pieces (issue: the paper's recipe beside the tutorial's).
_PAPER = params_lib.RECIPES['paper']
flags.DEFINE_enum('recipe', None, params_lib.RECIPE_NAMES, 'tutorial '
                  '(default): the tutorial\'s network and training. paper: '
                  'Krizhevsky et al. 2012 (%s). The flags below override '
                  'single pieces.' % ', '.join(
                      '%s=%s' % kv for kv in sorted(_PAPER.items())))
flags.DEFINE_enum('lrn_convention', None, params_lib.LRN_CONVENTIONS,
                  'LRN after conv1 and conv2: tutorial (radius 5, bias 2), '
                  'paper (n=5: radius 2, k=2, alpha 1e-4), caffe (radius 2, '
                  'k=1, alpha 1e-4/5) or none.')
flags.DEFINE_integer('conv_groups', None, '1, or 2 to split conv2, conv4 and '
                     'conv5 in two groups as on the paper\'s two GPUs.')
flags.DEFINE_enum('init', None, params_lib.INITS, 'Initialisation: tutorial '
                  '(Glorot, zero biases), paper (N(0, 0.01), biases 1 in '
                  'conv2/4/5 and dense1/2) or caffe (biases 0.1 there).')
flags.DEFINE_float('weight_decay', None, 'L2 weight decay factor (paper: '
                   '5e-4; default 0).')
flags.DEFINE_boolean('decay_biases', None, 'Apply weight decay to the biases '
                     'too (default); --nodecay_biases exempts them.')
flags.DEFINE_enum('lr_schedule', None, params_lib.LR_SCHEDULES, 'constant '
                  '(default); plateau: x --lr_decay_factor when validation '
                  'accuracy stops improving (train_and_eval only); step: x '
                  '--lr_decay_factor every --lr_decay_epochs epochs.')
flags.DEFINE_float('lr_decay_factor', None, 'Rate multiplier of a drop '
                   '(default 0.1).')
flags.DEFINE_float('lr_decay_epochs', None, 'Step schedule: epochs between '
                   'drops (default 30).')
flags.DEFINE_integer('plateau_patience', None, 'Plateau schedule: '
                     'evaluations without a better accuracy before a drop '
                     '(default 2).')
flags.DEFINE_integer('max_lr_drops', None, 'Plateau schedule: at most this '
                     'many drops (default 3, as in the paper).')
flags.DEFINE_float('warmup_epochs', None, 'Linear warm-up of the rate over '
                   'this many epochs (default 0).')
flags.DEFINE_integer('early_stopping_patience', None, 'Stop after this many '
                     'evaluations without a better validation accuracy '
                     '(with the plateau schedule: once no drop is left); '
                     'default 0, never.')
flags.DEFINE_enum('preprocessing', None, params_lib.PREPROCESSINGS,
                  'tutorial (default): resize whole images, values in [0, 1]. '
                  'paper: short side to --resize_side, centre square, random '
                  'crop and flip in training, mean subtracted.')
flags.DEFINE_integer('resize_side', None, 'Paper preprocessing: side the '
                     'short side is resized to (default 256).')
flags.DEFINE_float('pca_lighting', None, 'Std-dev of the paper\'s PCA '
                   'colour lighting in training (paper: 0.1; default 0).')
flags.DEFINE_integer('eval_crops', None, 'Views per image in evaluation, '
                     'prediction and the export: 1 (centre) or 10 (corners, '
                     'centre and mirrors, softmax averaged; paper '
                     'preprocessing).')
flags.DEFINE_string('warm_start_from', None, 'Checkpoint or model_dir to '
                    'initialise every layer but logits from (fine-tuning '
                    'for new classes). Refused if --model_dir already has '
                    'checkpoints, unless --resume.')
flags.DEFINE_boolean('resume', False, 'With --warm_start_from: --model_dir '
                     'already has checkpoints; continue from them and ignore '
                     '--warm_start_from.')

_HYPER_PARAMETER_FLAGS = ('batch_size', 'learning_rate', 'optimizer',
                          'momentum', 'dropout_rate', 'image_size',
                          'data_format', 'random_crop', 'shuffle_buffer',
                          'cache_input', 'sloppy_input',
                          'datasets_num_private_threads', 'recipe',
                          'lrn_convention', 'conv_groups', 'init',
                          'weight_decay', 'decay_biases', 'lr_schedule',
                          'lr_decay_factor', 'lr_decay_epochs',
                          'plateau_patience', 'max_lr_drops', 'warmup_epochs',
                          'early_stopping_patience', 'preprocessing',
                          'resize_side', 'pca_lighting', 'eval_crops',
                          'dtype')


class UsageError(ValueError):
  """A flag is missing or wrong; the message names it."""


def _positive(name, value):
  if value is not None and value < 1:
    raise UsageError('--%s must be >= 1, got %d' % (name, value))


def check_flags(mode, data_dir, model_dir, export_dir, predict_paths,
                counts, use_synthetic_data=False, gallery=None):
  """Raises UsageError for a flag combination that cannot work.

  Args:
    mode: one of MODES.
    data_dir, model_dir, export_dir: the flags' values.
    predict_paths: positional arguments.
    counts: dict of integer flags that must be >= 1 when set.
  """
  if not model_dir:
    raise UsageError('--model_dir is required')
  if (mode in ('train', 'eval', 'train_and_eval') and not data_dir and
      not use_synthetic_data):
    raise UsageError('--data_dir is required with --mode %s' % mode)
  if mode == 'export' and not export_dir:
    raise UsageError('--export_dir is required with --mode export')
  if mode == 'predict' and not predict_paths:
    raise UsageError('--mode predict needs image files or folders as '
                     'arguments')
  if mode != 'predict' and gallery:
    raise UsageError('--gallery goes with --mode predict')
  if mode != 'predict' and predict_paths:
    raise UsageError('unexpected argument %r (only --mode predict takes '
                     'paths)' % predict_paths[0])
  for name, value in sorted(counts.items()):
    _positive(name, value)


def _resolve_params(overrides, model_dir, class_names=None, num_train=0,
                    num_gpus=None):
  """Full params for this run: flags, then the model's description, defaults.

  Raises:
    UsageError: a hyper-parameter flag is out of range (named as the flag).
  """
  overrides = dict(overrides)
  if class_names is not None:  # the data's classes; check_compatible compares
    overrides['class_names'] = list(class_names)
    overrides['num_classes'] = len(class_names)
  overrides = estimator_lib.with_model_info(model_dir, overrides)
  if overrides.get('data_format') is None:  # NCHW when training on GPUs
    if num_gpus is None:
      num_gpus = distribution.visible_gpus()
    overrides['data_format'] = ('channels_first' if num_gpus
                                else 'channels_last')
  try:
    params = params_lib.make_params(overrides)
    if num_train:
      params = params_lib.make_params(params, steps_per_epoch=int(math.ceil(
          num_train / float(params['batch_size']))))
    return params
  except params_lib.ParamError as e:
    raise UsageError('--%s %s' % (e.key, e.message))


def _warm_start(warm_start_from, model_dir, params, resume):
  """WarmStartSettings for every layer but logits, or None.

  Raises:
    UsageError: model_dir already has checkpoints (warm start would be
      ignored) and `resume` is False, or there is no checkpoint to start from.
    estimator.ModelDirError: the checkpoint holds another network.
  """
  if not warm_start_from:
    return None
  if tf.train.latest_checkpoint(model_dir) is not None:
    if not resume:
      raise UsageError(
          '--warm_start_from: --model_dir %s already has checkpoints, so the '
          'warm start would be ignored; pass --resume to continue that run, '
          'or use a new --model_dir' % model_dir)
    logging.info('Resuming %s; --warm_start_from is ignored.', model_dir)
    return None
  checkpoint = warm_start_from
  if tf.io.gfile.isdir(warm_start_from):
    checkpoint = tf.train.latest_checkpoint(warm_start_from)
  if not checkpoint or not tf.io.gfile.glob(checkpoint + '.index'):
    raise UsageError('--warm_start_from %s: no checkpoint there'
                     % warm_start_from)
  estimator_lib.check_checkpoint(checkpoint, params, 'it cannot warm-start '
                                 'this network', ignore_prefix='logits/')
  logging.info('Warm-starting every layer but logits from %s.', checkpoint)
  return tf.estimator.WarmStartSettings(checkpoint,
                                        vars_to_warm_start='^(?!logits/).*')


def _make_estimator(model_dir, params, save_checkpoints_steps,
                    log_every_n_steps, warm_start=None,
                    devices=distribution.SINGLE_DEVICE):
  """An Estimator; `devices` (distribution.Devices) place its training."""
  config = estimator_lib.make_run_config(
      model_dir, save_checkpoints_steps=save_checkpoints_steps,
      log_every_n_steps=log_every_n_steps,
      train_distribute=devices.strategy, enable_xla=devices.enable_xla,
      virtual_cpus=devices.virtual_cpus)
  return tf.estimator.Estimator(model_fn=model_fn_lib.model_fn,
                                params=params, config=config,
                                warm_start_from=warm_start)


def _train_steps(num_train, params, train_epochs, max_train_steps):
  """The last step: epochs' worth of batches, capped at max_train_steps."""
  if not num_train:  # synthetic data has no epochs
    return max_train_steps
  steps = max(1, int(math.ceil(train_epochs * num_train /
                               float(params['batch_size']))))
  return min(steps, max_train_steps) if max_train_steps else steps


def _report_skipped(skipped, what):
  if skipped.count:
    logging.warning('Skipped %d unreadable file(s) in %s (named above).',
                    skipped.count, what)


def _evaluate(estimator, source, params):
  """Evaluates once over every validation image; returns a JSON-able dict."""
  skipped = input_lib.SkippedFiles()
  results = estimator.evaluate(source.eval_input_fn(params, skipped))
  _report_skipped(skipped, 'the validation set')
  metrics = {k: (int(v) if k == 'global_step' else float(v))
             for k, v in results.items()}
  metrics['num_images'] = source.num_validation - skipped.count
  metrics['skipped_files'] = skipped.count
  return metrics


# train_input_fn and eval_input_fn: (params, SkippedFiles) -> input_fn;
# scan_input_fn: the same over the training data, one pass, in order.
DataSource = collections.namedtuple('DataSource', [
    'class_names', 'num_train', 'num_validation', 'train_input_fn',
    'eval_input_fn', 'scan_input_fn', 'description'])


def _folder_source(data_dir, validation_percent, task=None):
  data = image_folder.find(data_dir, validation_percent)
  # In a cluster each training task reads every num_trainers-th file.
  train_files = cluster.shard(data.train.files, task)
  train_labels = cluster.shard(data.train.labels, task)
  return DataSource(
      data.class_names, len(data.train.files), len(data.validation.files),
      lambda params, skipped: input_lib.make_input_fn(
          train_files, train_labels, True, params, skipped),
      lambda params, skipped: input_lib.make_input_fn(
          data.validation.files, data.validation.labels, False, params,
          skipped),
      lambda params, skipped: input_lib.make_input_fn(
          train_files, train_labels, False, params, skipped),
      '%s: %d classes, %d training and %d validation files (%s layout)' % (
          data_dir, len(data.class_names), len(data.train.files),
          len(data.validation.files), data.layout))


def _tfrecord_source(data_dir, label_offset, labels_file, task=None):
  records = tfrecords.describe(data_dir, label_offset, labels_file)
  # In a cluster each training task reads every num_trainers-th shard.
  train_shards = cluster.shard(records.train, task)
  if not train_shards:
    raise tfrecords.TFRecordError(
        '%s: %d training shards cannot be split over %d training tasks; '
        'write at least as many shards as tasks' % (
            data_dir, len(records.train), task.num_trainers))
  return DataSource(
      records.class_names, records.num_train, records.num_validation,
      lambda params, skipped: input_lib.make_tfrecord_input_fn(
          train_shards, True, params, skipped, records.label_offset),
      lambda params, skipped: input_lib.make_tfrecord_input_fn(
          records.validation, False, params, skipped, records.label_offset),
      lambda params, skipped: input_lib.make_tfrecord_input_fn(
          train_shards, False, params, skipped, records.label_offset),
      '%s: %d classes, %d training records in %d shards, %d validation '
      'records in %d shards (TFRecords, label offset %d)' % (
          data_dir, len(records.class_names), records.num_train,
          len(records.train), records.num_validation,
          len(records.validation), records.label_offset))


def _synthetic_source(num_classes):
  return DataSource(
      tuple(str(i) for i in range(num_classes)), 0, 0,
      lambda params, skipped: input_lib.make_synthetic_input_fn(params),
      None, None, 'synthetic data: random images, %d classes, no files read'
      % num_classes)


def _first_batch_exists(input_fn):
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


def open_data(data_dir, validation_percent=10.0, label_offset=None,
              labels_file=None, use_synthetic_data=False, num_classes=1000,
              task=None):
  """The run's data: synthetic, TFRecord shards, or an image folder tree.

  The format of `data_dir` is detected: train-* shards mean TFRecords.
  `task` (cluster.Task): training reads only this task's share.
  """
  if use_synthetic_data:
    return _synthetic_source(num_classes)
  if tfrecords.is_tfrecord_dir(data_dir):
    return _tfrecord_source(data_dir, label_offset, labels_file, task)
  return _folder_source(data_dir, validation_percent, task)


def _export(model_dir, params, export_dir):
  """Writes a SavedModel that takes encoded images; returns its path."""
  # Served on any machine: NHWC, which CPU kernels require.
  params = dict(params, data_format='channels_last')
  estimator = _make_estimator(model_dir, params, None, 100)
  path = estimator.export_saved_model(
      export_dir, export_lib.serving_input_receiver_fn(params))
  return tf.compat.as_str(path)


def _write_gallery(path, shown, class_names):
  """A PNG of (file, probabilities) pairs with their top-5 classes."""
  from alexnet_estimator import plots  # matplotlib only when asked for
  plots.save(plots.prediction_gallery(
      [plots.load_image(f) for f, _ in shown], [p for _, p in shown],
      class_names, titles=[os.path.basename(f) for f, _ in shown]), path)
  logging.info('Wrote the predictions of %d images to %s.', len(shown), path)


def _predict(estimator, params, paths, out, gallery=None):
  """Writes one JSON line per file to `out`, in the order of the files."""
  files = image_folder.expand_paths(paths)
  skipped = input_lib.SkippedFiles()
  predictions = estimator.predict(input_lib.make_predict_input_fn(
      files, params, skipped))
  pending = iter(files)
  shown = []
  for prediction in predictions:
    name = tf.compat.as_str(prediction['file'])
    for path in pending:
      if path == name:
        break
      print(json.dumps({'file': path, 'error': 'not a readable image'}),
            file=out)
    class_id = int(prediction['classes'])
    if gallery and len(shown) < GALLERY_IMAGES:
      shown.append((name, prediction['probabilities']))
    print(json.dumps({
        'file': name,
        'class_id': class_id,
        'class_name': tf.compat.as_str(prediction['class_names']),
        'probability': float(prediction['probabilities'][class_id]),
    }), file=out)
  for path in pending:
    print(json.dumps({'file': path, 'error': 'not a readable image'}),
          file=out)
  _report_skipped(skipped, 'the files to predict')
  if gallery:
    _write_gallery(gallery, shown, params_lib.class_names(params))


def run(mode, model_dir, data_dir=None, export_dir=None, predict_paths=(),
        overrides=None, train_epochs=10, max_train_steps=None,
        epochs_between_evals=1, validation_percent=10.0,
        save_checkpoints_steps=None, log_every_n_steps=10, label_offset=None,
        labels_file=None, use_synthetic_data=False, num_classes=1000,
        gallery=None, warm_start_from=None, resume=False, out=None,
        distribution_strategy='default', num_gpus=None, virtual_cpus=1,
        enable_xla=False, tf_gpu_thread_mode='global', tf_config=None,
        steps_between_evals=None):
  """Runs one CLI mode with plain values; no flags are read here.

  Args:
    mode: one of MODES.
    model_dir: the run's folder.
    data_dir: image folder tree; needed by train, eval and train_and_eval.
    export_dir: where export writes its timestamped SavedModel.
    predict_paths: image files or folders for predict.
    overrides: dict of hyper-parameter overrides (keys of params.DEFAULTS).
    train_epochs, max_train_steps, epochs_between_evals, validation_percent,
    save_checkpoints_steps, log_every_n_steps, label_offset, labels_file,
    use_synthetic_data, num_classes, gallery, warm_start_from, resume,
    distribution_strategy, num_gpus, virtual_cpus, enable_xla,
    tf_gpu_thread_mode, steps_between_evals: as the flags of the same names.
    out: stream for the results (default sys.stdout).
    tf_config: a TF_CONFIG dict to run as a task of a cluster (it is written
      to the environment, where RunConfig reads it); None: the environment's
      TF_CONFIG, if any.

  Returns:
    eval: the metrics dict; export: the SavedModel path; a parameter server:
    its tf.distribute.Server, which must outlive the process (end it with
    os._exit); else None.

  Raises:
    UsageError, image_folder.DataError, estimator.ModelDirError: the run cannot
      start; nothing was written.
  """
  out = out or sys.stdout
  overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
  check_flags(mode, data_dir, model_dir, export_dir, predict_paths,
              {'train_epochs': train_epochs,
               'max_train_steps': max_train_steps,
               'epochs_between_evals': epochs_between_evals,
               'save_checkpoints_steps': save_checkpoints_steps,
               'log_every_n_steps': log_every_n_steps,
               'num_classes': num_classes,
               'steps_between_evals': steps_between_evals},
              use_synthetic_data, gallery)
  if use_synthetic_data and (mode != 'train' or not max_train_steps):
    raise UsageError('--use_synthetic_data needs --mode train and '
                     '--max_train_steps')
  if warm_start_from and mode not in ('train', 'train_and_eval'):
    raise UsageError('--warm_start_from goes with --mode train or '
                     'train_and_eval')
  if not 0 <= validation_percent < 100:
    raise UsageError('--validation_percent must be in [0, 100), got %g'
                     % validation_percent)

  task = _cluster_task(tf_config, mode, distribution_strategy, num_gpus)
  if mode in ('predict', 'export'):
    if estimator_lib.load_model_info(model_dir) is None:
      raise estimator_lib.ModelDirError(
          '--model_dir %s holds no trained model (no %s); train first'
          % (model_dir, estimator_lib.MODEL_INFO_FILE))
    params = _resolve_params(overrides, model_dir)
    if mode == 'predict':
      _check_data_format(params, distribution.visible_gpus())
    estimator_lib.check_compatible(model_dir, params)
    if tf.train.latest_checkpoint(model_dir) is None:
      raise estimator_lib.ModelDirError('--model_dir %s has no checkpoint'
                                        % model_dir)
    if mode == 'export':
      path = _export(model_dir, params, export_dir)
      print(path, file=out)
      return path
    _predict(_make_estimator(model_dir, params, save_checkpoints_steps,
                             log_every_n_steps), params, predict_paths, out,
             gallery)
    return None

  try:
    devices = distribution.make_devices(distribution_strategy, num_gpus,
                                        virtual_cpus, enable_xla,
                                        tf_gpu_thread_mode)
  except distribution.DistributionError as e:
    raise UsageError(str(e))
  # Wrong values fail before the data scan.
  params = _resolve_params(overrides, model_dir, num_gpus=devices.num_gpus)
  _check_data_format(params, devices.num_gpus)
  _per_replica_params(params, devices)
  if task is not None and schedule.uses_evaluations(params):
    raise UsageError('--lr_schedule plateau and --early_stopping_patience '
                     'follow evaluations on one machine; in a cluster use '
                     '--lr_schedule step or constant')
  if task is not None:  # logged once every flag has passed
    logging.info('Cluster task %s %d of %s.', task.type, task.index,
                 json.dumps(task.cluster, sort_keys=True))
  source = open_data(data_dir, validation_percent, label_offset, labels_file,
                     use_synthetic_data, num_classes, task)
  params = _resolve_params(overrides, model_dir, source.class_names,
                           source.num_train, devices.num_gpus)
  # Before any step: the data and settings must fit what model_dir holds.
  estimator_lib.check_compatible(model_dir, params)
  logging.info('%s.', source.description)
  if mode == 'eval':
    if tf.train.latest_checkpoint(model_dir) is None:
      raise estimator_lib.ModelDirError('--model_dir %s has no checkpoint to '
                                        'evaluate' % model_dir)
  if mode != 'train' and not source.num_validation:
    raise image_folder.DataError(
        '%s has no validation images (raise --validation_percent or add a '
        'validation/ folder)' % data_dir)
  if not use_synthetic_data and not source.num_train:
    raise image_folder.DataError('%s has no training images' % data_dir)
  if mode == 'eval':
    metrics = _evaluate(_make_estimator(model_dir, params, None,
                                        log_every_n_steps), source, params)
    print(json.dumps(metrics, sort_keys=True), file=out)
    return metrics
  last_step = _train_steps(source.num_train, params, train_epochs,
                           max_train_steps)
  steps_per_cycle = steps_between_evals or _train_steps(
      source.num_train, params, epochs_between_evals, None)
  if task is not None:
    return _train_in_cluster(task, mode, model_dir, data_dir, source, params,
                             export_dir, last_step, steps_per_cycle,
                             save_checkpoints_steps, log_every_n_steps,
                             warm_start_from, resume, out)
  return _train(mode, model_dir, data_dir, source, params, export_dir,
                last_step, steps_per_cycle, save_checkpoints_steps,
                log_every_n_steps, warm_start_from, resume, out, devices)


def _check_data_format(params, num_gpus):
  """Raises UsageError for NCHW without a GPU (CPU kernels are NHWC only)."""
  if params['data_format'] == 'channels_first' and not num_gpus:
    raise UsageError('--data_format channels_first needs a GPU: TensorFlow\'s '
                     'CPU kernels run channels_last only')


def _cluster_task(tf_config, mode, distribution_strategy, num_gpus):
  """This process's cluster.Task (None on one machine); checks the mode.

  Raises:
    UsageError: TF_CONFIG or the cluster flags are wrong, or the mode and
      device flags cannot run in a cluster.
  """
  if tf_config is not None:
    os.environ['TF_CONFIG'] = json.dumps(tf_config)
  try:
    task = cluster.current_task()
  except cluster.ClusterError as e:
    raise UsageError(str(e))
  if task is None:
    return None
  if mode not in ('train', 'train_and_eval'):
    raise UsageError('a cluster task (TF_CONFIG) runs --mode train or '
                     'train_and_eval, not %s' % mode)
  if task.type == 'evaluator' and mode != 'train_and_eval':
    raise UsageError('--task_type evaluator needs --mode train_and_eval')
  if distribution_strategy not in ('default', 'off') or (num_gpus or 0) > 1:
    raise UsageError('--distribution_strategy %s: a cluster task uses one '
                     'device (between-graph replication over the parameter '
                     'servers)' % distribution_strategy)
  return task


def _per_replica_params(params, devices):
  """params for each replica's input pipeline: its share of the batch.

  Raises:
    UsageError: --batch_size does not split over the replicas.
  """
  try:
    return dict(params, batch_size=distribution.per_replica_batch_size(
        params['batch_size'], devices.replicas))
  except distribution.DistributionError as e:
    raise UsageError(str(e))


def _train(mode, model_dir, data_dir, source, params, export_dir, last_step,
           steps_per_cycle, save_checkpoints_steps, log_every_n_steps,
           warm_start_from, resume, out, devices=distribution.SINGLE_DEVICE):
  """Trains (and evaluates between cycles) to the last step; see run()."""
  if not params['steps_per_epoch'] and (params['lr_schedule'] == 'step' or
                                        params['warmup_epochs']):
    raise UsageError('--lr_schedule step and --warmup_epochs count epochs, '
                     'which synthetic data does not have')
  uses_evaluations = schedule.uses_evaluations(params)
  if uses_evaluations and mode != 'train_and_eval':
    logging.warning('--mode %s does not evaluate: the plateau schedule keeps '
                    'its rate and early stopping never stops (use --mode '
                    'train_and_eval).', mode)
  warm_start = _warm_start(warm_start_from, model_dir, params, resume)
  estimator_lib.save_model_info(model_dir, source.class_names,
                                params['image_size'], params)
  if mode == 'train':
    steps_per_cycle = last_step
  skipped = input_lib.SkippedFiles()
  _check_readable(source, params, skipped, data_dir)
  # --batch_size is global: with N replicas each input pipeline makes 1/N.
  train_input = source.train_input_fn(_per_replica_params(params, devices),
                                      skipped)
  if devices.replicas > 1:
    logging.info('Training on %d replicas (%s), %d images each per step.',
                 devices.replicas, type(devices.strategy).__name__,
                 params['batch_size'] // devices.replicas)
  hook = hooks_lib.ProgressHook(params['batch_size'], last_step,
                                log_every_n_steps)
  metrics = None
  checkpoint = tf.train.latest_checkpoint(model_dir)
  step = (tf.train.load_variable(checkpoint, 'global_step')
          if checkpoint else 0)
  state = schedule.load(model_dir)
  if state['stopped_at'] is not None:
    logging.info('%s stopped early at step %d: no better validation accuracy '
                 'than %.4f (step %d) for %d evaluations.', model_dir,
                 state['stopped_at'], state['best_accuracy'],
                 state['best_step'], params['early_stopping_patience'])
  elif step >= last_step:
    logging.info('%s is already trained to step %d (of %d).', model_dir, step,
                 last_step)
  elif step:
    logging.info('Resuming %s from step %d.', model_dir, step)
  while step < last_step and state['stopped_at'] is None:
    step = min(step + steps_per_cycle, last_step)
    # A new Estimator each cycle: the plateau schedule may have dropped the
    # rate, and model_fn reads it from params.
    cycle_params = dict(params, lr_drops=state['drops'])
    estimator = _make_estimator(model_dir, cycle_params,
                                save_checkpoints_steps, log_every_n_steps,
                                warm_start, devices)
    estimator.train(train_input, hooks=[hook], max_steps=step)
    if mode == 'train_and_eval':
      metrics = _evaluate(estimator, source, params)
      logging.info('Evaluation at step %d: %s', metrics['global_step'],
                   json.dumps(metrics, sort_keys=True))
      if uses_evaluations:
        state = _record_evaluation(model_dir, metrics, params)
  _report_skipped(skipped, 'the training set')
  if export_dir:
    print(_export(model_dir, params, export_dir), file=out)
  if metrics is not None:
    print(json.dumps(metrics, sort_keys=True), file=out)
  return metrics


def _check_readable(source, params, skipped, data_dir):
  """Raises DataError unless the training data has a readable image.

  Training repeats forever: were no image readable, it would spin on skipping
  them. Reading up to the first good one rules that out.
  """
  if source.scan_input_fn and not _first_batch_exists(
      source.scan_input_fn(params, skipped)):
    raise image_folder.DataError('%s: none of its %d training files is a '
                                 'readable image' % (data_dir,
                                                     source.num_train))


def _train_in_cluster(task, mode, model_dir, data_dir, source, params,
                      export_dir,
                      last_step, steps_between_evals, save_checkpoints_steps,
                      log_every_n_steps, warm_start_from, resume, out):
  """Runs this task of a cluster through tf.estimator.train_and_evaluate.

  The chief and the workers train (each on its share of the data) to
  `last_step` of the shared global step, then mark themselves done; the
  evaluator evaluates each new checkpoint, which the chief writes every
  `steps_between_evals` steps unless --save_checkpoints_steps says otherwise;
  a parameter server serves until the training tasks are done (cluster.py).
  """
  if task.type == 'ps':
    return cluster.run_ps(task, model_dir, last_step)
  if mode == 'train_and_eval' and not source.num_validation:
    raise image_folder.DataError('%s has no validation images'
                                 % source.description)
  warm_start = None
  if task.type == 'chief':
    warm_start = _warm_start(warm_start_from, model_dir, params, resume)
    estimator_lib.save_model_info(model_dir, source.class_names,
                                  params['image_size'], params)
  skipped = input_lib.SkippedFiles()
  if task.type != 'evaluator':
    _check_readable(source, params, skipped, data_dir)
  if mode == 'train_and_eval':
    save_checkpoints_steps = save_checkpoints_steps or steps_between_evals
  estimator = _make_estimator(model_dir, params, save_checkpoints_steps,
                              log_every_n_steps, warm_start)
  hook = hooks_lib.ProgressHook(params['batch_size'], last_step,
                                log_every_n_steps)
  train_spec = tf.estimator.TrainSpec(source.train_input_fn(params, skipped),
                                      max_steps=last_step, hooks=[hook])
  eval_skipped = input_lib.SkippedFiles()
  eval_input = (source.eval_input_fn(params, eval_skipped)
                if source.num_validation else _no_evaluation)
  # throttle_secs=1: the evaluator looks for a new checkpoint every second.
  eval_spec = tf.estimator.EvalSpec(eval_input, steps=None,
                                    start_delay_secs=0, throttle_secs=1)
  tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
  if task.type == 'evaluator':
    _report_skipped(eval_skipped, 'the validation set')
    logging.info('Evaluator done: the checkpoint reached step %d.',
                 last_step)
    return None
  _report_skipped(skipped, 'this task\'s share of the training set')
  cluster.mark_done(model_dir, task, last_step, hook.steps_run)
  logging.info('%s %d done: the global step reached %d; this task ran %d '
               'steps.', task.type, task.index, last_step, hook.steps_run)
  if export_dir and task.type == 'chief':
    print(_export(model_dir, params, export_dir), file=out)
  return None


def _no_evaluation():
  raise UsageError('--mode train has no evaluation: run the evaluator task '
                   'with --mode train_and_eval')


def _record_evaluation(model_dir, metrics, params):
  """Feeds an evaluation to the schedule state; logs a drop or a stop."""
  state = schedule.record_evaluation(model_dir, metrics['global_step'],
                                     metrics['accuracy'], params)
  event = state['history'][-1]['event'] if state['history'] else None
  if event == 'drop':
    logging.info('Validation accuracy has not improved on %.4f (step %d) for '
                 '%d evaluations: learning rate now %g (drop %d of %d).',
                 state['best_accuracy'], state['best_step'],
                 params['plateau_patience'],
                 schedule.learning_rate(state, params), state['drops'],
                 params['max_lr_drops'])
  elif event == 'stop':
    logging.info('Stopping early at step %d: validation accuracy has not '
                 'improved on %.4f (step %d) for %d evaluations.',
                 state['stopped_at'], state['best_accuracy'],
                 state['best_step'], params['early_stopping_patience'])
  return state


class _DropDeprecationNotices(logging_lib.Filter):
  """Keeps TF 1.15's deprecation notices (dozens per graph) out of the log."""

  def filter(self, record):
    message = record.getMessage()
    # The AMP rewrite warns about every session made before it was on; the
    # one that reads the first batch is one, and needs no rewrite.
    return not ('is deprecated' in message or
                'Instructions for updating' in message or
                'existing Sessions that do not use mixed precision' in message)


def main(argv):
  tf_logger = tf.get_logger()
  tf_logger.propagate = False  # absl's handler would print TF's lines twice
  tf_logger.addFilter(_DropDeprecationNotices())
  overrides = {k: getattr(FLAGS, k) for k in _HYPER_PARAMETER_FLAGS}
  try:
    tf_config = None
    if FLAGS.task_type or FLAGS.worker_hosts:
      if not FLAGS.task_type:
        raise UsageError('--worker_hosts needs --task_type')
      try:
        tf_config = cluster.tf_config_from_flags(
            FLAGS.worker_hosts, FLAGS.ps_hosts, FLAGS.task_type,
            FLAGS.task_index)
      except cluster.ClusterError as e:
        raise UsageError(str(e))
    result = run(FLAGS.mode, FLAGS.model_dir, data_dir=FLAGS.data_dir,
        export_dir=FLAGS.export_dir, predict_paths=argv[1:],
        overrides=overrides, train_epochs=FLAGS.train_epochs,
        max_train_steps=FLAGS.max_train_steps,
        epochs_between_evals=FLAGS.epochs_between_evals,
        validation_percent=FLAGS.validation_percent,
        save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        log_every_n_steps=FLAGS.log_every_n_steps,
        label_offset=FLAGS.label_offset, labels_file=FLAGS.labels_file,
        use_synthetic_data=FLAGS.use_synthetic_data,
        num_classes=FLAGS.num_classes, gallery=FLAGS.gallery,
        warm_start_from=FLAGS.warm_start_from, resume=FLAGS.resume,
        distribution_strategy=FLAGS.distribution_strategy,
        num_gpus=FLAGS.num_gpus, virtual_cpus=FLAGS.virtual_cpus,
        enable_xla=FLAGS.enable_xla,
        tf_gpu_thread_mode=FLAGS.tf_gpu_thread_mode, tf_config=tf_config,
        steps_between_evals=FLAGS.steps_between_evals)
  except (UsageError, image_folder.DataError, tfrecords.TFRecordError,
          estimator_lib.ModelDirError) as e:
    _fail(e, 2 if isinstance(e, UsageError) else 1)
  if isinstance(result, tf.distribute.Server):
    # A parameter server whose work is done. TF 1.15 cannot stop a server
    # (its destructor aborts the process), so leave without destroying it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # pylint: disable=protected-access


PROGRAM = 'alexnet_estimator.train'


def _fail(message, code):
  cli.fail(PROGRAM, message, code)


def console_main():
  """Entry point of `python -m alexnet_estimator.train` and the console script."""
  cli.run(main, __name__, PROGRAM)


if __name__ == '__main__':
  console_main()
