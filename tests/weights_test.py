"""Tests for weights.py: bvlc_alexnet.npy in and out, and the run it makes.

No such file can be downloaded here: the tests write files of its format from
random numbers (He-scaled, fc8 scaled down so that the softmax stays far from
one-hot and the outputs vary with the input). An independent NumPy forward
pass of the BVLC network (convolutions, grouped convolutions, Caffe's LRN
formula, max pools, dense layers) is the reference for the imported run's
predictions, through estimator.predict, the export and the CLI.

The slow classes share one imported run (made once, about 240 MB on disk).
"""
import collections
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from numpy.lib import stride_tricks
import pytest
import tensorflow as tf

import alexnet_estimator
from alexnet_estimator import errors
from alexnet_estimator import imagenet
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import model_fn
from alexnet_estimator import params as params_lib
from alexnet_estimator import serving
from alexnet_estimator import train
from alexnet_estimator import weights as weights_lib
from tests import helpers

# The layers of bvlc_alexnet.npy and their weights' shapes, as the issue and
# the file's readers have them (written out, not taken from the package).
BVLC_SHAPES = collections.OrderedDict([
    ('conv1', (11, 11, 3, 96)), ('conv2', (5, 5, 48, 256)),
    ('conv3', (3, 3, 256, 384)), ('conv4', (3, 3, 192, 384)),
    ('conv5', (3, 3, 192, 256)), ('fc6', (9216, 4096)),
    ('fc7', (4096, 4096)), ('fc8', (4096, 1000))])
# Caffe's mean pixel, (B, G, R).
MEAN_BGR = np.array([103.939, 116.779, 123.68])
# With He-scaled layers the logits' std-dev is about 100 on these inputs:
# this brings it to about 3, so the probabilities are not one-hot.
FC8_GAIN = 0.03
WEIGHTS_PROGRAM = 'alexnet_estimator.weights'


def random_bvlc_weights(seed=0):
  """A dict of the file's format from random numbers: {layer: [W, b]}.

  Weights N(0, 2 / fan_in) (fc8 times FC8_GAIN), biases N(0, 1), float32.
  Activations stay near 100 on 0-255 images, where Caffe's LRN divides by
  about 1.3: it matters to the outputs.
  """
  rng = np.random.default_rng(seed)
  weights = collections.OrderedDict()
  for name, shape in BVLC_SHAPES.items():
    std = np.sqrt(2.0 / np.prod(shape[:-1]))
    if name == 'fc8':
      std *= FC8_GAIN
    kernel = rng.standard_normal(shape, dtype=np.float32)
    kernel *= np.float32(std)
    weights[name] = [kernel, rng.standard_normal(shape[-1:],
                                                 dtype=np.float32)]
  return weights


# The BVLC network in NumPy (float64), NHWC, written from Caffe's
# definitions rather than from the package.


def _windows(x, size, stride):
  """[N, H, W, C] -> [N, Ho, Wo, size, size, C] VALID windows (a view)."""
  n, h, w, c = x.shape
  rows, cols = (h - size) // stride + 1, (w - size) // stride + 1
  s = x.strides
  return stride_tricks.as_strided(
      x, (n, rows, cols, size, size, c),
      (s[0], s[1] * stride, s[2] * stride, s[1], s[2], s[3]))


def _conv_relu(x, kernel, bias, stride=1, pad=0, groups=1):
  """Caffe's convolution (zero pad, groups over the channels) and ReLU."""
  size, _, inputs, outputs = kernel.shape
  x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  patches = _windows(x, size, stride)
  n, rows, cols = patches.shape[:3]
  step = outputs // groups
  parts = [patches[..., g * inputs:(g + 1) * inputs].reshape(
      n * rows * cols, -1).dot(
          kernel[..., g * step:(g + 1) * step].reshape(-1, step))
           for g in range(groups)]
  out = np.concatenate(parts, axis=-1).reshape(n, rows, cols, outputs)
  return np.maximum(out + bias, 0)


def _lrn(x, local_size=5, alpha=1e-4, beta=0.75, k=1.0):
  """Caffe's across-channel LRN: x / (k + alpha/n * sum of n squares)^beta."""
  half = local_size // 2
  squares = np.pad(x ** 2, ((0, 0),) * 3 + ((half, half),))
  total = sum(squares[..., i:i + x.shape[-1]] for i in range(local_size))
  return x / (k + alpha / local_size * total) ** beta


def _pool(x):
  return _windows(x, 3, 2).max(axis=(3, 4))


def numpy_forward(weights, images):
  """Probabilities [N, 1000] of the BVLC AlexNet on images [N, 227, 227, 3].

  Args:
    weights: {layer: [W, b]} of the file's format.
    images: BGR less the mean, as the network's input.
  """
  w = {k: [a.astype(np.float64) for a in v] for k, v in weights.items()}
  x = np.asarray(images, np.float64)
  x = _pool(_lrn(_conv_relu(x, *w['conv1'], stride=4)))
  x = _pool(_lrn(_conv_relu(x, *w['conv2'], pad=2, groups=2)))
  x = _conv_relu(x, *w['conv3'], pad=1)
  x = _conv_relu(x, *w['conv4'], pad=1, groups=2)
  x = _pool(_conv_relu(x, *w['conv5'], pad=1, groups=2))
  x = x.reshape(len(x), -1)  # pool5 flattened in (H, W, C) order
  x = np.maximum(x.dot(w['fc6'][0]) + w['fc6'][1], 0)
  x = np.maximum(x.dot(w['fc7'][0]) + w['fc7'][1], 0)
  logits = x.dot(w['fc8'][0]) + w['fc8'][1]
  e = np.exp(logits - logits.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


class _Python2Pickler(pickle._Pickler):  # pylint: disable=protected-access
  """Writes bytes as Python 2's str (BINSTRING): a pickle as Python 2 made.

  bvlc_alexnet.npy was saved under Python 2: its keys and its arrays' data
  are such strings, which Python 3 reads only with an `encoding`.
  """
  dispatch = dict(pickle._Pickler.dispatch)  # pylint: disable=protected-access

  def save_python2_str(self, obj):
    if len(obj) < 256:
      self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
    else:
      self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + obj)
    self.memoize(obj)
  dispatch[bytes] = save_python2_str


def save_as_python2(weights, path):
  """numpy.save's file of `weights` as Python 2 writes it (str keys)."""
  holder = np.empty((), dtype=object)
  holder[()] = {name.encode('ascii'): value for name, value in weights.items()}
  with open(path, 'wb') as f:
    np.lib.format.write_array_header_1_0(
        f, np.lib.format.header_data_from_array_1_0(holder))
    _Python2Pickler(f, protocol=2).dump(holder)


def run_weights_cli(*args):
  """Runs `python -m alexnet_estimator.weights ARGS`: (code, stdout, stderr)."""
  proc = subprocess.run(
      [sys.executable, '-m', WEIGHTS_PROGRAM] + list(args),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=helpers.cli_env(),
      universal_newlines=True, timeout=600)
  return proc.returncode, proc.stdout, proc.stderr


def _read_npy(path):
  return np.load(path, allow_pickle=True, encoding='latin1').item()


def _zeros(shapes):
  """{layer: [W, b]} of read-only zero views: no memory, any shape."""
  return {name: [np.broadcast_to(np.float32(0), shape),
                 np.broadcast_to(np.float32(0), shape[-1:])]
          for name, shape in shapes.items()}


def _assert_bit_identical(test, got, expected):
  test.assertEqual(list(got), list(expected))
  for name in expected:
    test.assertLen(got[name], 2)
    for a, b in zip(got[name], expected[name]):
      test.assertEqual(a.dtype, b.dtype, msg=name)
      test.assertEqual(a.shape, b.shape, msg=name)
      test.assertEqual(a.tobytes(), b.tobytes(), msg=name)


class ParseTest(tf.test.TestCase):
  """What a file may hold: refusals name the layer and both shapes."""

  def _refused(self, obj, *parts):
    with self.assertRaises(errors.DataError) as caught:
      weights_lib.parse(obj, 'w.npy')
    message = str(caught.exception)
    self.assertNotIn('\n', message)
    self.assertTrue(message.startswith('w.npy: '), message)
    for part in parts:
      self.assertIn(part, message)
    return message

  def test_the_bvlc_shapes_are_the_imported_networks(self):
    shapes = weights_lib.file_shapes(weights_lib.imported_params())
    self.assertEqual(list(shapes), list(BVLC_SHAPES))
    for name, shape in BVLC_SHAPES.items():
      self.assertEqual(shapes[name], (shape, shape[-1:]))

  def test_a_weights_shape_that_differs_is_refused(self):
    obj = _zeros(dict(BVLC_SHAPES, conv2=(5, 5, 96, 256)))  # ungrouped
    self._refused(obj, 'conv2 weights', '(5, 5, 96, 256)', '(5, 5, 48, 256)')
    obj = _zeros(dict(BVLC_SHAPES, fc6=(6400, 4096)))  # a 224 input's
    self._refused(obj, 'fc6 weights', '(6400, 4096)', '(9216, 4096)')
    obj = _zeros(dict(BVLC_SHAPES, fc8=(4096, 10)))
    self._refused(obj, 'fc8 weights', '(4096, 10)', '(4096, 1000)')

  def test_a_bias_shape_that_differs_is_refused(self):
    obj = _zeros(BVLC_SHAPES)
    obj['conv3'][1] = np.zeros([383], np.float32)
    self._refused(obj, 'conv3 biases', '(383,)', '(384,)')

  def test_missing_and_unknown_layers_are_refused(self):
    obj = _zeros(BVLC_SHAPES)
    del obj['fc8']
    self._refused(obj, 'has no layer fc8')
    obj = _zeros(dict(BVLC_SHAPES, fc9=(4096, 10)))
    self._refused(obj, "'fc9'")

  def test_what_is_no_dict_of_pairs_is_refused(self):
    self._refused(np.zeros([3, 3]), 'not a dict', '(3, 3)')
    obj = _zeros(BVLC_SHAPES)
    obj['conv1'] = obj['conv1'][:1]
    self._refused(obj, 'layer conv1', 'not [weights, biases]')
    obj = _zeros(BVLC_SHAPES)
    obj['conv4'][0] = np.array('text')
    self._refused(obj, 'conv4 weights', 'not numbers')

  def test_values_that_are_not_finite_are_refused(self):
    obj = _zeros(BVLC_SHAPES)
    obj['fc7'][1] = np.full([4096], np.nan, np.float32)
    self._refused(obj, 'fc7 biases', 'NaN')

  def test_str_and_bytes_keys_and_numpy_saves_holder(self):
    obj = _zeros(BVLC_SHAPES)
    holder = np.empty((), dtype=object)
    holder[()] = {k.encode('ascii'): v for k, v in obj.items()}
    for given in (obj, holder, holder.item()):
      parsed = weights_lib.parse(given, 'w.npy')
      self.assertEqual(list(parsed), list(BVLC_SHAPES))
      self.assertEqual(parsed['conv2'][0].shape, (5, 5, 48, 256))
      self.assertEqual(parsed['conv2'][0].dtype, np.float32)

  def test_grouped_layers_split_into_their_groups_and_back(self):
    # Each output channel holds its own number: a group's kernel shows which
    # outputs it got.
    obj = {name: [np.broadcast_to(np.arange(s[-1], dtype=np.float32), s),
                  np.arange(s[-1], dtype=np.float32) + 0.5]
           for name, s in BVLC_SHAPES.items()}
    params = weights_lib.imported_params()
    variables = weights_lib.to_variables(
        weights_lib.parse(obj, 'w.npy'), params)
    shapes = model_dir_lib.model_variable_shapes(params)
    self.assertEqual(set(variables), set(shapes))
    for name, value in variables.items():
      self.assertEqual(list(value.shape), shapes[name], msg=name)
    self.assertAllEqual(variables['conv2/group1/kernel'][0, 0, 0],
                        np.arange(128, 256))
    self.assertAllEqual(variables['conv5/group0/bias'],
                        np.arange(128) + 0.5)
    self.assertAllEqual(variables['dense1/kernel'][0], np.arange(4096))
    self.assertEqual(variables['logits/bias'].shape, (1000,))
    back = weights_lib.from_variables(variables.__getitem__, params)
    for name in BVLC_SHAPES:
      for got, expected in zip(back[name], obj[name]):
        self.assertAllEqual(got, expected)


class UsageTest(tf.test.TestCase):

  def test_flags_that_do_not_fit_are_refused(self):
    folder = self.get_temp_dir()
    for kwargs in ({}, {'import_from': 'a.npy'},
                   {'model_dir': folder},
                   {'model_dir': folder, 'import_from': 'a.npy',
                    'export_to': 'b.npy'}):
      with self.assertRaises(errors.UsageError):
        weights_lib.run(**kwargs)

  def test_a_missing_or_unreadable_file_is_named(self):
    folder = self.get_temp_dir()
    missing = os.path.join(folder, 'missing.npy')
    with self.assertRaisesRegex(errors.UsageError, 'no such file'):
      weights_lib.run(os.path.join(folder, 'run'), import_from=missing)
    text = helpers.write(os.path.join(folder, 'notes.npy'), b'not numpy\n')
    with self.assertRaisesRegex(errors.DataError, 'notes.npy: not a .npy'):
      weights_lib.run(os.path.join(folder, 'run'), import_from=text)
    self.assertFalse(os.path.exists(os.path.join(folder, 'run')))

  def test_export_needs_a_trained_run(self):
    folder = self.get_temp_dir()
    with self.assertRaisesRegex(errors.ModelDirError, 'no trained model'):
      weights_lib.run(folder, export_to=os.path.join(folder, 'out.npy'))

  def test_export_refuses_another_geometry(self):
    # A small tutorial-style run: 67x67 input, conv2 in one group.
    run = os.path.join(self.get_temp_dir(), 'tutorial_run')
    params = params_lib.make_params(image_size=67, num_classes=2)
    with tf.Graph().as_default():
      tf.train.create_global_step()
      model_fn.alexnet(tf.zeros([1, 67, 67, 3]), False, params)
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        tf.train.Saver().save(sess, os.path.join(run, 'model.ckpt'),
                              global_step=0)
    model_dir_lib.save_model_info(run, params)
    out = os.path.join(self.get_temp_dir(), 'out.npy')
    with self.assertRaises(errors.ModelDirError) as caught:
      weights_lib.run(run, export_to=out)
    message = str(caught.exception)
    for part in ('BVLC', 'conv2', '(5, 5, 96, 256)', '(5, 5, 48, 256)'):
      self.assertIn(part, message)
    self.assertFalse(os.path.exists(out))


# One random-weights file and its imported run, made once for the slow
# classes: {'root', 'weights', 'npy', 'run', 'png', 'png_probabilities'}.
_SHARED = {}


def _shared():
  if not _SHARED:
    root = tempfile.mkdtemp(prefix='weights_test_')
    weights = random_bvlc_weights()
    npy = os.path.join(root, 'bvlc_alexnet.npy')
    np.save(npy, weights)  # Python 3: str keys
    run = os.path.join(root, 'imported')
    weights_lib.import_weights(npy, run)
    array = np.random.RandomState(5).randint(0, 256, (256, 256, 3)).astype(
        np.uint8)
    png = helpers.write_image(os.path.join(root, 'photo.png'), array)
    # Caffe's test phase on a 256x256 image: the centre 227 crop, BGR.
    crop = array[14:241, 14:241, ::-1] - MEAN_BGR
    _SHARED.update(root=root, weights=weights, npy=npy, run=run, png=png,
                   png_probabilities=numpy_forward(weights, crop[None])[0])
  return _SHARED


def tearDownModule():  # pylint: disable=invalid-name
  if _SHARED:
    shutil.rmtree(_SHARED['root'], ignore_errors=True)


@pytest.mark.slow
class ImportedRunTest(tf.test.TestCase):
  """An imported run predicts, exports and exports back as the file says."""

  @classmethod
  def setUpClass(cls):
    super(ImportedRunTest, cls).setUpClass()
    cls.shared = _shared()

  def test_the_run_is_a_step_0_checkpoint_and_a_description(self):
    run, weights = self.shared['run'], self.shared['weights']
    checkpoint = tf.train.latest_checkpoint(run)
    self.assertEqual(os.path.basename(checkpoint), 'model.ckpt-0')
    stored = dict(tf.train.list_variables(checkpoint))
    params = weights_lib.imported_params()
    expected = model_dir_lib.model_variable_shapes(params)
    self.assertEqual(set(stored), set(expected) | {'global_step'})
    for name, shape in expected.items():
      self.assertEqual(list(stored[name]), shape, msg=name)
    reader = tf.train.load_checkpoint(checkpoint)
    self.assertEqual(reader.get_tensor('global_step'), 0)
    self.assertAllEqual(reader.get_tensor('conv2/group1/kernel'),
                        weights['conv2'][0][..., 128:])
    self.assertAllEqual(reader.get_tensor('conv4/group0/bias'),
                        weights['conv4'][1][:192])
    self.assertAllEqual(reader.get_tensor('dense1/kernel'),
                        weights['fc6'][0])
    self.assertAllEqual(reader.get_tensor('logits/bias'), weights['fc8'][1])
    info = model_dir_lib.load_model_info(run)
    self.assertEqual(info['class_names'], list(imagenet.class_names()))
    self.assertEqual(info['class_names'][281], 'tabby, tabby cat')
    for key, value in dict(image_size=227, lrn_convention='caffe',
                           conv_groups=2, preprocessing='caffe',
                           resize_side=256, eval_crops=1).items():
      self.assertEqual(info[key], value, msg=key)
    # Training may go on in the run itself: plain SGD, no slots missing.
    model_dir_lib.check_resumable(run, model_dir_lib.resolve_params(run))

  def test_estimator_predict_matches_the_numpy_network(self):
    rng = np.random.RandomState(0)
    noise = rng.uniform(0, 255, (227, 227, 3))
    ramp = np.broadcast_to(np.linspace(0, 255, 227)[:, None, None],
                           (227, 227, 3)) * [1.0, 0.5, 0.2]
    images = (np.stack([noise, ramp]) - MEAN_BGR).astype(np.float32)
    expected = numpy_forward(self.shared['weights'], images)
    # The outputs depend on the input and are far from one-hot, so a match
    # to 1e-4 says something.
    self.assertGreater(np.abs(expected[0] - expected[1]).max(), 1e-2)
    self.assertLess(expected.max(), 0.9)

    est = alexnet_estimator.build_estimator(self.shared['run'])
    self.assertEqual(est.params['preprocessing'], 'caffe')
    got = np.stack([p['probabilities'] for p in est.predict(
        lambda: tf.data.Dataset.from_tensors({'x': images}))])
    self.assertAllClose(got, expected, rtol=0, atol=1e-4)

  def test_the_export_answers_a_png_as_the_numpy_network_its_centre(self):
    export_dir = os.path.join(self.get_temp_dir(), 'export')
    result = train.run(train.Options(mode='export',
                                     model_dir=self.shared['run'],
                                     export_dir=export_dir), out=io.StringIO())
    with open(self.shared['png'], 'rb') as f:
      data = f.read()
    with serving.Predictor(result.export_path) as predictor:
      served = predictor.predict(data)
    expected = self.shared['png_probabilities']
    self.assertAllClose(served['probabilities'][0], expected, rtol=0,
                        atol=1e-4)
    self.assertEqual(tf.compat.as_str(served['class_names'][0]),
                     imagenet.class_names()[int(np.argmax(expected))])

  def test_cli_predict_prints_an_imagenet_class(self):
    code, stdout, stderr = helpers.run_cli(
        '--mode', 'predict', '--model_dir', self.shared['run'],
        self.shared['png'])
    self.assertEqual(code, 0, msg=stderr)
    line = json.loads(stdout.strip().splitlines()[-1])
    expected = self.shared['png_probabilities']
    top = int(np.argmax(expected))
    self.assertEqual(line['class_id'], top)
    self.assertEqual(line['class_name'], imagenet.class_names()[top])
    self.assertAllClose(line['probability'], expected[top], atol=1e-4)

  def test_export_to_gives_the_file_back_bit_for_bit(self):
    out = os.path.join(self.get_temp_dir(), 'exported.npy')
    code, stdout, stderr = run_weights_cli(
        '--model_dir', self.shared['run'], '--export_to', out)
    self.assertEqual(code, 0, msg=stderr)
    self.assertEqual(stdout.strip(), out)
    _assert_bit_identical(self, _read_npy(out), self.shared['weights'])
    # Pickle protocol 2, which Python 2 reads too.
    with open(out, 'rb') as f:
      np.lib.format.read_magic(f)
      np.lib.format.read_array_header_1_0(f)
      opcode, protocol, _ = next(pickletools.genops(f))
    self.assertEqual((opcode.name, protocol), ('PROTO', 2))

  def test_python2_str_keys_and_bytes_keys_read_the_same(self):
    folder = self.get_temp_dir()
    weights = self.shared['weights']
    python2 = os.path.join(folder, 'python2.npy')
    save_as_python2(weights, python2)
    with self.assertRaises(UnicodeError):  # what encoding='latin1' is for
      np.load(python2, allow_pickle=True)
    as_bytes = os.path.join(folder, 'bytes_keys.npy')
    np.save(as_bytes, {k.encode('ascii'): v for k, v in weights.items()})
    for path in (python2, as_bytes, self.shared['npy']):
      loaded = weights_lib.load(path)
      _assert_bit_identical(self, {k: list(v) for k, v in loaded.items()},
                            weights)

  def test_importing_into_a_folder_with_checkpoints_is_refused(self):
    run = self.shared['run']
    before = {name: os.path.getmtime(os.path.join(run, name))
              for name in os.listdir(run)}
    with self.assertRaises(errors.ModelDirError) as caught:
      weights_lib.run(run, import_from=self.shared['npy'])
    self.assertIn('already holds checkpoints', str(caught.exception))
    self.assertEqual(caught.exception.exit_code, 1)
    self.assertEqual(before, {name: os.path.getmtime(os.path.join(run, name))
                              for name in os.listdir(run)})

  def test_cli_refuses_a_wrong_shape_in_one_line(self):
    folder = self.get_temp_dir()
    bad = dict(_zeros(BVLC_SHAPES), conv1=[np.zeros([11, 11, 1, 96]),
                                           np.zeros([96])])
    npy = os.path.join(folder, 'gray.npy')
    np.save(npy, {k: [np.ascontiguousarray(a) for a in v]
                  for k, v in bad.items() if k.startswith('conv')})
    run = os.path.join(folder, 'run')
    code, _, stderr = run_weights_cli('--import_from', npy, '--model_dir',
                                      run)
    self.assertEqual(code, 1, msg=stderr)
    lines = stderr.strip().splitlines()
    self.assertLen(lines, 1, msg=stderr)
    self.assertTrue(lines[0].startswith(WEIGHTS_PROGRAM + ': error: '))
    for part in ('conv1 weights', '(11, 11, 1, 96)', '(11, 11, 3, 96)'):
      self.assertIn(part, lines[0])
    self.assertFalse(os.path.exists(run))


@pytest.mark.slow
class FineTuneTest(tf.test.TestCase):
  """Fine-tuning the imported run onto 3 classes with frozen layers."""

  def test_frozen_layers_stay_bit_identical(self):
    shared = _shared()
    folder = self.get_temp_dir()
    data = os.path.join(folder, 'data')
    helpers.make_tree(data, classes=('cat', 'dog', 'fox'), train_per_class=2,
                      validation_per_class=1, image_size=(40, 30))
    tuned = os.path.join(folder, 'tuned')
    train.run(train.Options(
        mode='train', data_dir=data, model_dir=tuned,
        warm_start_from=shared['run'], max_train_steps=2,
        overrides={'trainable_layers': 'conv5,dense1,dense2,logits',
                   'batch_size': 2}), out=io.StringIO())

    info = model_dir_lib.load_model_info(tuned)  # the source's network
    self.assertEqual(info['class_names'], ['cat', 'dog', 'fox'])
    for key, value in dict(image_size=227, lrn_convention='caffe',
                           conv_groups=2, preprocessing='caffe').items():
      self.assertEqual(info[key], value, msg=key)
    source = tf.train.load_checkpoint(tf.train.latest_checkpoint(
        shared['run']))
    result = tf.train.load_checkpoint(tf.train.latest_checkpoint(tuned))
    self.assertEqual(result.get_tensor('global_step'), 2)
    names = sorted(model_dir_lib.model_variable_shapes(
        weights_lib.imported_params()))
    frozen = [n for n in names if n.split('/')[0] in
              ('conv1', 'conv2', 'conv3', 'conv4')]
    trained = [n for n in names if n.split('/')[0] in
               ('conv5', 'dense1', 'dense2')]
    self.assertLen(frozen, 12)
    for name in frozen:
      a, b = source.get_tensor(name), result.get_tensor(name)
      self.assertEqual(a.dtype, b.dtype)
      self.assertEqual(a.tobytes(), b.tobytes(), msg=name)
    for name in ('conv5/group1/kernel', 'dense1/kernel', 'dense2/bias'):
      self.assertFalse(np.array_equal(source.get_tensor(name),
                                      result.get_tensor(name)), msg=name)
    self.assertEqual(
        {n for n in names if n not in frozen + trained},
        {'logits/kernel', 'logits/bias'})
    self.assertEqual(result.get_tensor('logits/kernel').shape, (4096, 3))
    self.assertTrue(np.isfinite(result.get_tensor('dense1/kernel')).all())


if __name__ == '__main__':
  tf.test.main()
