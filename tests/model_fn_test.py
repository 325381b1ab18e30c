"""Tests for the network and model_fn: shapes, names, counts, specs, LRN."""
import numpy as np
import tensorflow as tf

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
    got = self.evaluate(model_fn_lib._lrn(tf.constant(x), 'channels_last',
                                          'lrn_test'))
    want = _lrn_reference(x, 5, 2.0, 1e-4, 0.75)
    self.assertAllClose(got, want, rtol=1e-5, atol=1e-6)
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
                     ['accuracy', 'accuracy_top_5'])
    self.assertEqual(spec.loss.dtype, tf.float32)
    self.assertEqual(spec.loss.shape.as_list(), [])
    self.evaluate([tf.global_variables_initializer(),
                   tf.local_variables_initializer()])
    updates = {k: v[1] for k, v in spec.eval_metric_ops.items()}
    values = self.evaluate(updates)
    for value in values.values():
      self.assertBetween(value, 0.0, 1.0)
    self.assertGreaterEqual(values['accuracy_top_5'], values['accuracy'])
    self.assertGreater(self.evaluate(spec.loss), 0.0)

  def test_train_spec_is_the_tutorial_sgd_by_default(self):
    spec = self._spec(tf.estimator.ModeKeys.TRAIN)
    self.assertIsNotNone(spec.train_op)
    ops = {op.type for op in tf.get_default_graph().get_operations()}
    self.assertIn('ApplyGradientDescent', ops)
    self.assertNotIn('ApplyMomentum', ops)
    self.assertAllClose(self.evaluate(
        tf.get_default_graph().get_tensor_by_name('learning_rate_value:0')), 0.01)
    self.evaluate(tf.global_variables_initializer())
    self.evaluate(spec.train_op)
    self.assertEqual(self.evaluate(tf.train.get_global_step()), 1)

  def test_train_spec_with_momentum(self):
    self._spec(tf.estimator.ModeKeys.TRAIN,
               params={'optimizer': 'momentum', 'momentum': 0.8,
                       'learning_rate': 0.05})
    ops = {op.type for op in tf.get_default_graph().get_operations()}
    self.assertIn('ApplyMomentum', ops)
    self.assertAllClose(self.evaluate(
        tf.get_default_graph().get_tensor_by_name('learning_rate_value:0')), 0.05)

  def test_unknown_param_is_an_error(self):
    with self.assertRaisesRegex(params_lib.ParamError, 'learnin_rate'):
      self._spec(tf.estimator.ModeKeys.PREDICT,
                 params={'learnin_rate': 0.1})


if __name__ == '__main__':
  tf.test.main()
