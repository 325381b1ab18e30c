"""AlexNet and its Estimator model_fn, after the tutorial this package follows.

The network is the tf.estimator AlexNet tutorial's (CharlesSiqiLiang,
"Deep-learning-tutorials", 2-AlexNet-tf.ipynb), itself a one-tower
simplification of Krizhevsky, Sutskever and Hinton, "ImageNet Classification
with Deep Convolutional Neural Networks", NIPS 2012:

  conv1 96x11x11/4 VALID, ReLU -> lrn1 -> pool1 3x3/2 VALID
  conv2 256x5x5 SAME, ReLU     -> lrn2 -> pool2 3x3/2 VALID
  conv3 384x3x3 SAME, ReLU -> conv4 384x3x3 SAME, ReLU
  conv5 256x3x3 SAME, ReLU -> pool3 3x3/2 VALID -> flatten
  dense1 4096 ReLU -> dropout1 0.5 -> dense2 4096 ReLU -> dropout2 0.5
  logits num_classes

LRN is tf.nn.lrn(depth_radius=5, bias=2, alpha=1e-4, beta=0.75), as in the
tutorial (not the paper's n=5, which would be depth_radius=2).

Where this differs from the tutorial's code, on purpose:
  * `feature["x"]` there is a typo for `features["x"]`; `train_ops` one for
    `train_op`. Both are fixed.
  * The tutorial says pool3 is [batch, 6, 6, 256]. With its 224x224 input and a
    VALID 11x11/4 conv1 it is 5x5x256 (224 -> 54 -> 26 -> 26 -> 12 -> 12 -> 5);
    6x6 needs a 227 input. We keep 224 and the network, so pool3 is 5x5 and the
    network has 50,844,008 parameters for 1000 classes.
  * Layers carry stable names (conv1 ... logits); the tutorial's are automatic.
  * The tutorial hard-codes 1000 outputs and reshapes to 224; here both come
    from `params`, and a bare image tensor is accepted besides {'x': images}.
  * Predictions add `class_names`; EVAL adds `accuracy_top_5`.
  * `data_format='channels_first'` runs the convolutions in NCHW for GPUs. The
    input stays NHWC and pool3 is put back in NHWC before flatten, so
    checkpoints do not depend on the layout.
"""
import tensorflow as tf

from alexnet_estimator import params as params_lib

# tf.nn.lrn settings of the tutorial.
LRN_DEPTH_RADIUS = 5
LRN_BIAS = 2.0
LRN_ALPHA = 1e-4
LRN_BETA = 0.75

# Input images written to TensorBoard at each summary step.
NUM_SUMMARY_IMAGES = 4


def _lrn(net, data_format, name):
  """Local response normalisation across channels; tf.nn.lrn is NHWC-only."""
  if data_format == 'channels_first':
    net = tf.transpose(net, [0, 2, 3, 1])
  net = tf.nn.lrn(net, depth_radius=LRN_DEPTH_RADIUS, bias=LRN_BIAS,
                  alpha=LRN_ALPHA, beta=LRN_BETA)
  if data_format == 'channels_first':
    net = tf.transpose(net, [0, 3, 1, 2])
  return tf.identity(net, name=name)


def alexnet(images, is_training, params):
  """Builds the tutorial's AlexNet and returns its logits.

  Args:
    images: float32 Tensor [batch, height, width, 3], NHWC, values in [0, 1];
      height and width of at least 67.
    is_training: Python bool; enables dropout.
    params: dict from `params.make_params`; reads 'num_classes',
      'dropout_rate' and 'data_format'.

  Returns:
    float32 Tensor [batch, num_classes] of unnormalised logits.
  """
  data_format = params['data_format']
  conv = lambda net, filters, size, strides, padding, name: tf.layers.conv2d(
      net, filters, size, strides=strides, padding=padding,
      data_format=data_format, activation=tf.nn.relu, name=name)
  pool = lambda net, name: tf.layers.max_pooling2d(
      net, pool_size=3, strides=2, padding='valid', data_format=data_format,
      name=name)

  net = images
  if data_format == 'channels_first':
    net = tf.transpose(net, [0, 3, 1, 2])
  net = conv(net, 96, 11, 4, 'valid', 'conv1')
  net = _lrn(net, data_format, 'lrn1')
  net = pool(net, 'pool1')
  net = conv(net, 256, 5, 1, 'same', 'conv2')
  net = _lrn(net, data_format, 'lrn2')
  net = pool(net, 'pool2')
  net = conv(net, 384, 3, 1, 'same', 'conv3')
  net = conv(net, 384, 3, 1, 'same', 'conv4')
  net = conv(net, 256, 3, 1, 'same', 'conv5')
  net = pool(net, 'pool3')
  if data_format == 'channels_first':
    net = tf.transpose(net, [0, 2, 3, 1])  # flatten in NHWC order always
  net = tf.layers.flatten(net, name='flatten')
  rate = params['dropout_rate']
  net = tf.layers.dense(net, 4096, activation=tf.nn.relu, name='dense1')
  net = tf.layers.dropout(net, rate=rate, training=is_training, name='dropout1')
  net = tf.layers.dense(net, 4096, activation=tf.nn.relu, name='dense2')
  net = tf.layers.dropout(net, rate=rate, training=is_training, name='dropout2')
  return tf.layers.dense(net, params['num_classes'], name='logits')


def _predictions(logits, params):
  classes = tf.argmax(logits, axis=1, name='classes')
  names = tf.constant(params_lib.class_names(params), dtype=tf.string)
  return {
      'classes': classes,
      'probabilities': tf.nn.softmax(logits, name='softmax_tensor'),
      'class_names': tf.gather(names, classes, name='class_names'),
  }


def _metrics(labels, logits, predictions, params):
  k = min(5, params['num_classes'])
  return {
      'accuracy': tf.metrics.accuracy(labels, predictions['classes']),
      'accuracy_top_5': tf.metrics.mean(
          tf.nn.in_top_k(logits, tf.cast(labels, tf.int32), k)),
  }


def _train_op(loss, params):
  """SGD as in the tutorial, momentum SGD or Adam, at a fixed rate."""
  # The tensor is not called 'learning_rate', so the summary's tag can be.
  learning_rate = tf.constant(params['learning_rate'], tf.float32,
                              name='learning_rate_value')
  tf.summary.scalar('learning_rate', learning_rate)
  if params['optimizer'] == 'momentum':
    optimizer = tf.train.MomentumOptimizer(learning_rate, params['momentum'])
  elif params['optimizer'] == 'adam':
    optimizer = tf.train.AdamOptimizer(learning_rate)
  else:
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
  # No layer has UPDATE_OPS today; the dependency keeps that true if one does.
  with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
    return optimizer.minimize(loss, global_step=tf.train.get_global_step())


def model_fn(features, labels, mode, params):
  """Estimator model_fn for AlexNet classification.

  Args:
    features: dict with the image batch under 'x' (float32 [B, H, W, 3] in
      [0, 1]), or that image batch itself. In PREDICT mode an optional 'file'
      entry (string [B]) is passed through to the predictions.
    labels: int Tensor [B] (or [B, 1]) of class ids; None in PREDICT mode.
    mode: a tf.estimator.ModeKeys value.
    params: dict of hyper-parameters; missing keys take `params.DEFAULTS`,
      unknown keys raise `params.ParamError`.

  Returns:
    A tf.estimator.EstimatorSpec for `mode`.
  """
  params = params_lib.make_params(params)
  images = features['x'] if isinstance(features, dict) else features
  is_training = mode == tf.estimator.ModeKeys.TRAIN
  logits = alexnet(images, is_training, params)
  predictions = _predictions(logits, params)

  if mode == tf.estimator.ModeKeys.PREDICT:
    outputs = {'serving_default': tf.estimator.export.PredictOutput(
        dict(predictions))}
    if isinstance(features, dict) and 'file' in features:
      predictions['file'] = features['file']
    return tf.estimator.EstimatorSpec(mode, predictions=predictions,
                                      export_outputs=outputs)

  labels = tf.reshape(labels, [-1])
  loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
  loss = tf.identity(loss, name='cross_entropy')
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(
        mode, loss=loss,
        eval_metric_ops=_metrics(labels, logits, predictions, params))

  accuracy = tf.reduce_mean(tf.cast(
      tf.equal(predictions['classes'], tf.cast(labels, tf.int64)), tf.float32))
  tf.summary.scalar('train_accuracy', accuracy)
  tf.summary.image('input', images, max_outputs=NUM_SUMMARY_IMAGES)
  return tf.estimator.EstimatorSpec(mode, loss=loss,
                                    train_op=_train_op(loss, params))
