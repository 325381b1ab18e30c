"""The run folder's model description and checkpoint compatibility.

A model_dir holds, beside the checkpoints, `alexnet_model.json`: the class
names, the image size and the recipe settings that shape the network and its
input (MODEL_KEYS). It is written when a training run is known to start,
before any checkpoint, and read by every later run, so evaluation, prediction
and export need no --data_dir and rebuild the same network and preprocessing,
and a run whose data or settings do not fit the checkpoints stops before it
touches them.
"""
import os

import tensorflow as tf

from alexnet_estimator import errors
from alexnet_estimator import files
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

ModelDirError = errors.ModelDirError


def model_info_path(model_dir):
  return os.path.join(model_dir, MODEL_INFO_FILE)


def load_model_info(model_dir):
  """Returns the model description, or None if absent.

  A dict with 'class_names' (list) and 'image_size' (int), and those of
  MODEL_KEYS the description holds.

  Raises:
    ModelDirError: the description is not valid.
  """
  path = model_info_path(model_dir)
  try:
    info = files.read_json(path)
    if info is None:
      return None
    result = {'class_names': [str(n) for n in info['class_names']],
              'image_size': int(info['image_size'])}
    result.update((k, info[k]) for k in MODEL_KEYS if k in info)
    return result
  except (ValueError, KeyError, TypeError) as e:
    raise ModelDirError('%s is not a valid model description: %s' % (path, e))


def save_model_info(model_dir, params):
  """Writes the model description of `params` atomically.

  Args:
    model_dir: the run's folder.
    params: full params; their class names and MODEL_KEYS are stored.
  """
  info = {k: params[k] for k in MODEL_KEYS}
  info['class_names'] = list(params_lib.class_names(params))
  files.write_json(model_info_path(model_dir), info)


def has_trained_model(model_dir):
  """True if model_dir has a description and a checkpoint."""
  return (load_model_info(model_dir) is not None and
          tf.train.latest_checkpoint(model_dir) is not None)


def model_variable_shapes(params):
  """{variable name: shape} of the network `params` describe (no session)."""
  with tf.Graph().as_default():
    size = params['image_size']
    model_fn_lib.alexnet(tf.zeros([1, size, size, 3]), False,
                         params_lib.nhwc(params))
    return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def training_variable_shapes(params):
  """{name: shape} of every variable a training run of `params` saves.

  The network's, the global step, and what the optimizer (its slots and
  accumulators) and fp16's loss scaling add: a checkpoint must hold exactly
  these for the run to resume from it.
  """
  with tf.Graph().as_default():
    tf.train.create_global_step()
    size = params['image_size']
    model_fn_lib.model_fn({'x': tf.zeros([1, size, size, 3])},
                          tf.zeros([1], tf.int32),
                          tf.estimator.ModeKeys.TRAIN,
                          params_lib.nhwc(params))
    return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def check_resumable(model_dir, params):
  """Raises ModelDirError unless training with `params` can resume model_dir.

  The latest checkpoint must hold the same variables as the run would save:
  another --optimizer (its slots), --dtype (fp16's loss scale) or anything
  else that changes them is refused here, in one line, before any step.
  """
  checkpoint = tf.train.latest_checkpoint(model_dir)
  if checkpoint is None:
    return
  stored = {name for name, _ in tf.train.list_variables(checkpoint)}
  needed = set(training_variable_shapes(params))
  missing, extra = sorted(needed - stored), sorted(stored - needed)
  if missing or extra:
    found = []
    if missing:
      found.append('lacks %s, which this run needs' % missing[0])
    if extra:
      found.append('has %s, which this run does not' % extra[0])
    raise ModelDirError(
        'the checkpoint in %s was trained with other settings (it %s); '
        'resume with the --optimizer, --dtype and --trainable_layers it was '
        'trained with, or start a new --model_dir with --warm_start_from %s'
        % (model_dir, '; '.join(found), model_dir))


def check_checkpoint_readable(checkpoint):
  """Raises ModelDirError unless every tensor of `checkpoint` can be read.

  A truncated or corrupt checkpoint (a full disk, a copy cut short) would
  otherwise fail deep inside the restore with a message that names no file.
  Reads one tensor at a time: memory stays at the largest one.
  """
  try:
    reader = tf.train.load_checkpoint(checkpoint)
    for name in sorted(reader.get_variable_to_shape_map()):
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError) as e:
    raise ModelDirError(
        'the checkpoint %s is truncated or corrupt (%s): restore it, or '
        'delete its files and its lines in %s to go back to the one before'
        % (checkpoint, str(e).strip().splitlines()[0],
           os.path.join(os.path.dirname(checkpoint), 'checkpoint')))


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


def resolve_params(model_dir, overrides=None, **kwargs):
  """params.resolve with model_dir's description; see there for kwargs."""
  return params_lib.resolve(overrides, load_model_info(model_dir), **kwargs)
