"""Tests for the network and model_fn: shapes, names, counts, specs, LRN."""
import numpy as np
import tensorflow as tf

from alexnet_estimator import distribution
from alexnet_estimator import fused_lrn
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib

# Tutorial network, num_classes=1000, 224x224x3 input (see model_fn docstring).
PAPER_CLASSES_PARAMS = 50844008

LAYER_VARIABLES = [
    ('conv1/kernel', [11, 11, 3, 96]), ('conv1/bias', [96]),
    ('conv2/kernel', [5, 5, 96, 256]), ('conv2/bias', [256]),
    ('conv3/kernel', [3, 3, 256, 384]), ('conv3/bias', [384]),
    ('conv4/kernel', [3, 3, 384, 384]), ('conv4/bias', [384]),
    ('conv5/kernel', [3, 3, 384, 256]), ('conv5/bias', [256]),
    ('dense1/kernel', [6400, 4096]), ('dense1/bias', [4096]),
    ('dense2/kernel', [4096, 4096]), ('dense2/bias', [4096]),
    ('logits/kernel', [4096, 1000]), ('logits/bias', [1000]),
]


def _lrn_reference(x, depth_radius, bias, alpha, beta):
  """NumPy LRN as tf.nn.lrn documents it (alpha not divided by the window)."""
  out = np.empty_like(x)
  channels = x.shape[-1]
  for c in range(channels):
    lo, hi = max(0, c - depth_radius), min(channels, c + depth_radius + 1)
    sqr_sum = np.sum(x[..., lo:hi] ** 2, axis=-1)
    out[..., c] = x[..., c] / (bias + alpha * sqr_sum) ** beta
  return out


def _lrn_gradient_reference(x, dy, depth_radius, bias, alpha, beta):
  """NumPy gradient of _lrn_reference with respect to x, given dy, float64.

  With d_c = bias + alpha * sum_{|j-c|<=r} x_j^2 and y_c = x_c * d_c^-beta:
  dx_j = dy_j * d_j^-beta
         - 2 * alpha * beta * x_j * sum_{|c-j|<=r} dy_c * x_c * d_c^(-beta-1).
  """
  x, dy = x.astype(np.float64), dy.astype(np.float64)
  channels = x.shape[-1]

  def window_sum(values):
    return np.stack([
        values[..., max(0, c - depth_radius):c + depth_radius + 1].sum(-1)
        for c in range(channels)], axis=-1)

  d = bias + alpha * window_sum(x ** 2)
  return (dy * d ** -beta -
          2 * alpha * beta * x * window_sum(dy * x * d ** (-beta - 1)))

# The paper's network (recipe 'paper': 227 input, conv2/4/5 in two groups) and
# the same with conv_groups=1, for 1000 classes.
PAPER_RECIPE_PARAMS = 60965224
PAPER_UNGROUPED_PARAMS = 62378344

PAPER_LAYER_VARIABLES = [
    ('conv1/kernel', [11, 11, 3, 96]), ('conv1/bias', [96]),
    ('conv2/group0/kernel', [5, 5, 48, 128]), ('conv2/group0/bias', [128]),
    ('conv2/group1/kernel', [5, 5, 48, 128]), ('conv2/group1/bias', [128]),
    ('conv3/kernel', [3, 3, 256, 384]), ('conv3/bias', [384]),
    ('conv4/group0/kernel', [3, 3, 192, 192]), ('conv4/group0/bias', [192]),
    ('conv4/group1/kernel', [3, 3, 192, 192]), ('conv4/group1/bias', [192]),
    ('conv5/group0/kernel', [3, 3, 192, 128]), ('conv5/group0/bias', [128]),
    ('conv5/group1/kernel', [3, 3, 192, 128]), ('conv5/group1/bias', [128]),
    ('dense1/kernel', [9216, 4096]), ('dense1/bias', [4096]),
    ('dense2/kernel', [4096, 4096]), ('dense2/bias', [4096]),
    ('logits/kernel', [4096, 1000]), ('logits/bias', [1000]),
]

# The paper's recipe scaled down to the smallest input (as in recipe_test).
SMALL_PAPER = {'recipe': 'paper', 'image_size': 67, 'resize_side': 76,
               'num_classes': 7, 'data_format': 'channels_last'}


def _paper_lrn(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
  """The paper's section 3.3 formula, channels last, in float64.

  b_i = a_i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a_j^2)^beta
  """
  a = a.astype(np.float64)
  channels = a.shape[-1]
  b = np.empty_like(a)
  for i in range(channels):
    lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
    total = sum(a[..., j] ** 2 for j in range(lo, hi + 1))
    b[..., i] = a[..., i] / (k + alpha * total) ** beta
  return b


def _caffe_lrn(a, local_size=5, alpha=1e-4, beta=0.75, k=1.0):
  """Caffe's LRNLayer ACROSS_CHANNELS (lrn_layer.cpp), channels last, float64.

  The squares are zero-padded by (local_size - 1) / 2 on each side, and
  scale_i = k + alpha / local_size * sum of the local_size squares around i;
  b_i = a_i * scale_i^-beta.
  """
  a = a.astype(np.float64)
  pre_pad = (local_size - 1) // 2
  pad = [(0, 0)] * (a.ndim - 1) + [(pre_pad, pre_pad)]
  padded_square = np.pad(a ** 2, pad, mode='constant')
  b = np.empty_like(a)
  for i in range(a.shape[-1]):
    window = padded_square[..., i:i + local_size].sum(axis=-1)
    b[..., i] = a[..., i] * (k + alpha / local_size * window) ** -beta
  return b


def _parameter_count(variables):
  return sum(int(np.prod(v.shape.as_list())) for v in variables)


class AlexnetTest(tf.test.TestCase):

  def test_224_shapes_names_and_parameter_count(self):
    with tf.Graph().as_default() as graph:
      images = tf.placeholder(tf.float32, [None, 224, 224, 3])
      logits = model_fn_lib.alexnet(images, True, params_lib.make_params())
      self.assertEqual(logits.shape.as_list(), [None, 1000])
      shapes = {
          'conv1/Relu:0': [54, 54, 96], 'lrn1:0': [54, 54, 96],
          'pool1/MaxPool:0': [26, 26, 96], 'conv2/Relu:0': [26, 26, 256],
          'lrn2:0': [26, 26, 256], 'pool2/MaxPool:0': [12, 12, 256],
          'conv5/Relu:0': [12, 12, 256], 'pool3/MaxPool:0': [5, 5, 256],
          'flatten/Reshape:0': [6400], 'dense2/Relu:0': [4096]}
      for name, shape in shapes.items():
        self.assertEqual(
            graph.get_tensor_by_name(name).shape.as_list(), [None] + shape,
            name)
      variables = [(v.op.name, v.shape.as_list())
                   for v in tf.trainable_variables()]
      self.assertEqual(variables, LAYER_VARIABLES)
      count = sum(int(np.prod(v.shape.as_list()))
                  for v in tf.trainable_variables())
      self.assertEqual(count, PAPER_CLASSES_PARAMS)

  def test_smallest_input_runs_and_dropout_only_in_training(self):
    params = params_lib.make_params(num_classes=5)
    images = tf.random.uniform([2, 67, 67, 3], seed=3)
    with tf.variable_scope('net'):
      train_logits = model_fn_lib.alexnet(images, True, params)
    with tf.variable_scope('net', reuse=True):
      eval_logits = model_fn_lib.alexnet(images, False, params)
    self.evaluate(tf.global_variables_initializer())
    first, second = self.evaluate([eval_logits, eval_logits])
    self.assertAllEqual(first.shape, [2, 5])
    self.assertAllClose(first, second)  # no dropout: repeatable
    # Training applies dropout, so two runs differ from each other.
    a, b = self.evaluate(train_logits), self.evaluate(train_logits)
    self.assertGreater(np.abs(a - b).max(), 0.0)

  def test_too_small_input_is_rejected_by_params(self):
    with self.assertRaisesRegex(params_lib.ParamError, 'image_size'):
      params_lib.make_params(image_size=66)

  def test_channels_first_has_the_same_variables_and_output_shape(self):
    # NCHW convolutions have no CPU kernels in TF 1.15: build the graph only.
    with tf.Graph().as_default():
      images = tf.placeholder(tf.float32, [None, 224, 224, 3])
      logits = model_fn_lib.alexnet(
          images, True, params_lib.make_params(data_format='channels_first'))
      self.assertEqual(logits.shape.as_list(), [None, 1000])
      self.assertEqual([(v.op.name, v.shape.as_list())
                        for v in tf.trainable_variables()], LAYER_VARIABLES)
      pool3 = tf.get_default_graph().get_tensor_by_name('pool3/MaxPool:0')
      self.assertEqual(pool3.shape.as_list(), [None, 256, 5, 5])

  def test_lrn_matches_numpy_reference(self):
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 10, size=[2, 3, 3, 16]).astype(np.float32)
    want = _lrn_reference(x, 5, 2.0, 1e-4, 0.75)
    for is_training in (True, False):  # the fused kernel, then tf.nn.lrn
      got = self.evaluate(model_fn_lib._lrn(
          tf.constant(x), 'channels_last', 'tutorial', is_training,
          'lrn_test'))
      self.assertAllClose(got, want, rtol=1e-5, atol=1e-6, msg=is_training)
    # The tutorial's settings, not the library defaults, are in force.
    self.assertEqual((model_fn_lib.LRN_DEPTH_RADIUS, model_fn_lib.LRN_BIAS,
                      model_fn_lib.LRN_ALPHA, model_fn_lib.LRN_BETA),
                     (5, 2.0, 1e-4, 0.75))


class ModelFnTest(tf.test.TestCase):

  def _spec(self, mode, features=None, labels=None, params=None):
    params = dict({'num_classes': 7, 'image_size': 67,
                   'class_names': ['c%d' % i for i in range(7)]},
                  **(params or {}))
    if features is None:
      features = {'x': tf.random.uniform([3, 67, 67, 3], seed=1)}
    if labels is None and mode != tf.estimator.ModeKeys.PREDICT:
      labels = tf.constant([0, 6, 2], tf.int32)
    tf.train.create_global_step()
    return model_fn_lib.model_fn(features, labels, mode, params)

  def test_predict_spec(self):
    features = {'x': tf.random.uniform([3, 67, 67, 3], seed=1),
                'file': tf.constant(['a', 'b', 'c'])}
    spec = self._spec(tf.estimator.ModeKeys.PREDICT, features)
    self.assertEqual(spec.predictions['probabilities'].op.name,
                     'softmax_tensor')
    self.assertEqual(spec.predictions['classes'].dtype, tf.int64)
    self.assertEqual(spec.predictions['class_names'].dtype, tf.string)
    self.assertIn('serving_default', spec.export_outputs)
    exported = spec.export_outputs['serving_default'].outputs
    self.assertEqual(sorted(exported),
                     ['class_names', 'classes', 'probabilities'])
    self.evaluate(tf.global_variables_initializer())
    out = self.evaluate(spec.predictions)
    self.assertAllEqual(out['probabilities'].shape, [3, 7])
    self.assertAllClose(out['probabilities'].sum(axis=1), np.ones(3))
    self.assertAllEqual(out['classes'],
                        out['probabilities'].argmax(axis=1))
    self.assertEqual([n.decode() for n in out['class_names']],
                     ['c%d' % c for c in out['classes']])
    self.assertAllEqual(out['file'], [b'a', b'b', b'c'])

  def test_bare_tensor_features_are_accepted(self):
    spec = self._spec(tf.estimator.ModeKeys.PREDICT,
                      tf.random.uniform([2, 67, 67, 3], seed=2))
    self.assertEqual(spec.predictions['probabilities'].shape.as_list(),
                     [2, 7])

  def test_eval_spec(self):
    spec = self._spec(tf.estimator.ModeKeys.EVAL,
                      labels=tf.constant([[0], [6], [2]], tf.int32))
    self.assertEqual(sorted(spec.eval_metric_ops),
                     ['accuracy', 'accuracy_top_5', 'num_images'])
    self.assertEqual(spec.loss.dtype, tf.float32)
    self.assertEqual(spec.loss.shape.as_list(), [])
    self.evaluate([tf.global_variables_initializer(),
                   tf.local_variables_initializer()])
    updates = {k: v[1] for k, v in spec.eval_metric_ops.items()}
    values = self.evaluate(updates)
    for key in ('accuracy', 'accuracy_top_5'):
      self.assertBetween(values[key], 0.0, 1.0)
    self.assertGreaterEqual(values['accuracy_top_5'], values['accuracy'])
    self.assertGreater(self.evaluate(spec.loss), 0.0)
    # num_images counts the examples the evaluation saw, batch by batch.
    self.assertEqual(values['num_images'], 3)
    self.evaluate(updates['num_images'])
    self.assertEqual(self.evaluate(spec.eval_metric_ops['num_images'][0]), 6)

  def test_frozen_layers_get_no_update_no_decay_and_no_slot(self):
    with tf.Graph().as_default():
      tf.train.create_global_step()
      images = tf.random.uniform([2, 67, 67, 3], seed=1)
      params = params_lib.make_params(
          num_classes=3, image_size=67, optimizer='momentum',
          weight_decay=5e-4, trainable_layers='conv5,logits')
      spec = model_fn_lib.model_fn({'x': images}, tf.constant([0, 1]),
                                   tf.estimator.ModeKeys.TRAIN, params)
      names = {v.op.name for v in tf.global_variables()}
      slots = sorted(n for n in names if n.endswith('/Momentum'))
      self.assertEqual(slots, ['conv5/bias/Momentum', 'conv5/kernel/Momentum',
                               'logits/bias/Momentum',
                               'logits/kernel/Momentum'])
      decay = tf.get_default_graph().get_tensor_by_name(
          'weight_decay_loss:0')
      variables = {v.op.name: v for v in tf.trainable_variables()}
      with self.session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(variables)
        expected = 5e-4 * sum(
            0.5 * np.sum(np.square(before[n])) for n in before
            if n.split('/')[0] in ('conv5', 'logits'))
        self.assertAllClose(sess.run(decay), expected, rtol=1e-5)
        for _ in range(2):
          sess.run(spec.train_op)
        after = sess.run(variables)
      for name in before:
        if name.split('/')[0] in ('conv5', 'logits'):
          self.assertFalse(np.array_equal(before[name], after[name]), name)
        else:
          self.assertAllEqual(before[name], after[name])

  def test_a_non_finite_step_fails_before_it_changes_a_variable(self):
    for dtype in ('fp32', 'fp16'):
      with tf.Graph().as_default():
        tf.train.create_global_step()
        images = tf.random.uniform([2, 67, 67, 3], seed=1)
        params = params_lib.make_params(num_classes=3, image_size=67,
                                        learning_rate=1e30, dtype=dtype)
        spec = model_fn_lib.model_fn({'x': images}, tf.constant([0, 1]),
                                     tf.estimator.ModeKeys.TRAIN, params)
        kernel = [v for v in tf.global_variables()
                  if v.op.name == 'logits/kernel'][0]
        with self.session() as sess:
          sess.run(tf.global_variables_initializer())
          failed_at = None
          for step in range(5):
            before = sess.run(kernel)
            try:
              sess.run(spec.train_op)
            except tf.errors.InvalidArgumentError as e:
              self.assertIn(model_fn_lib.DIVERGED, e.message)
              failed_at = step
              break
          self.assertIsNotNone(failed_at, dtype)
          self.assertAllEqual(sess.run(kernel), before)
          self.assertTrue(np.isfinite(before).all())

  def test_train_spec_is_the_tutorial_sgd_by_default(self):
    spec = self._spec(tf.estimator.ModeKeys.TRAIN)
    self.assertIsNotNone(spec.train_op)
    ops = {op.type for op in tf.get_default_graph().get_operations()}
    self.assertIn('ApplyGradientDescent', ops)
    self.assertNotIn('ApplyMomentum', ops)
    self.assertAllClose(self.evaluate(tf.get_default_graph().get_tensor_by_name(
        'learning_rate_value:0')), 0.01)
    self.evaluate(tf.global_variables_initializer())
    self.evaluate(spec.train_op)
    self.assertEqual(self.evaluate(tf.train.get_global_step()), 1)

  def test_train_spec_with_momentum(self):
    self._spec(tf.estimator.ModeKeys.TRAIN,
               params={'optimizer': 'momentum', 'momentum': 0.8,
                       'learning_rate': 0.05})
    ops = {op.type for op in tf.get_default_graph().get_operations()}
    self.assertIn('ApplyMomentum', ops)
    self.assertAllClose(self.evaluate(tf.get_default_graph().get_tensor_by_name(
        'learning_rate_value:0')), 0.05)

  def test_unknown_param_is_an_error(self):
    with self.assertRaisesRegex(params_lib.ParamError, 'learnin_rate'):
      self._spec(tf.estimator.ModeKeys.PREDICT,
                 params={'learnin_rate': 0.1})


class RecipeNetworkTest(tf.test.TestCase):
  """The paper's network beside the tutorial's: sizes, LRN, groups, init."""

  def _build(self, overrides):
    """alexnet of make_params(overrides) on a placeholder of its image_size.

    Returns (graph, params, trainable variables).
    """
    params = params_lib.make_params(overrides)
    graph = tf.Graph()
    with graph.as_default():
      size = params['image_size']
      images = tf.placeholder(tf.float32, [None, size, size, 3])
      logits = model_fn_lib.alexnet(images, True, params)
      self.assertEqual(logits.shape.as_list(), [None, params['num_classes']])
      variables = tf.trainable_variables()
    return graph, params, variables

  def test_parameter_counts_and_pool3_of_each_recipe_and_variant(self):
    self.assertEqual(params_lib.make_params(recipe='paper')['image_size'], 227)
    # (overrides, image_size, parameters, pool3 [H, W, C] or [C, H, W]).
    cases = [
        ({}, 224, PAPER_CLASSES_PARAMS, [5, 5, 256]),
        ({'lrn_convention': 'none'}, 224, PAPER_CLASSES_PARAMS, [5, 5, 256]),
        ({'lrn_convention': 'paper'}, 224, PAPER_CLASSES_PARAMS, [5, 5, 256]),
        ({'recipe': 'paper'}, 227, PAPER_RECIPE_PARAMS, [6, 6, 256]),
        ({'recipe': 'paper', 'lrn_convention': 'none'}, 227,
         PAPER_RECIPE_PARAMS, [6, 6, 256]),
        ({'recipe': 'paper', 'lrn_convention': 'caffe'}, 227,
         PAPER_RECIPE_PARAMS, [6, 6, 256]),
        ({'recipe': 'paper', 'conv_groups': 1}, 227, PAPER_UNGROUPED_PARAMS,
         [6, 6, 256]),
        ({'recipe': 'paper', 'conv_groups': 1, 'lrn_convention': 'none'}, 227,
         PAPER_UNGROUPED_PARAMS, [6, 6, 256]),
        # The tutorial's one tower at 227 is the ungrouped paper network.
        ({'image_size': 227}, 227, PAPER_UNGROUPED_PARAMS, [6, 6, 256]),
        # NCHW: graph only (no CPU kernels); pool3 is [C, H, W] there.
        ({'recipe': 'paper', 'data_format': 'channels_first'}, 227,
         PAPER_RECIPE_PARAMS, [256, 6, 6]),
    ]
    for overrides, size, count, pool3_shape in cases:
      graph, params, variables = self._build(overrides)
      self.assertEqual(params['image_size'], size, overrides)
      self.assertEqual(_parameter_count(variables), count, overrides)
      pool3 = graph.get_tensor_by_name('pool3/MaxPool:0')
      self.assertEqual(pool3.shape.as_list(), [None] + pool3_shape, overrides)
      # Each LRN layer's ops sit under its own name scope, whatever
      # computes it (a trace sums them by scope); each is one op forward.
      implementation = model_fn_lib.lrn_implementation(
          params['lrn_convention'])
      lrn_ops = [op for op in graph.get_operations()
                 if op.type in ('LRN', 'AlexnetLRN')]
      self.assertEqual(len(lrn_ops), 2 if implementation else 0, overrides)
      for op in lrn_ops:
        self.assertEqual(op.type, {'tf.nn.lrn': 'LRN', 'fused': 'AlexnetLRN'}
                         [implementation], overrides)
      for scope in ('lrn1/', 'lrn2/'):
        scoped = [op for op in graph.get_operations()
                  if op.name.startswith(scope)]
        self.assertEqual(bool(scoped), implementation is not None,
                         (overrides, scope))

  def test_paper_variables_are_grouped(self):
    for data_format in ('channels_last', 'channels_first'):
      graph, _, variables = self._build(
          {'recipe': 'paper', 'data_format': data_format})
      self.assertEqual([(v.op.name, v.shape.as_list()) for v in variables],
                       PAPER_LAYER_VARIABLES)
      self.assertEqual(
          graph.get_tensor_by_name('conv2/concat:0').shape.as_list(),
          [None, 27, 27, 256] if data_format == 'channels_last'
          else [None, 256, 27, 27])

  def test_lrn_conventions_match_their_own_formulas(self):
    rng = np.random.RandomState(1)
    # Large activations so that alpha * sum(a^2) is of the order of k.
    x = rng.uniform(0, 200, size=[2, 3, 4, 24]).astype(np.float32)
    want = {
        'paper': _paper_lrn(x),
        'caffe': _caffe_lrn(x),
        'tutorial': _lrn_reference(x.astype(np.float64), 5, 2.0, 1e-4, 0.75),
        'none': x.astype(np.float64),
    }
    nchw = np.transpose(x, [0, 3, 1, 2])
    for convention, expected in want.items():
      for is_training in (True, False):
        got = self.evaluate(model_fn_lib._lrn(
            tf.constant(x), 'channels_last', convention, is_training,
            'lrn_' + convention))
        self.assertAllClose(got, expected, rtol=1e-5, atol=1e-6,
                            msg=(convention, is_training))
        # channels_first normalises across axis 1 the same way.
        got = self.evaluate(model_fn_lib._lrn(
            tf.constant(nchw), 'channels_first', convention, is_training,
            'lrn_nchw_' + convention))
        self.assertAllClose(got, np.transpose(expected, [0, 3, 1, 2]),
                            rtol=1e-5, atol=1e-6, msg=(convention, is_training))
    # On this input the four conventions are far apart from one another
    # (paper and tutorial the closest, 7% apart), far beyond the tolerance.
    names = sorted(want)
    for i, first in enumerate(names):
      for second in names[i + 1:]:
        relative = np.abs(want[first] - want[second]) / want['none']
        self.assertGreater(np.median(relative), 0.03, (first, second))

  def test_grouped_conv2_is_a_block_diagonal_conv(self):
    params = params_lib.make_params(SMALL_PAPER)
    rng = np.random.RandomState(2)
    x = rng.uniform(-100, 100, size=[2, 67, 67, 3]).astype(np.float32)
    model_fn_lib.alexnet(tf.constant(x), False, params)
    graph = tf.get_default_graph()
    pool1 = graph.get_tensor_by_name('pool1/MaxPool:0')
    conv2 = graph.get_tensor_by_name('conv2/concat:0')
    variables = {v.op.name: v for v in tf.trainable_variables()}
    self.assertNotIn('conv2/kernel', variables)
    self.evaluate(tf.global_variables_initializer())
    names = ['conv2/group%d/%s' % (g, w) for g in (0, 1)
             for w in ('kernel', 'bias')]
    inputs, outputs, values = self.evaluate(
        [pool1, conv2, {n: variables[n] for n in names}])
    self.assertEqual(inputs.shape, (2, 7, 7, 96))
    self.assertEqual(outputs.shape, (2, 7, 7, 256))
    kernel = np.zeros([5, 5, 96, 256], np.float32)
    kernel[:, :, :48, :128] = values['conv2/group0/kernel']
    kernel[:, :, 48:, 128:] = values['conv2/group1/kernel']
    bias = np.concatenate([values['conv2/group0/bias'],
                           values['conv2/group1/bias']])
    self.assertAllEqual(bias, np.ones(256))  # the paper's init
    reference = tf.nn.relu(tf.nn.conv2d(
        inputs, kernel, strides=[1, 1, 1, 1], padding='SAME') + bias)
    self.assertAllClose(outputs, self.evaluate(reference), rtol=1e-4,
                        atol=1e-4)
    self.assertGreater(np.mean(outputs > 0), 0.5)  # ReLU not all zero
    # Changing the second input half changes only the second output half.
    changed = inputs.copy()
    changed[..., 48:] += rng.uniform(1, 50, size=changed[..., 48:].shape)
    with self.cached_session() as sess:
      perturbed = sess.run(conv2, feed_dict={pool1: changed})
    self.assertAllClose(perturbed[..., :128], outputs[..., :128], rtol=1e-5,
                        atol=1e-5)
    self.assertGreater(np.abs(perturbed[..., 128:] - outputs[..., 128:]).max(),
                       0.1)

  def _initial_values(self, overrides):
    """{variable name: initial value} of alexnet at 67 with `overrides`."""
    params = params_lib.make_params(dict(
        {'image_size': 67, 'num_classes': 10}, **overrides))
    model_fn_lib.alexnet(tf.zeros([1, 67, 67, 3]), False, params)
    variables = {v.op.name: v for v in tf.trainable_variables()}
    self.evaluate(tf.global_variables_initializer())
    return self.evaluate(variables)

  def _assert_normal(self, name, value, stddev, tolerance):
    self.assertAllClose(value.std(), stddev, rtol=tolerance, atol=0, msg=name)
    self.assertLess(abs(value.mean()), 0.05 * stddev, name)
    # Not truncated (as tf.truncated_normal_initializer would be) or uniform.
    self.assertGreater(np.abs(value).max(), 3.5 * stddev, name)

  def test_paper_init(self):
    values = self._initial_values({'recipe': 'paper'})
    self.assertEqual(len(values), len(PAPER_LAYER_VARIABLES))
    ones = ('conv2/group0', 'conv2/group1', 'conv4/group0', 'conv4/group1',
            'conv5/group0', 'conv5/group1', 'dense1', 'dense2')
    for name, value in values.items():
      layer = name.rsplit('/', 1)[0]
      if name.endswith('/bias'):
        self.assertAllEqual(value, np.full(value.shape, 1.0 if layer in ones
                                           else 0.0), msg=name)
      else:
        self.assertTrue(name.endswith('/kernel'), name)
        self._assert_normal(name, value, 0.01,
                            0.02 if layer == 'dense1' else 0.05)

  def test_caffe_init(self):
    values = self._initial_values({'init': 'caffe'})  # one tower
    self.assertEqual(len(values), len(LAYER_VARIABLES))
    for name, value in values.items():
      layer = name.rsplit('/', 1)[0]
      if name.endswith('/bias'):
        positive = layer in ('conv2', 'conv4', 'conv5', 'dense1', 'dense2')
        self.assertAllClose(value, np.full(value.shape, 0.1 if positive
                                           else 0.0), msg=name)
      else:
        self._assert_normal(name, value,
                            0.005 if layer in ('dense1', 'dense2') else 0.01,
                            0.02 if layer == 'dense1' else 0.05)

  def test_tutorial_init_is_glorot_uniform_with_zero_biases(self):
    values = self._initial_values({})
    for name, value in values.items():
      if name.endswith('/bias'):
        self.assertAllEqual(value, np.zeros(value.shape), msg=name)
        continue
      receptive = int(np.prod(value.shape[:-2]))  # 1 for dense kernels
      fan_in = receptive * value.shape[-2]
      fan_out = receptive * value.shape[-1]
      limit = np.sqrt(6.0 / (fan_in + fan_out))
      self.assertLessEqual(np.abs(value).max(), limit * (1 + 1e-6), name)
      self.assertAllClose(value.std(), limit / np.sqrt(3.0), rtol=0.05,
                          atol=0, msg=name)


class LrnImplementationTest(tf.test.TestCase):
  """Both LRN implementations against NumPy, forward and backward."""

  CONVENTIONS = ('tutorial', 'paper', 'caffe')
  # Beyond the conventions (all beta 0.75): the fused kernel's other powers,
  # 0.5 and 1 (by square roots and division) and any other (exp of log).
  OTHER_SETTINGS = ((3, 1.0, 0.3, 0.6), (2, 0.5, 0.1, 0.5), (1, 1.0, 0.2, 1.0))

  def _implementations(self, settings):
    """{name: function of an NHWC float32 tensor} for LRN_IMPLEMENTATIONS."""
    depth_radius, bias, alpha, beta = settings
    return {
        'tf.nn.lrn': lambda x: tf.nn.lrn(x, depth_radius, bias, alpha, beta),
        'fused': lambda x: fused_lrn.lrn(x, depth_radius, bias, alpha, beta),
    }

  def test_every_implementation_matches_numpy_with_gradients(self):
    self.assertEqual(set(self._implementations(model_fn_lib.LRN['paper'])),
                     set(model_fn_lib.LRN_IMPLEMENTATIONS))
    rng = np.random.RandomState(2)
    settings_list = ([model_fn_lib.LRN[c] for c in self.CONVENTIONS] +
                     list(self.OTHER_SETTINGS))
    # Large activations so that alpha * sum(a^2) is of the order of k; zeros
    # as ReLU makes them; 1, 3 and 8 channels (fewer than a window), 24 and
    # 96 (more, as in conv1).
    for channels in (1, 3, 8, 24, 96):
      x = rng.uniform(0, 200, size=[2, 3, 5, channels]).astype(np.float32)
      x[rng.uniform(size=x.shape) < 0.3] = 0.0
      dy = rng.normal(size=x.shape).astype(np.float32)
      for settings in settings_list:
        if settings[3] != 0.75:  # their alpha suits values of about 1
          x_in = x / 100.0
        else:
          x_in = x
        want = _lrn_reference(x_in.astype(np.float64), *settings)
        want_dx = _lrn_gradient_reference(x_in, dy, *settings)
        for name, lrn in self._implementations(settings).items():
          with tf.Graph().as_default() as graph:
            images = tf.constant(x_in)
            y = lrn(images)
            dx, = tf.gradients(y, images, grad_ys=tf.constant(dy))
            with self.session(graph=graph) as sess:
              got, got_dx = sess.run([y, dx])
          message = (name, settings, channels)
          self.assertEqual(got.shape, x.shape, message)
          self.assertAllClose(got, want, rtol=1e-5, atol=1e-6, msg=message)
          # Gradients to 1e-4 of their scale: an element whose two terms
          # nearly cancel is small next to its terms' rounding.
          self.assertAllClose(got_dx, want_dx, rtol=1e-4,
                              atol=1e-4 * np.abs(want_dx).max(), msg=message)

  def test_fused_equals_tf_nn_lrn_in_the_network(self):
    # The same initial variables give the same logits and gradients with
    # either implementation, in both layers (96 and 256 channels).
    params = params_lib.make_params(num_classes=5, image_size=67)
    images = np.random.RandomState(4).uniform(
        -50, 50, size=[2, 67, 67, 3]).astype(np.float32)
    rng = np.random.RandomState(5)
    results = {}
    for name in model_fn_lib.LRN_IMPLEMENTATIONS:
      with tf.Graph().as_default() as graph:
        tf.add_to_collection(model_fn_lib.LRN_OVERRIDE, name)
        logits = model_fn_lib.alexnet(tf.constant(images), False, params)
        types = [op.type for op in tf.get_default_graph().get_operations()]
        self.assertEqual(types.count('LRN'), 2 if name == 'tf.nn.lrn' else 0)
        self.assertEqual(types.count('AlexnetLRN'), 2 if name == 'fused' else 0)
        kernel = [v for v in tf.trainable_variables()
                  if v.op.name == 'conv1/kernel'][0]
        grad, = tf.gradients(tf.reduce_sum(logits ** 2), [kernel])
        with self.session(graph=graph) as sess:
          # The same values in both graphs (op seeds follow the op count).
          for variable in sorted(tf.trainable_variables(),
                                 key=lambda v: v.op.name):
            shape = variable.shape.as_list()
            variable.load(rng.normal(0, 0.1, shape).astype(np.float32)
                          if name == 'tf.nn.lrn' else
                          results['tf.nn.lrn'][2][variable.op.name], sess)
          values = {v.op.name: sess.run(v) for v in tf.trainable_variables()}
          results[name] = sess.run([logits, grad]) + [values]
    logits_a, grad_a, _ = results['tf.nn.lrn']
    logits_b, grad_b, _ = results['fused']
    # Relative to their scale: a logit is a sum of terms far larger than
    # itself, each rounded in float32 by the layers after LRN.
    self.assertAllClose(logits_a, logits_b, rtol=1e-5,
                        atol=1e-5 * np.abs(logits_a).max())
    self.assertAllClose(grad_a, grad_b, rtol=1e-4,
                        atol=1e-4 * np.abs(grad_a).max())

  def test_fused_for_training_on_the_cpu_only(self):
    choose = model_fn_lib.lrn_implementation
    mkl = distribution.mkl_enabled()
    for convention in self.CONVENTIONS:
      # MKL-DNN's own LRN takes depth_radius 2 on the MKL build.
      radius_2 = model_fn_lib.LRN[convention][0] == 2
      self.assertEqual(choose(convention, True, '/device:CPU:0'),
                       'tf.nn.lrn' if mkl and radius_2 else 'fused',
                       convention)
      # Not trained (evaluation, prediction, the export), or on a GPU.
      self.assertEqual(choose(convention, False, '/device:CPU:0'),
                       'tf.nn.lrn')
      self.assertEqual(choose(convention, True,
                              '/job:worker/replica:0/task:0/device:GPU:1'),
                       'tf.nn.lrn')
    self.assertEqual(choose('tutorial', True, ''), 'fused')  # no GPU here
    self.assertIsNone(choose('none'))
    # The graph's override (the benchmark's) wins.
    with tf.Graph().as_default():
      tf.add_to_collection(model_fn_lib.LRN_OVERRIDE, 'tf.nn.lrn')
      self.assertEqual(choose('tutorial'), 'tf.nn.lrn')
      self.assertIsNone(choose('none'))
    self.assertEqual(choose('tutorial'), 'fused')

  def test_the_layers_of_a_gpu_and_of_an_export_are_tf_nn_lrn(self):
    # Graphs only: a GPU graph is built (not run) here.
    params = params_lib.make_params(num_classes=5, image_size=67)
    for device, is_training, want in (('/device:GPU:0', True, 'LRN'),
                                      ('/device:CPU:0', False, 'LRN'),
                                      ('/device:CPU:0', True, 'AlexnetLRN')):
      with tf.Graph().as_default() as graph, tf.device(device):
        model_fn_lib.alexnet(tf.zeros([1, 67, 67, 3]), is_training, params)
      types = [op.type for op in graph.get_operations()]
      self.assertEqual(
          [t for t in types if t in ('LRN', 'AlexnetLRN')], [want] * 2,
          (device, is_training))


class RecipeModelFnTest(tf.test.TestCase):
  """model_fn under the paper's recipe: loss, learning rate, views, training."""

  def _train_spec(self, params, batch=3):
    rng = np.random.RandomState(4)
    x = rng.uniform(-100, 100, size=[batch, 67, 67, 3]).astype(np.float32)
    labels = tf.constant(np.arange(batch) % 7, tf.int32)
    tf.train.create_global_step()
    return model_fn_lib.model_fn({'x': tf.constant(x)}, labels,
                                 tf.estimator.ModeKeys.TRAIN, params)

  def _weight_decay_parts(self, params):
    """(cross-entropy, decay, loss, {variable name: value}) at the start."""
    with tf.Graph().as_default() as graph:
      tf.set_random_seed(5)
      spec = self._train_spec(params)
      variables = {v.op.name: v for v in tf.trainable_variables()}
      with self.session(graph=graph) as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(['cross_entropy:0', 'weight_decay_loss:0', spec.loss,
                         variables])

  def test_weight_decay_joins_the_train_loss(self):
    # The paper's 5e-4 on every variable; 1e-3 on the kernels only.
    for decay_biases, weight_decay in ((True, 5e-4), (False, 1e-3)):
      params = dict(SMALL_PAPER, decay_biases=decay_biases)
      if weight_decay != 5e-4:
        params['weight_decay'] = weight_decay
      cross_entropy, decay, loss, values = self._weight_decay_parts(params)
      half_squares = {n: np.sum(v.astype(np.float64) ** 2) / 2
                      for n, v in values.items()}
      kernels = sum(s for n, s in half_squares.items()
                    if n.endswith('/kernel'))
      biases = sum(s for n, s in half_squares.items() if n.endswith('/bias'))
      self.assertEqual(len(half_squares), len(PAPER_LAYER_VARIABLES))
      # Biases of 1 in five layers: 4544, far more than the kernels' ~1000.
      self.assertAllClose(biases, 4544.0)
      want = weight_decay * (kernels + (biases if decay_biases else 0.0))
      self.assertAllClose(decay, want, rtol=1e-4, atol=0,
                          msg='decay_biases=%s' % decay_biases)
      self.assertAllClose(loss, cross_entropy + decay, rtol=1e-6, atol=0)
      self.assertGreater(cross_entropy, 0.0)

  def test_no_weight_decay_adds_nothing(self):
    for params in ({}, dict(SMALL_PAPER, weight_decay=0.0)):
      with tf.Graph().as_default() as graph:
        spec = self._train_spec(dict({'image_size': 67, 'num_classes': 7},
                                     **params))
        names = {op.name for op in graph.get_operations()}
        self.assertNotIn('weight_decay_loss', names, params)
        self.assertNotIn('total_loss', names, params)
        self.assertEqual(spec.loss.name, 'cross_entropy:0')

  def _rates(self, params, steps):
    """learning_rate_value at each global step of `steps`, from a train spec."""
    with tf.Graph().as_default() as graph:
      self._train_spec(dict(SMALL_PAPER, optimizer='sgd', **params), batch=1)
      rate = graph.get_tensor_by_name('learning_rate_value:0')
      # The optimizer takes its steps with this very tensor.
      applies = [op for op in graph.get_operations()
                 if op.type == 'ApplyGradientDescent']
      self.assertTrue(applies)
      for op in applies:
        self.assertIs(op.inputs[1], rate)
      global_step = tf.train.get_global_step()
      rates = []
      with self.session(graph=graph) as sess:
        for step in steps:
          global_step.load(step, sess)
          rates.append(sess.run(rate))
      return rates

  def test_step_schedule(self):
    rates = self._rates({'lr_schedule': 'step', 'steps_per_epoch': 10,
                         'lr_decay_epochs': 2, 'lr_decay_factor': 0.1,
                         'learning_rate': 0.01}, [0, 19, 20, 39, 40])
    self.assertAllClose(rates, [0.01, 0.01, 0.001, 0.001, 1e-4], rtol=1e-5)

  def test_step_schedule_fractional_decay_epochs(self):
    # 1.2 epochs of 10 steps: a drop every 12 steps, the third at step 36.
    rates = self._rates({'lr_schedule': 'step', 'steps_per_epoch': 10,
                         'lr_decay_epochs': 1.2, 'learning_rate': 0.01},
                        [11, 12, 23, 24, 35, 36])
    self.assertAllClose(rates, [1e-2, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5], rtol=1e-5)

  def test_warmup(self):
    rates = self._rates({'lr_schedule': 'constant', 'warmup_epochs': 1,
                         'steps_per_epoch': 10, 'learning_rate': 0.01},
                        [0, 4, 9, 30])
    self.assertAllClose(rates, [0.001, 0.005, 0.01, 0.01], rtol=1e-5)

  def test_plateau_drops_so_far(self):
    rates = self._rates({'lr_drops': 2}, [0, 1000])  # the recipe's plateau
    self.assertAllClose(rates, [1e-4, 1e-4], rtol=1e-5)

  def test_epoch_schedules_need_steps_per_epoch(self):
    for params in ({'lr_schedule': 'step'}, {'warmup_epochs': 1.0}):
      with tf.Graph().as_default():
        with self.assertRaisesRegex(params_lib.ParamError,
                                    'steps_per_epoch') as caught:
          self._train_spec(dict(SMALL_PAPER, **params))
        self.assertEqual(caught.exception.key, 'steps_per_epoch')

  def test_ten_views_average_the_softmax(self):
    # The paper's init leaves the network at 67 almost blind to its input
    # (the biases of 1 dominate: views' softmax outputs agree to 3e-4), so
    # this takes Glorot weights and zero biases; with those the network is
    # nearly positively homogeneous, and views of different amplitudes give
    # softmax outputs of different sharpness.
    params = dict(SMALL_PAPER, init='tutorial')
    batch, views, classes = 2, 10, SMALL_PAPER['num_classes']
    rng = np.random.RandomState(6)
    amplitudes = np.stack([rng.permutation(np.logspace(0, 2.3, views))
                           for _ in range(batch)])
    x = rng.uniform(-1, 1, size=[batch, views, 67, 67, 3])
    x = (x * amplitudes[:, :, None, None, None]).astype(np.float32)
    labels = np.array([3, 5])
    tf.train.create_global_step()
    features = {'x': tf.constant(x)}
    evaluation = model_fn_lib.model_fn(features, tf.constant(labels),
                                       tf.estimator.ModeKeys.EVAL, params)
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
      prediction = model_fn_lib.model_fn(features, None,
                                         tf.estimator.ModeKeys.PREDICT,
                                         params)
      # One view of one image at a time, through the same variables.
      single = tf.placeholder(tf.float32, [None, 67, 67, 3])
      single_logits = model_fn_lib.alexnet(
          single, False, params_lib.make_params(params))
    self.assertEqual(
        len(tf.trainable_variables()), len(PAPER_LAYER_VARIABLES))
    self.evaluate([tf.global_variables_initializer(),
                   tf.local_variables_initializer()])
    # View-major order, unlike model_fn's image-major folding.
    with self.cached_session() as sess:
      logits = sess.run(single_logits, feed_dict={
          single: np.transpose(x, [1, 0, 2, 3, 4]).reshape([-1, 67, 67, 3])})
    logits = logits.astype(np.float64).reshape([views, batch, classes])
    per_view = np.exp(logits - logits.max(axis=-1, keepdims=True))
    per_view /= per_view.sum(axis=-1, keepdims=True)
    want = per_view.mean(axis=0)
    # The views really differ, and averaging the softmax is not averaging
    # the logits.
    self.assertGreater(np.abs(per_view - want).max(), 0.1)
    mean_logits = logits.mean(axis=0)
    of_mean_logits = np.exp(mean_logits - mean_logits.max(-1, keepdims=True))
    of_mean_logits /= of_mean_logits.sum(axis=-1, keepdims=True)
    self.assertGreater(np.abs(of_mean_logits - want).max(), 0.003)

    predicted = self.evaluate(prediction.predictions)
    self.assertAllClose(predicted['probabilities'], want, rtol=1e-4,
                        atol=1e-5)
    self.assertAllEqual(predicted['classes'], want.argmax(axis=1))
    self.assertEqual([n.decode() for n in predicted['class_names']],
                     [str(c) for c in want.argmax(axis=1)])

    cross_entropy, metrics = self.evaluate(
        ['cross_entropy:0',
         {k: v[1] for k, v in evaluation.eval_metric_ops.items()}])
    self.assertAllClose(
        cross_entropy, -np.mean(np.log(want[np.arange(batch), labels])),
        rtol=1e-4)
    self.assertAllClose(metrics['accuracy'],
                        np.mean(want.argmax(axis=1) == labels))
    top5 = np.argsort(-want, axis=1)[:, :5]
    self.assertAllClose(metrics['accuracy_top_5'],
                        np.mean([l in t for l, t in zip(labels, top5)]))

  def test_paper_recipe_trains_with_momentum(self):
    spec = self._train_spec(SMALL_PAPER, batch=4)
    graph = tf.get_default_graph()
    ops = graph.get_operations()
    momentum = [op for op in ops if op.type == 'ApplyMomentum']
    self.assertEqual(len(momentum), len(PAPER_LAYER_VARIABLES))
    self.assertNotIn('ApplyGradientDescent', {op.type for op in ops})
    self.assertIn('weight_decay_loss', {op.name for op in ops})
    self.evaluate(tf.global_variables_initializer())
    kernel = [v for v in tf.global_variables()
              if v.op.name == 'conv2/group1/kernel'][0]
    before = self.evaluate(kernel)
    rate, momentum_value = self.evaluate(
        [graph.get_tensor_by_name('learning_rate_value:0'),
         momentum[0].inputs[4]])
    self.assertAllClose([rate, momentum_value], [0.01, 0.9])
    _, loss = self.evaluate([spec.train_op, spec.loss])
    self.assertTrue(np.isfinite(loss))
    self.assertEqual(self.evaluate(tf.train.get_global_step()), 1)
    self.assertGreater(np.abs(self.evaluate(kernel) - before).max(), 0.0)
    slots = {v.op.name for v in tf.global_variables()}
    self.assertIn('conv2/group1/kernel/Momentum', slots)


if __name__ == '__main__':
  tf.test.main()
