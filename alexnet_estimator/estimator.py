"""Builds the Estimator and keeps a model_dir's model description.

A model_dir holds, beside the checkpoints, `alexnet_model.json`: the class
names, the image size and the recipe settings that shape the network and its
input (MODEL_KEYS). It is written at the first training run, before any
checkpoint, and read by every later run, so evaluation, prediction and export
need no --data_dir and rebuild the same network and preprocessing, and a run
whose data or settings do not fit the checkpoints stops before it touches them.
"""
import json
import os

import tensorflow as tf

from alexnet_estimator import distribution
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib

MODEL_INFO_FILE = 'alexnet_model.json'

# Settings stored in the model description besides the class names. Those in
# _SAME_NETWORK_KEYS must not change over a model's life: they define the
# network or what its input looks like. A description from before a key
# existed means that key's tutorial default.
MODEL_KEYS = ('image_size', 'recipe', 'lrn_convention', 'conv_groups',
              'preprocessing', 'resize_side', 'eval_crops')
_SAME_NETWORK_KEYS = ('image_size', 'lrn_convention', 'conv_groups',
                      'preprocessing', 'resize_side')


class ModelDirError(ValueError):
  """model_dir does not hold a model, or one that fits this run."""


def model_info_path(model_dir):
  return os.path.join(model_dir, MODEL_INFO_FILE)


def load_model_info(model_dir):
  """Returns the model description, or None if absent.

  A dict with 'class_names' (list) and 'image_size' (int), and those of
  MODEL_KEYS the description holds.
  """
  path = model_info_path(model_dir)
  if not tf.io.gfile.exists(path):
    return None
  try:
    with tf.io.gfile.GFile(path) as f:
      info = json.load(f)
    result = {'class_names': [str(n) for n in info['class_names']],
              'image_size': int(info['image_size'])}
    result.update((k, info[k]) for k in MODEL_KEYS if k in info)
    return result
  except (ValueError, KeyError, TypeError) as e:
    raise ModelDirError('%s is not a valid model description: %s' % (path, e))


def save_model_info(model_dir, class_names, image_size, params=None):
  """Writes the model description atomically (temp file, then rename).

  Args:
    model_dir: the run's folder.
    class_names: names of the class ids 0, 1, ...
    image_size: the network's input side.
    params: optional full params; their MODEL_KEYS are stored too.
  """
  tf.io.gfile.makedirs(model_dir)
  info = {'class_names': list(class_names), 'image_size': image_size}
  if params is not None:
    info.update((k, params[k]) for k in MODEL_KEYS if k != 'image_size')
  path = model_info_path(model_dir)
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    json.dump(info, f, indent=1)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def with_model_info(model_dir, overrides):
  """A copy of `overrides` with the model's description filled in.

  Class names, image size and the recipe settings of MODEL_KEYS come from the
  description; keys already in `overrides` win. Without a description, a
  plain copy.
  """
  overrides = dict(overrides or {})
  info = load_model_info(model_dir)
  if info is not None:
    overrides.setdefault('num_classes', len(info['class_names']))
    for key, value in info.items():
      overrides.setdefault(key, value)
  return overrides


def model_variable_shapes(params):
  """{variable name: shape} of the network `params` describe (no session)."""
  with tf.Graph().as_default():
    size = params['image_size']
    model_fn_lib.alexnet(tf.zeros([1, size, size, 3]), False,
                         dict(params, data_format='channels_last'))
    return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def check_checkpoint(checkpoint, params, what, ignore_prefix=None):
  """Raises ModelDirError unless `checkpoint` holds the network of `params`.

  Every variable of the network must be in the checkpoint with its shape;
  names under `ignore_prefix` are not compared.
  """
  stored = dict(tf.train.list_variables(checkpoint))
  for name, shape in sorted(model_variable_shapes(params).items()):
    if ignore_prefix and name.startswith(ignore_prefix):
      continue
    if name not in stored:
      raise ModelDirError(
          'the checkpoint in %s has no %s: it holds another network (other '
          '--conv_groups or --recipe?); %s' % (checkpoint, name, what))
    if list(stored[name]) != shape:
      raise ModelDirError(
          'the checkpoint in %s has %s of shape %s, this run needs %s; %s'
          % (checkpoint, name, list(stored[name]), shape, what))


def check_compatible(model_dir, params):
  """Raises ModelDirError if model_dir's model differs from `params`' model.

  Compares the stored description (class names, image size, the settings
  that shape the network and its input) and, when there is a checkpoint, the
  name and shape of every variable of the network.
  """
  info = load_model_info(model_dir)
  if info is not None:
    names = list(params_lib.class_names(params))
    if info['class_names'] != names:
      extra = sorted(set(names) - set(info['class_names']))
      missing = sorted(set(info['class_names']) - set(names))
      raise ModelDirError(
          'the data has other classes than the model in %s (new: %s; '
          'missing: %s; order or count differs otherwise); use a new '
          '--model_dir' % (model_dir, extra[:5] or 'none',
                           missing[:5] or 'none'))
    if info['image_size'] != params['image_size']:
      raise ModelDirError(
          '--image_size %d differs from %d, the size the model in %s was '
          'trained at' % (params['image_size'], info['image_size'], model_dir))
    for key in _SAME_NETWORK_KEYS:
      trained = info.get(key, params_lib.DEFAULTS[key])
      if trained != params[key]:
        raise ModelDirError(
            '--%s %s differs from %s, the model\'s in %s; use a new '
            '--model_dir' % (key, params[key], trained, model_dir))
  checkpoint = tf.train.latest_checkpoint(model_dir)
  if checkpoint is not None:
    check_checkpoint(checkpoint, params, 'use a new --model_dir')


def pool3_side(image_size):
  """Side of pool3 for a square input: VALID conv1 11/4, three VALID 3/2 pools."""
  side = (image_size - 11) // 4 + 1
  for _ in range(3):
    side = (side - 3) // 2 + 1
  return side


def make_run_config(model_dir, save_checkpoints_steps=None, log_every_n_steps=100,
                    session_config=None, train_distribute=None,
                    enable_xla=False, virtual_cpus=1):
  """RunConfig with soft placement, so the run uses a GPU if there is one.

  Args:
    model_dir: the run's folder.
    save_checkpoints_steps: checkpoint cadence (default: every 10 minutes).
    log_every_n_steps: progress and summary cadence.
    session_config: optional tf.ConfigProto to start from.
    train_distribute: optional tf.distribute.Strategy for training.
    enable_xla: turn on XLA's JIT compilation for the whole graph.
    virtual_cpus: CPU devices the session makes (mirroring without GPUs).
  """
  if session_config is None:
    # Under TF_CONFIG, RunConfig's own default carries the device filters
    # that keep each worker talking to the parameter servers only, so a dead
    # worker stalls nobody; on one machine it is None.
    session_config = tf.estimator.RunConfig().session_config
  config = session_config or tf.ConfigProto()
  distribution.set_cpu_threading(config)
  config.allow_soft_placement = True
  config.gpu_options.allow_growth = True
  if virtual_cpus > 1:
    config.device_count['CPU'] = virtual_cpus
  if enable_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
  kwargs = dict(model_dir=model_dir, session_config=config,
                log_step_count_steps=log_every_n_steps,
                save_summary_steps=log_every_n_steps,
                train_distribute=train_distribute)
  if save_checkpoints_steps:
    kwargs['save_checkpoints_steps'] = save_checkpoints_steps
    kwargs['save_checkpoints_secs'] = None
  return tf.estimator.RunConfig(**kwargs)


def build_estimator(model_dir, params=None, config=None):
  """Returns a tf.estimator.Estimator for the AlexNet in `model_dir`.

  The class names and image size come from the model description in
  `model_dir` when there is one; `params` overrides other keys (see
  params.DEFAULTS). In a notebook:

    est = alexnet_estimator.build_estimator('runs/demo')
    for p in est.predict(alexnet_estimator.predict_input_fn(
        paths, params=est.params)):
      print(p['file'], p['class_names'], p['probabilities'].max())

  Args:
    model_dir: the run's folder.
    params: optional dict of hyper-parameter overrides.
    config: optional tf.estimator.RunConfig; by default one for `model_dir`.

  Returns:
    A tf.estimator.Estimator.

  Raises:
    params.ParamError: a key of `params` is unknown or out of range.
    ModelDirError: `params` contradicts the model description.
  """
  full = params_lib.make_params(with_model_info(model_dir, params))
  check_compatible(model_dir, full)
  return tf.estimator.Estimator(
      model_fn=model_fn_lib.model_fn, params=full,
      config=config or make_run_config(model_dir))
