r"""Imports the pretrained BVLC AlexNet (bvlc_alexnet.npy) as a run, and back.

  python -m alexnet_estimator.weights --import_from bvlc_alexnet.npy \
      --model_dir RUN
  python -m alexnet_estimator.weights --model_dir RUN --export_to OUT.npy

The file is the BVLC (Caffe model zoo) AlexNet converted to NumPy, as Michael
Guerzhoy's "AlexNet implementation + weights in TensorFlow" page offers it and
kratzert's finetune_alexnet_with_tensorflow and its descendants load it: a
pickled dict saved with numpy.save under Python 2, {'conv1': [W, b], ...,
'fc8': [W, b]}, convolutions HWIO, each group of a grouped layer seeing half
the input channels:

  conv1 (11, 11, 3, 96)   conv2 (5, 5, 48, 256)   conv3 (3, 3, 256, 384)
  conv4 (3, 3, 192, 384)  conv5 (3, 3, 192, 256)
  fc6 (9216, 4096) over pool5 flattened in NHWC order, fc7 (4096, 4096),
  fc8 (4096, 1000)

That is this package's network with image_size 227, lrn_convention caffe and
conv_groups 2 (IMPORTED_SETTINGS); fc6, fc7 and fc8 are our dense1, dense2 and
logits, and a grouped layer's W and b split along their last axis into
NAME/group0 and NAME/group1. Its input is Caffe's: preprocessing caffe.

--import_from writes --model_dir as a complete run: a checkpoint at global step
0 and the model description with the 1000 ILSVRC-2012 class names, so predict,
eval, export, build_estimator(RUN) and --warm_start_from RUN need no other
flag. Nothing is fetched: get the file yourself (docs/pretrained.md).
--export_to writes a run's latest checkpoint in the same format (pickle
protocol 2, which Python 2 and 3 both read), any number of classes in fc8;
import then export gives back the same arrays, bit for bit.

A file that is not such a dict, or whose layers or shapes differ, is refused in
one line naming the layer and both shapes; so are importing into a folder that
holds checkpoints and exporting a network of another geometry. Exit codes as
the training CLI's: 1 the file or the run folder, 2 a flag.
"""
import collections
import os
import pickle
import uuid

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # hide C++ start-up INFO

# pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from alexnet_estimator import cli
from alexnet_estimator import errors
from alexnet_estimator import files
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import imagenet
from alexnet_estimator import log
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import params as params_lib

FLAGS = flags.FLAGS
PROGRAM = 'alexnet_estimator.weights'

# The file's layers, input to output, and the layer of ours each one is.
LAYERS = collections.OrderedDict([
    ('conv1', 'conv1'), ('conv2', 'conv2'), ('conv3', 'conv3'),
    ('conv4', 'conv4'), ('conv5', 'conv5'), ('fc6', 'dense1'),
    ('fc7', 'dense2'), ('fc8', 'logits'),
])

# The settings of the BVLC network and its input, which an imported run's
# description holds. eval_crops 1: Caffe's test phase takes the centre crop.
# The recipe stays the tutorial's: the network and its input are all above,
# and its plain SGD keeps no optimizer slots, so training can go on in the
# imported run itself (the checkpoint holds none).
IMPORTED_SETTINGS = dict(image_size=227, lrn_convention='caffe',
                         conv_groups=2, preprocessing='caffe',
                         resize_side=256, eval_crops=1, recipe='tutorial')

# The checkpoint an import writes, as an Estimator names its own.
CHECKPOINT_PREFIX = 'model.ckpt'
# Python 2 reads pickle protocols 0 to 2.
PICKLE_PROTOCOL = 2


def imported_params():
  """The params of an imported run: the BVLC network, ImageNet's classes."""
  names = imagenet.class_names()
  return params_lib.make_params(IMPORTED_SETTINGS, class_names=names,
                                num_classes=len(names))


def _shape(shape):
  """A shape as the messages show it, e.g. (5, 5, 48, 256)."""
  return str(tuple(int(d) for d in shape))


def _groups(layer, shapes):
  """Variable name prefixes of our `layer`: [layer] or its groups in order."""
  if '%s/kernel' % layer in shapes:
    return [layer]
  prefixes = []
  while '%s/group%d/kernel' % (layer, len(prefixes)) in shapes:
    prefixes.append('%s/group%d' % (layer, len(prefixes)))
  return prefixes


def file_shapes(params):
  """{file layer: (W shape, b shape)} of the network `params` describe.

  A grouped layer's W holds one group's input channels and every group's
  outputs, as the file stores it.
  """
  shapes = model_dir_lib.model_variable_shapes(params)
  result = collections.OrderedDict()
  for name, layer in LAYERS.items():
    kernels = [shapes[p + '/kernel'] for p in _groups(layer, shapes)]
    outputs = sum(k[-1] for k in kernels)
    result[name] = (tuple(kernels[0][:-1]) + (outputs,), (outputs,))
  return result


def _source_error(source, message):
  return errors.DataError('%s: %s' % (source, message))


def _as_float32(value, source, what):
  """`value` as a float32 array (no copy if it is one), finite."""
  array = np.asarray(value)
  if not (np.issubdtype(array.dtype, np.floating) or
          np.issubdtype(array.dtype, np.integer)):
    raise _source_error(source, '%s is of type %s, not numbers'
                        % (what, array.dtype))
  array = array.astype(np.float32, copy=False)
  if not np.isfinite(array).all():
    raise _source_error(source, '%s holds NaN or inf' % what)
  return array


def parse(obj, source):
  """Checks a loaded weights dict and returns its arrays.

  Args:
    obj: what the file holds: a dict {layer: [W, b]} (its keys str or bytes),
      or numpy.load's 0-d object array of it.
    source: how messages name it (the file's path).

  Returns:
    OrderedDict {layer: (W, b)} in LAYERS order, float32 arrays.

  Raises:
    errors.DataError: not such a dict, a layer missing or unknown, an entry
      that is not [W, b], a shape that differs (the layer and both shapes
      named), or values that are not finite numbers.
  """
  expected = file_shapes(imported_params())
  if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
    obj = obj.item()
  if not isinstance(obj, dict):
    raise _source_error(source, 'holds %s, not a dict of layers as '
                        'bvlc_alexnet.npy does' % _describe(obj))
  layers = {}
  for key, value in obj.items():
    name = key.decode('latin1') if isinstance(key, bytes) else key
    layers[str(name)] = value
  for name in layers:
    if name not in expected:
      raise _source_error(source, 'has a layer %r that the BVLC AlexNet has '
                          'not (its layers: %s)'
                          % (name, ', '.join(expected)))
  result = collections.OrderedDict()
  for name, shapes in expected.items():
    if name not in layers:
      raise _source_error(source, 'has no layer %s (the BVLC AlexNet\'s '
                          'layers: %s)' % (name, ', '.join(expected)))
    value = layers[name]
    if (isinstance(value, np.ndarray) and value.dtype == object and
        value.ndim == 1):
      value = list(value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
      raise _source_error(source, 'layer %s holds %s, not [weights, biases]'
                          % (name, _describe(value)))
    pair = []
    for what, array, shape in zip(('weights', 'biases'), value, shapes):
      array = _as_float32(array, source, '%s %s' % (name, what))
      if tuple(array.shape) != tuple(shape):
        raise _source_error(source, '%s %s have shape %s, the BVLC AlexNet\'s '
                            'have %s' % (name, what, _shape(array.shape),
                                         _shape(shape)))
      pair.append(array)
    result[name] = tuple(pair)
  return result


def _describe(obj):
  if isinstance(obj, np.ndarray):
    return 'an array of shape %s (%s)' % (_shape(obj.shape), obj.dtype)
  if isinstance(obj, (list, tuple)):
    return 'a %s of %d item(s)' % (type(obj).__name__, len(obj))
  return 'a %s' % type(obj).__name__


def load(path):
  """Reads and checks a file of bvlc_alexnet.npy's format (see `parse`).

  Python 2's pickles need encoding='latin1' (its str keys become str, its
  array bytes stay bytes); keys already bytes are decoded by `parse`.

  Raises:
    errors.UsageError: there is no such file.
    errors.DataError: it is not such a file; see `parse`.
  """
  if not tf.io.gfile.exists(path):
    raise errors.UsageError('--import_from %s: no such file' % path)
  if tf.io.gfile.isdir(path):
    raise errors.UsageError('--import_from %s is a folder, not a .npy file'
                            % path)
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      obj = np.load(f, allow_pickle=True, encoding='latin1')
  except (ValueError, OSError, EOFError, pickle.UnpicklingError,
          AttributeError, ImportError, IndexError, TypeError) as e:
    raise _source_error(path, 'not a .npy file of weights as '
                        'bvlc_alexnet.npy (%s: %s)'
                        % (type(e).__name__, str(e).splitlines()[0]
                           if str(e) else ''))
  return parse(obj, path)


def to_variables(weights, params):
  """The file's arrays as the network's variables.

  Args:
    weights: OrderedDict {file layer: (W, b)}, as `parse` returns it.
    params: the network's params (imported_params()).

  Returns:
    OrderedDict {variable name: float32 array}, grouped layers split along
    the last axis into their groups (views, no copies).
  """
  shapes = model_dir_lib.model_variable_shapes(params)
  variables = collections.OrderedDict()
  for name, layer in LAYERS.items():
    kernel, bias = weights[name]
    prefixes = _groups(layer, shapes)
    for prefix, k, b in zip(prefixes,
                            np.split(kernel, len(prefixes), axis=-1),
                            np.split(bias, len(prefixes), axis=-1)):
      variables[prefix + '/kernel'] = k
      variables[prefix + '/bias'] = b
  for name, value in variables.items():  # the split's own consistency
    assert list(value.shape) == shapes[name], (name, value.shape)
  return variables


def from_variables(read, params):
  """A run's variables as the file's arrays: `to_variables` undone.

  Args:
    read: function variable name -> array (e.g. a checkpoint reader's
      get_tensor).
    params: the run's params.

  Returns:
    OrderedDict {file layer: [W, b]}, groups concatenated along the last axis.
  """
  shapes = model_dir_lib.model_variable_shapes(params)
  weights = collections.OrderedDict()
  for name, layer in LAYERS.items():
    prefixes = _groups(layer, shapes)
    weights[name] = [
        np.concatenate([read(p + '/' + kind) for p in prefixes], axis=-1)
        if len(prefixes) > 1 else read(prefixes[0] + '/' + kind)
        for kind in ('kernel', 'bias')]
  return weights


def _check_import_target(model_dir):
  """Raises unless model_dir may receive an imported run."""
  if tf.io.gfile.exists(model_dir) and not tf.io.gfile.isdir(model_dir):
    raise errors.UsageError('--model_dir %s is a file, not a folder'
                            % model_dir)
  if tf.train.latest_checkpoint(model_dir) is not None:
    raise errors.ModelDirError(
        '--model_dir %s already holds checkpoints: import into a new folder '
        '(nothing was written)' % model_dir)


def _write_checkpoint(model_dir, variables):
  """Writes `variables` and global_step 0 as model_dir's latest checkpoint.

  One variable is fed at a time, from its own array, so memory holds the
  arrays and the variables once each (about 2 x 240 MB for AlexNet), never a
  graph constant of them. The checkpoint state file, written last and
  atomically by the Saver, is what makes the checkpoint visible.
  """
  with tf.Graph().as_default():
    global_step = tf.train.create_global_step()
    saved = {'global_step': global_step}
    feeds = []
    for name, value in variables.items():
      # The zeros are never computed: the assignment initialises it.
      variable = tf.Variable(tf.zeros(value.shape, tf.float32),
                             name=name.replace('/', '_'))
      saved[name] = variable
      placeholder = tf.placeholder(tf.float32, value.shape)
      feeds.append((tf.assign(variable, placeholder), placeholder, value))
    saver = tf.train.Saver(saved, save_relative_paths=True)
    with tf.Session() as sess:
      sess.run(global_step.initializer)
      for assign, placeholder, value in feeds:
        sess.run(assign.op, {placeholder: value})
      return saver.save(sess, os.path.join(model_dir, CHECKPOINT_PREFIX),
                        global_step=0, write_meta_graph=False)


def import_weights(path, model_dir):
  """Writes the weights file `path` into `model_dir` as a run at step 0.

  Every check (the folder, the file, each layer's shape) passes before
  anything is written. Then the model description (the BVLC network's
  settings, the ImageNet class names), then the checkpoint, whose state file
  comes last: until it exists the folder holds no checkpoint, and an import
  that died half-way can simply be run again.

  Args:
    path: a file of bvlc_alexnet.npy's format.
    model_dir: the run's folder; it must hold no checkpoint.

  Returns:
    The run's params (imported_params()).

  Raises:
    errors.Error: the folder holds checkpoints, or the file is refused.
  """
  _check_import_target(model_dir)
  params = imported_params()
  variables = to_variables(load(path), params)
  tf.io.gfile.makedirs(model_dir)
  model_dir_lib.save_model_info(model_dir, params)
  checkpoint = _write_checkpoint(model_dir, variables)
  logging.info('Imported %s into %s (%s, global step 0): the BVLC AlexNet, '
               '%d ImageNet classes, Caffe preprocessing.', path, model_dir,
               os.path.basename(checkpoint), params['num_classes'])
  return params


def _trained_params(model_dir):
  """The params of the trained run in model_dir, checked against its files."""
  if model_dir_lib.load_model_info(model_dir) is None:
    raise errors.ModelDirError(
        '--model_dir %s holds no trained model (no %s)'
        % (model_dir, model_dir_lib.MODEL_INFO_FILE))
  try:
    params = model_dir_lib.resolve_params(model_dir)
  except params_lib.ParamError as e:
    raise errors.ModelDirError('%s: %s' % (
        model_dir_lib.model_info_path(model_dir), e))
  if tf.train.latest_checkpoint(model_dir) is None:
    raise errors.ModelDirError('--model_dir %s has no checkpoint'
                               % model_dir)
  model_dir_lib.check_compatible(model_dir, params)
  return params


def _check_geometry(model_dir, params):
  """Raises ModelDirError unless the run's layers fit the file's format.

  Every shape must be the BVLC AlexNet's but fc8's number of classes.
  """
  expected = file_shapes(imported_params())
  expected['fc8'] = ((expected['fc8'][0][0], params['num_classes']),
                     (params['num_classes'],))
  for name, (kernel, _) in file_shapes(params).items():
    if tuple(kernel) != tuple(expected[name][0]):
      raise errors.ModelDirError(
          '--model_dir %s holds another network than the BVLC AlexNet: its '
          '%s weights would have shape %s, the format\'s have %s (it needs '
          'image_size 227 and conv_groups 2; this run has %d and %d)'
          % (model_dir, name, _shape(kernel), _shape(expected[name][0]),
             params['image_size'], params['conv_groups']))


def save(weights, path):
  """Writes {layer: [W, b]} as bvlc_alexnet.npy is written, atomically.

  numpy.save's format (a 0-d object array holding the dict), pickled with
  protocol 2 so that Python 2, like 3, reads it. The file is written under a
  temporary name beside `path`, then renamed.
  """
  holder = np.empty((), dtype=object)
  holder[()] = dict(weights)
  folder = os.path.dirname(path)
  if folder:
    tf.io.gfile.makedirs(folder)
  temp = '%s%s-%d-%s' % (path, files.TEMP_MARKER, os.getpid(),
                         uuid.uuid4().hex)
  try:
    with tf.io.gfile.GFile(temp, 'wb') as f:
      np.lib.format.write_array_header_1_0(
          f, np.lib.format.header_data_from_array_1_0(holder))
      pickle.dump(holder, f, protocol=PICKLE_PROTOCOL)
    tf.io.gfile.rename(temp, path, overwrite=True)
  except (tf.errors.OpError, IOError, OSError):
    if tf.io.gfile.exists(temp):
      tf.io.gfile.remove(temp)
    raise


def export_weights(model_dir, path):
  """Writes model_dir's latest checkpoint to `path` in the file's format.

  Raises:
    errors.ModelDirError: no trained run, or a network of another geometry.
  """
  params = _trained_params(model_dir)
  _check_geometry(model_dir, params)
  if (params['lrn_convention'] != 'caffe' or
      params['preprocessing'] != 'caffe'):
    logging.warning(
        '%s uses lrn_convention %s and preprocessing %s: code that reads '
        'bvlc_alexnet.npy normalises with Caffe\'s LRN and feeds BGR images '
        'less the ImageNet mean, so its outputs will differ from this run\'s.',
        model_dir, params['lrn_convention'], params['preprocessing'])
  checkpoint = tf.train.latest_checkpoint(model_dir)
  reader = tf.train.load_checkpoint(checkpoint)
  save(from_variables(reader.get_tensor, params), path)
  logging.info('Wrote %s (global step %d) to %s.', checkpoint,
               reader.get_tensor('global_step'), path)
  return path


def run(model_dir=None, import_from=None, export_to=None):
  """Imports or exports with plain values; returns the path written.

  Raises:
    errors.Error: a flag is missing or both directions are asked for, or the
      import or export is refused.
  """
  if not model_dir:
    raise errors.UsageError('--model_dir is required')
  if bool(import_from) == bool(export_to):
    raise errors.UsageError('give one of --import_from (a .npy file into '
                            '--model_dir) and --export_to (--model_dir into '
                            'a .npy file)')
  if import_from:
    import_weights(import_from, model_dir)
    return model_dir
  if tf.io.gfile.isdir(export_to):
    raise errors.UsageError('--export_to %s is a folder: give a file name'
                            % export_to)
  return export_weights(model_dir, export_to)


def main(argv):
  log.quiet(verbose=FLAGS.debug)

  def work():
    if len(argv) > 1:
      raise errors.UsageError('unexpected argument %r' % argv[1])
    print(run(FLAGS.model_dir, FLAGS.import_from, FLAGS.export_to))
  cli.guard(PROGRAM, work, FLAGS.debug)


def console_main():
  """Entry point of `python -m alexnet_estimator.weights`, `alexnet-weights`."""
  flags_lib.define_weights_flags()
  cli.run(main, __name__, PROGRAM)


if __name__ == '__main__':
  console_main()
