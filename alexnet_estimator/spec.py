"""A run's options as given, and `resolve`: one validation pass before any write.

`Options` holds the command line's values as plain Python values (a notebook
or a test makes one without flags). `resolve(options)` checks every flag, the
data, the model_dir and the cluster, and returns a `Spec`: what the run will
do, with its full params. It writes nothing: no folder, no model description,
no TF_CONFIG in the environment. Whatever it raises is an errors.Error whose
one line names the flag or path at fault.
"""
import collections
import importlib.util
import json
import math
import os

from absl import logging
import tensorflow as tf

from alexnet_estimator import cluster
from alexnet_estimator import data as data_lib
from alexnet_estimator import distribution
from alexnet_estimator import errors
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import image_folder
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import schedule
from alexnet_estimator import tfrecords

# One field per flag of train.py but the hyper-parameters, which come as one
# dict, `overrides` ({params key: value}; None values mean "not given").
# tf_config: a TF_CONFIG dict to run as a task of a cluster; None: the
# environment's TF_CONFIG, if any.
_OPTION_DEFAULTS = collections.OrderedDict([
    ('mode', 'train_and_eval'), ('model_dir', None), ('data_dir', None),
    ('export_dir', None), ('predict_paths', ()), ('overrides', None),
    ('train_epochs', 10), ('max_train_steps', None),
    ('epochs_between_evals', 1), ('steps_between_evals', None),
    ('validation_percent', 10.0), ('save_checkpoints_steps', None),
    ('log_every_n_steps', 10), ('label_offset', None), ('labels_file', None),
    ('use_synthetic_data', False), ('num_classes', 1000), ('gallery', None),
    ('warm_start_from', None), ('resume', False),
    ('distribution_strategy', 'default'), ('num_gpus', None),
    ('virtual_cpus', 1), ('enable_xla', False),
    ('tf_gpu_thread_mode', 'global'), ('all_reduce_alg', None),
    ('tf_config', None),
])


class Options(collections.namedtuple('Options', list(_OPTION_DEFAULTS))):
  """The run's options as plain values; every field has the flag's default."""
  __slots__ = ()

  def __new__(cls, *args, **kwargs):
    values = dict(zip(cls._fields, args))
    values.update(kwargs)
    unknown = sorted(set(values) - set(cls._fields))
    if unknown:
      raise TypeError('Options has no field %s' % unknown[0])
    return super(Options, cls).__new__(
        cls, **dict(_OPTION_DEFAULTS, **values))


# What resolve() decided. data: a data.DataSource (None for predict and
# export); devices: distribution.Devices; task: cluster.Task or None;
# tf_config: the TF_CONFIG to put in the environment when the run starts, or
# None; last_step and steps_per_cycle: training's end and the steps between
# evaluations; warm_start: tf.estimator.WarmStartSettings or None;
# train_skipped and eval_skipped: the input_fn.SkippedFiles of the training
# and the validation files (the checks here may have met some already: each
# bad file is warned about and read once in a run); for predict, eval_skipped
# holds the paths that could not even be listed (broken links, ...).
Spec = collections.namedtuple('Spec', [
    'options', 'params', 'data', 'devices', 'task', 'tf_config', 'last_step',
    'steps_per_cycle', 'warm_start', 'train_skipped', 'eval_skipped'])

_TRAINING_MODES = ('train', 'train_and_eval')


def _check_options(o):
  """Raises UsageError for flags that are missing or do not fit together."""
  if o.mode not in flags_lib.MODES:
    raise errors.UsageError('--mode must be one of %s, got %r'
                            % (', '.join(flags_lib.MODES), o.mode))
  if not o.model_dir:
    raise errors.UsageError('--model_dir is required')
  for flag in ('model_dir', 'export_dir'):
    path = getattr(o, flag)
    if path and tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
      raise errors.UsageError('--%s %s is a file, not a folder' % (flag, path))
  if (o.mode in ('train', 'eval', 'train_and_eval') and not o.data_dir and
      not o.use_synthetic_data):
    raise errors.UsageError('--data_dir is required with --mode %s' % o.mode)
  if o.mode == 'export' and not o.export_dir:
    raise errors.UsageError('--export_dir is required with --mode export')
  if o.mode == 'predict' and not o.predict_paths:
    raise errors.UsageError('--mode predict needs image files or folders as '
                            'arguments')
  if o.gallery and importlib.util.find_spec('matplotlib') is None:
    raise errors.UsageError('--gallery needs matplotlib: install the package '
                            'with its [plots] extra (pip install .[plots])')
  if o.mode != 'predict' and o.gallery:
    raise errors.UsageError('--gallery goes with --mode predict')
  if o.mode != 'predict' and o.predict_paths:
    raise errors.UsageError('unexpected argument %r (only --mode predict '
                            'takes paths)' % o.predict_paths[0])
  for name in ('train_epochs', 'max_train_steps', 'epochs_between_evals',
               'save_checkpoints_steps', 'log_every_n_steps', 'num_classes',
               'steps_between_evals'):
    value = getattr(o, name)
    if value is not None and value < 1:
      raise errors.UsageError('--%s must be >= 1, got %d' % (name, value))
  if o.use_synthetic_data and (o.mode != 'train' or not o.max_train_steps):
    raise errors.UsageError('--use_synthetic_data needs --mode train and '
                            '--max_train_steps')
  if o.warm_start_from and o.mode not in _TRAINING_MODES:
    raise errors.UsageError('--warm_start_from goes with --mode train or '
                            'train_and_eval')
  if not (math.isfinite(o.validation_percent) and
          0 <= o.validation_percent < 100):
    raise errors.UsageError('--validation_percent must be in [0, 100), got '
                            '%g' % o.validation_percent)


def _cluster_task(o):
  """This process's cluster.Task and its TF_CONFIG (None on one machine).

  A cluster trains either on parameter servers (asynchronously, one device
  per task) or, with --distribution_strategy multi_worker_mirrored,
  synchronously across its chief and workers, without parameter servers.
  """
  tf_config = o.tf_config
  try:
    environ = None if tf_config is None else {
        'TF_CONFIG': json.dumps(tf_config)}
    task = cluster.current_task(environ)
  except cluster.ClusterError as e:
    raise errors.UsageError(str(e))
  multi_worker = o.distribution_strategy == distribution.MULTI_WORKER
  if task is None:
    if multi_worker and o.mode not in ('predict', 'export'):
      raise errors.UsageError(
          '--distribution_strategy %s needs a cluster: TF_CONFIG, or '
          '--worker_hosts with --task_type and --task_index' % (
              distribution.MULTI_WORKER))
    return None, None
  if o.mode not in _TRAINING_MODES:
    raise errors.UsageError('a cluster task (TF_CONFIG) runs --mode train or '
                            'train_and_eval, not %s' % o.mode)
  if task.type == 'evaluator' and o.mode != 'train_and_eval':
    raise errors.UsageError('--task_type evaluator needs --mode '
                            'train_and_eval')
  has_ps = bool(task.cluster.get('ps'))
  if multi_worker:
    if has_ps:
      raise errors.UsageError(
          '--distribution_strategy %s trains without parameter servers: '
          'leave ps out of TF_CONFIG (--ps_hosts)' % distribution.MULTI_WORKER)
    if o.warm_start_from:
      # Every worker would have to warm-start alike, or the first step's
      # broadcast of the initial values waits forever.
      raise errors.UsageError(
          '--warm_start_from does not go with --distribution_strategy %s: '
          'warm-start on one machine (--max_train_steps 1), then train that '
          '--model_dir on the cluster' % distribution.MULTI_WORKER)
    return task, tf_config
  if (o.distribution_strategy not in ('default', 'off') or
      (o.num_gpus or 0) > 1):
    raise errors.UsageError('--distribution_strategy %s: a parameter-server '
                            'cluster task uses one device (for synchronous '
                            'training use --distribution_strategy %s)'
                            % (o.distribution_strategy,
                               distribution.MULTI_WORKER))
  if not has_ps:
    raise errors.UsageError(
        'a cluster without parameter servers (TF_CONFIG has no ps; '
        '--ps_hosts) trains with --distribution_strategy %s'
        % distribution.MULTI_WORKER)
  return task, tf_config


# What a run fine-tuned from another (--warm_start_from) takes from that
# run's description when it has none of its own: the network's geometry and
# its input, so the weights fit and see the images they were trained on.
_INHERITED_KEYS = ('image_size', 'lrn_convention', 'conv_groups',
                   'preprocessing', 'resize_side', 'eval_crops')


def _description(o):
  """The description params start from: model_dir's, or the warm start's.

  A new run warm-started from another run's folder (or one of its
  checkpoints) takes that run's _INHERITED_KEYS, unless its flags say
  otherwise; never its classes.
  """
  own = model_dir_lib.load_model_info(o.model_dir)
  if own is not None or not o.warm_start_from:
    return own
  source = o.warm_start_from
  if not tf.io.gfile.isdir(source):
    source = os.path.dirname(source)
  info = model_dir_lib.load_model_info(source)
  if info is None:
    return None
  inherited = {k: info[k] for k in _INHERITED_KEYS if k in info}
  logging.info('Fine-tuning from %s with its settings: %s.', source,
               ', '.join('%s=%s' % kv for kv in sorted(inherited.items())))
  return inherited


def _params(o, description, **kwargs):
  """params.resolve for this run, a bad value named as its flag."""
  try:
    return params_lib.resolve(o.overrides, description, **kwargs)
  except params_lib.ParamError as e:
    raise errors.UsageError('--%s %s' % (e.key, e.message))


def _check_data_format(params, num_gpus):
  """Raises UsageError for NCHW without a GPU (CPU kernels are NHWC only)."""
  if params['data_format'] == 'channels_first' and not num_gpus:
    raise errors.UsageError('--data_format channels_first needs a GPU: '
                            'TensorFlow\'s CPU kernels run channels_last only')


def per_replica_params(params, devices):
  """params for each replica's input pipeline: its share of the batch.

  Raises:
    UsageError: --batch_size does not split over the replicas.
  """
  workers = (devices.multi_worker.num_workers if devices.multi_worker else
             1)
  try:
    return dict(params, batch_size=distribution.per_replica_batch_size(
        params['batch_size'], devices.replicas, workers))
  except distribution.DistributionError as e:
    raise errors.UsageError(str(e))


def _train_steps(num_train, params, train_epochs, max_train_steps):
  """The last step: epochs' worth of batches, capped at max_train_steps."""
  if not num_train:  # synthetic data has no epochs
    return max_train_steps
  steps = max(1, int(math.ceil(train_epochs * num_train /
                               float(params['batch_size']))))
  return min(steps, max_train_steps) if max_train_steps else steps


def _warm_start(o, params):
  """WarmStartSettings for every layer but logits, or None.

  Raises:
    UsageError: model_dir already has checkpoints (warm start would be
      ignored) and --resume is not given, or there is no checkpoint to start
      from.
    ModelDirError: the checkpoint holds another network.
  """
  if not o.warm_start_from:
    return None
  if tf.train.latest_checkpoint(o.model_dir) is not None:
    if not o.resume:
      raise errors.UsageError(
          '--warm_start_from: --model_dir %s already has checkpoints, so the '
          'warm start would be ignored; pass --resume to continue that run, '
          'or use a new --model_dir' % o.model_dir)
    logging.info('Resuming %s; --warm_start_from is ignored.', o.model_dir)
    return None
  checkpoint = o.warm_start_from
  if tf.io.gfile.isdir(checkpoint):
    checkpoint = tf.train.latest_checkpoint(checkpoint)
  if not checkpoint or not tf.io.gfile.glob(checkpoint + '.index'):
    raise errors.UsageError('--warm_start_from %s: no checkpoint there'
                            % o.warm_start_from)
  model_dir_lib.check_checkpoint(checkpoint, params, 'it cannot warm-start '
                                 'this network', ignore_prefix='logits/')
  return tf.estimator.WarmStartSettings(checkpoint,
                                        vars_to_warm_start='^(?!logits/).*')


def _resolve_trained_model(o, task):
  """predict and export: the model_dir's own model, nothing else."""
  if model_dir_lib.load_model_info(o.model_dir) is None:
    raise errors.ModelDirError(
        '--model_dir %s holds no trained model (no %s); train first'
        % (o.model_dir, model_dir_lib.MODEL_INFO_FILE))
  params = _params(o, model_dir_lib.load_model_info(o.model_dir))
  if o.mode == 'predict':
    _check_data_format(params, distribution.visible_gpus())
  model_dir_lib.check_compatible(o.model_dir, params)
  checkpoint = tf.train.latest_checkpoint(o.model_dir)
  if checkpoint is None:
    raise errors.ModelDirError('--model_dir %s has no checkpoint'
                               % o.model_dir)
  model_dir_lib.check_checkpoint_readable(checkpoint)
  if o.mode == 'predict':
    # Each file once, in the order given (a folder's files sorted).
    unreadable = []
    files = list(collections.OrderedDict.fromkeys(
        image_folder.expand_paths(o.predict_paths, unreadable)))
    if not files and not unreadable:
      raise errors.DataError('%s: no files to predict'
                             % ', '.join(o.predict_paths))
    o = o._replace(predict_paths=tuple(files))
    skipped = input_lib.SkippedFiles()
    for entry in unreadable:  # warned about by image_folder already
      skipped.add_listed(entry.path, entry.reason)
    return Spec(o, params, None, distribution.SINGLE_DEVICE, task, None,
                None, None, None, None, skipped)
  return Spec(o, params, None, distribution.SINGLE_DEVICE, task, None, None,
              None, None, None, None)


def _devices(o, task):
  """The run's distribution.Devices.

  A cluster's evaluator evaluates on one device (its GPU if it has one),
  whatever the training tasks train on: the checks of their strategy (its
  GPUs, the split of the batch) are theirs, not the evaluator's, which shares
  their command line but may have other devices.
  """
  if task is not None and task.type == 'evaluator':
    visible = distribution.visible_gpus()
    asked = visible if o.num_gpus is None else o.num_gpus
    return distribution.make_devices(
        'off', min(asked, visible, 1), gpu_thread_mode=o.tf_gpu_thread_mode)
  return distribution.make_devices(
      o.distribution_strategy, o.num_gpus, o.virtual_cpus, o.enable_xla,
      o.tf_gpu_thread_mode, o.all_reduce_alg,
      task.num_trainers if task is not None else None)


def resolve(options):
  """Checks everything a run needs, before it writes anything.

  Args:
    options: an Options.

  Returns:
    A Spec.

  Raises:
    errors.Error: the run cannot start; the message names the flag or path.
  """
  o = options._replace(
      overrides={k: v for k, v in (options.overrides or {}).items()
                 if v is not None},
      predict_paths=tuple(options.predict_paths or ()))
  _check_options(o)
  task, tf_config = _cluster_task(o)
  if o.mode in ('predict', 'export'):
    return _resolve_trained_model(o, task)
  try:
    devices = _devices(o, task)
  except distribution.DistributionError as e:
    raise errors.UsageError(str(e))
  # Wrong values fail before the data scan.
  description = _description(o)
  params = _params(o, description, num_gpus=devices.num_gpus)
  _check_data_format(params, devices.num_gpus)
  per_replica_params(params, devices)
  if task is not None and schedule.uses_evaluations(params):
    raise errors.UsageError('--lr_schedule plateau and '
                            '--early_stopping_patience follow evaluations on '
                            'one machine; in a cluster use --lr_schedule step '
                            'or constant')
  if o.use_synthetic_data and (params['lr_schedule'] == 'step' or
                               params['warmup_epochs']):
    raise errors.UsageError('--lr_schedule step and --warmup_epochs count '
                            'epochs, which synthetic data does not have')
  source = data_lib.open_data(o.data_dir, o.validation_percent,
                              o.label_offset, o.labels_file,
                              o.use_synthetic_data, o.num_classes, task)
  params = _params(o, description, data_classes=source.class_names,
                   num_train=source.num_train, num_gpus=devices.num_gpus)
  # Before any step: the data and settings must fit what model_dir holds.
  model_dir_lib.check_compatible(o.model_dir, params)
  if o.mode in _TRAINING_MODES and len(source.class_names) < 2:
    raise errors.DataError('%s has %d class(es): a classifier needs at least '
                           'two' % (o.data_dir, len(source.class_names)))
  checkpoint = tf.train.latest_checkpoint(o.model_dir)
  if o.mode == 'eval' and checkpoint is None:
    raise errors.ModelDirError('--model_dir %s has no checkpoint to evaluate'
                               % o.model_dir)
  if checkpoint is not None:  # to evaluate, or to resume from
    model_dir_lib.check_checkpoint_readable(checkpoint)
  if o.mode != 'train' and not source.num_validation:
    raise errors.DataError(
        '%s has no validation images: %s' % (o.data_dir, (
            'write validation-* shards (or validation/validation-*, or '
            'TFDS\'s -validation files)' if tfrecords.is_tfrecord_dir(
                o.data_dir) else 'raise --validation_percent or add a '
            'validation/ folder')))
  if not o.use_synthetic_data and not source.num_train:
    raise errors.DataError('%s has no training images' % o.data_dir)
  last_step = _train_steps(source.num_train, params, o.train_epochs,
                           o.max_train_steps)
  steps_per_cycle = o.steps_between_evals or _train_steps(
      source.num_train, params, o.epochs_between_evals, None)
  if o.mode == 'train':
    steps_per_cycle = last_step
  warm_start = None
  trains = o.mode in _TRAINING_MODES and (
      task is None or task.type in ('chief', 'worker'))
  if trains and (task is None or task.type == 'chief'):
    warm_start = _warm_start(o, params)
  train_skipped = input_lib.SkippedFiles()
  eval_skipped = input_lib.SkippedFiles()
  if trains:
    model_dir_lib.check_resumable(o.model_dir, params)
    data_lib.check_readable(source, params, train_skipped, o.data_dir)
  if o.mode != 'train' and (task is None or task.type == 'evaluator'):
    data_lib.check_readable(source, params, eval_skipped, o.data_dir,
                            split='validation')
  return Spec(o, params, source, devices, task, tf_config, last_step,
              steps_per_cycle, warm_start, train_skipped, eval_skipped)

