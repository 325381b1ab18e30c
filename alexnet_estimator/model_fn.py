"""AlexNet and its Estimator model_fn: the tutorial's recipe, or the paper's.

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
tutorial (not the paper's n=5, which would be depth_radius=2). Training on the
CPU computes that same function with a kernel of ours, 5-9x faster than
TensorFlow's CPU kernels (fused_lrn, lrn_implementation).

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

params['recipe'] = 'paper' (params.RECIPES) builds the paper's network
instead: a 227 input (pool3 6x6x256), the paper's LRN (n=5, k=2, alpha 1e-4,
beta 0.75), conv2, conv4 and conv5 in two groups as on its two GPUs (60,965,224
parameters for 1000 classes), N(0, 0.01) weights with biases 1 in conv2, conv4,
conv5, dense1 and dense2, weight decay 5e-4, momentum 0.9, and the rate divided
by 10 on validation plateaus. Each piece is its own key (lrn_convention,
conv_groups, init, weight_decay, lr_schedule, ...). Outside training, a batch
of several views of each image ([B, V, H, W, 3], the paper's 10 crops) gives
the softmax averaged over the views.
"""
import tensorflow as tf

from alexnet_estimator import distribution
from alexnet_estimator import fused_lrn
from alexnet_estimator import params as params_lib
from alexnet_estimator import preprocessing
from alexnet_estimator import schedule

# tf.nn.lrn settings of the tutorial.
LRN_DEPTH_RADIUS = 5
LRN_BIAS = 2.0
LRN_ALPHA = 1e-4
LRN_BETA = 0.75

# tf.nn.lrn(depth_radius, bias, alpha, beta) of each params['lrn_convention'].
# tf.nn.lrn divides by (bias + alpha * sum over 2*depth_radius+1 channels)^beta.
#   tutorial: the tutorial's own numbers.
#   paper:    n=5 neighbouring maps, so depth_radius 2; k=2, alpha=1e-4,
#             beta=0.75 enter unchanged, since the paper, like tf.nn.lrn,
#             does not divide alpha by n.
#   caffe:    Caffe's (and PyTorch's) LRN divides alpha by n: local_size 5,
#             alpha 1e-4, k 1 is tf.nn.lrn's alpha 2e-5, bias 1.
#   none:     no normalisation (the later "one weird trick" AlexNet).
LRN = {
    'tutorial': (LRN_DEPTH_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA),
    'paper': (2, 2.0, 1e-4, 0.75),
    'caffe': (2, 1.0, 2e-5, 0.75),
    'none': None,
}

# How each LRN layer is computed (lrn_implementation). Both are the function
# tf.nn.lrn documents, to float32 rounding, forward and backward.
#   tf.nn.lrn: TensorFlow's op. Its CPU kernel multiplies by a dense band
#     matrix (C multiply-adds per value, 96 and 256 here, for a window of
#     11), its gradient is a scalar loop with a pow inside; the MKL build swaps
#     in MKL-DNN's LRN, but only for depth_radius 2 (the paper's and Caffe's);
#     cuDNN's on a GPU.
#   fused: fused_lrn's kernel, a row of channels at a time (kernels/lrn.cc),
#     5-9x faster than tf.nn.lrn's CPU kernels forward and backward at
#     AlexNet's sizes (docs/benchmarks.md). CPU only, built on this machine.
LRN_IMPLEMENTATIONS = ('tf.nn.lrn', 'fused')
# A graph collection: a name of LRN_IMPLEMENTATIONS added to it makes that
# graph's LRN layers use it instead of the automatic choice. The state lives
# in the graph being built; scripts/benchmark.py times tf.nn.lrn beside the
# automatic choice this way, tests both implementations.
LRN_OVERRIDE = 'alexnet_lrn_implementation'

# Initial biases of the layers the paper starts at 1 "to accelerate the early
# stages of learning by providing the ReLUs with positive inputs".
_POSITIVE_BIAS_LAYERS = ('conv2', 'conv4', 'conv5', 'dense1', 'dense2')

# Input images written to TensorBoard at each summary step.
NUM_SUMMARY_IMAGES = 4
# The first item of the message of a training step whose loss or gradients
# are not finite; the step and the loss follow it.
DIVERGED = 'non-finite loss or gradients at step'


def lrn_implementation(convention, is_training=True, device=''):
  """Which of LRN_IMPLEMENTATIONS computes an LRN layer, or None for 'none'.

  The default graph's LRN_OVERRIDE collection decides if it names one.
  Otherwise 'fused' for training on the CPU, where it is faster, and
  'tf.nn.lrn' for the rest:
    * graphs that do not train (evaluation, prediction, the export): a
      SavedModel must run where our kernel is not, in TF Serving;
    * GPUs (cuDNN's LRN): `device` names a GPU, or names no device while
      TensorFlow sees a GPU;
    * depth_radius 2 on the MKL build, which runs MKL-DNN's LRN in its own
      layout (a kernel of ours there would add layout conversions);
    * when the kernel cannot be built here (fused_lrn.load logs why).
  The choice changes speed only, never a checkpoint (LRN has no variables).

  Args:
    convention: a key of LRN.
    is_training: whether the graph trains.
    device: the device of the layer's input ('' when not placed).

  Returns:
    'tf.nn.lrn', 'fused', or None when the convention has no LRN.
  """
  settings = LRN[convention]
  if settings is None:
    return None
  forced = tf.get_collection(LRN_OVERRIDE)
  if forced:
    return forced[-1]
  on_gpu = ('GPU' in device.upper() if device
            else bool(distribution.visible_gpus()))
  if (not is_training or on_gpu or
      (settings[0] == 2 and distribution.mkl_enabled()) or
      fused_lrn.load() is None):
    return 'tf.nn.lrn'
  return 'fused'


def _lrn(net, data_format, convention, is_training, name):
  """Local response normalisation across channels, as tf.nn.lrn computes it.

  Built under the name scope `name` (its gradient under gradients/`name`),
  so a trace can sum its ops whatever computes it; the output is the
  endpoint `name`. Both implementations take NHWC: channels_first is
  transposed around them.
  """
  settings = LRN[convention]
  if settings is None:
    return tf.identity(net, name=name)
  implementation = lrn_implementation(convention, is_training, net.device)
  # The kernel is float32 only (AMP's float16 is a GPU's, where it is not).
  lrn = (fused_lrn.lrn if implementation == 'fused' and
         net.dtype == tf.float32 else tf.nn.lrn)
  depth_radius, bias, alpha, beta = settings
  with tf.name_scope(name) as scope:
    if data_format == 'channels_first':
      net = tf.transpose(net, [0, 2, 3, 1])
    net = lrn(net, depth_radius=depth_radius, bias=bias, alpha=alpha,
              beta=beta)
    if data_format == 'channels_first':
      net = tf.transpose(net, [0, 3, 1, 2])
    return tf.identity(net, name=scope)


def _initializers(init, name):
  """(kernel_initializer, bias_initializer) of layer `name` under `init`."""
  if init == 'tutorial':
    return None, tf.zeros_initializer()  # tf.layers' own defaults
  positive = name in _POSITIVE_BIAS_LAYERS
  stddev = 0.01
  if init == 'caffe':  # bvlc_alexnet's train_val.prototxt
    bias = 0.1 if positive else 0.0
    if name in ('dense1', 'dense2'):
      stddev = 0.005
  else:
    bias = 1.0 if positive else 0.0
  return (tf.random_normal_initializer(0.0, stddev),
          tf.constant_initializer(bias))


def _conv(net, filters, size, strides, padding, name, params, groups=1):
  """ReLU convolution; with groups=2, two halves side by side (paper, fig. 2).

  A grouped layer's variables are NAME/group0/* and NAME/group1/*: each group
  sees half the input channels and makes half the output channels.
  """
  kernel_init, bias_init = _initializers(params['init'], name)
  data_format = params['data_format']
  layer = lambda x, n, layer_name: tf.layers.conv2d(
      x, n, size, strides=strides, padding=padding, data_format=data_format,
      activation=tf.nn.relu, kernel_initializer=kernel_init,
      bias_initializer=bias_init, name=layer_name)
  if groups == 1:
    return layer(net, filters, name)
  axis = 1 if data_format == 'channels_first' else 3
  with tf.variable_scope(name):
    halves = tf.split(net, groups, axis=axis)
    outputs = [layer(half, filters // groups, 'group%d' % i)
               for i, half in enumerate(halves)]
    return tf.concat(outputs, axis=axis, name='concat')


def _dense(net, units, name, params, activation=tf.nn.relu):
  kernel_init, bias_init = _initializers(params['init'], name)
  return tf.layers.dense(net, units, activation=activation,
                         kernel_initializer=kernel_init,
                         bias_initializer=bias_init, name=name)


def alexnet(images, is_training, params):
  """Builds AlexNet and returns its logits.

  Args:
    images: float32 Tensor [batch, height, width, 3], NHWC, preprocessed;
      height and width of at least 67.
    is_training: Python bool; enables dropout, and the fused LRN kernel on
      the CPU (lrn_implementation).
    params: dict from `params.make_params`; reads 'num_classes',
      'dropout_rate', 'data_format', 'lrn_convention', 'conv_groups' and
      'init'.

  Returns:
    float32 Tensor [batch, num_classes] of unnormalised logits.
  """
  data_format = params['data_format']
  groups = params['conv_groups']
  lrn = params['lrn_convention']
  pool = lambda net, name: tf.layers.max_pooling2d(
      net, pool_size=3, strides=2, padding='valid', data_format=data_format,
      name=name)

  net = images
  if data_format == 'channels_first':
    net = tf.transpose(net, [0, 3, 1, 2])
  net = _conv(net, 96, 11, 4, 'valid', 'conv1', params)
  net = _lrn(net, data_format, lrn, is_training, 'lrn1')
  net = pool(net, 'pool1')
  net = _conv(net, 256, 5, 1, 'same', 'conv2', params, groups)
  net = _lrn(net, data_format, lrn, is_training, 'lrn2')
  net = pool(net, 'pool2')
  net = _conv(net, 384, 3, 1, 'same', 'conv3', params)
  net = _conv(net, 384, 3, 1, 'same', 'conv4', params, groups)
  net = _conv(net, 256, 3, 1, 'same', 'conv5', params, groups)
  net = pool(net, 'pool3')
  if data_format == 'channels_first':
    net = tf.transpose(net, [0, 2, 3, 1])  # flatten in NHWC order always
  net = tf.layers.flatten(net, name='flatten')
  rate = params['dropout_rate']
  net = _dense(net, 4096, 'dense1', params)
  net = tf.layers.dropout(net, rate=rate, training=is_training, name='dropout1')
  net = _dense(net, 4096, 'dense2', params)
  net = tf.layers.dropout(net, rate=rate, training=is_training, name='dropout2')
  # float32 logits under --dtype fp16 too: the AMP rewrite keeps softmax and
  # the cross-entropy in float32 (they are on its blacklist in TF 1.15).
  return _dense(net, params['num_classes'], 'logits', params, activation=None)


def _predictions(probabilities, params):
  classes = tf.argmax(probabilities, axis=1, name='classes')
  names = tf.constant(params_lib.class_names(params), dtype=tf.string)
  return {
      'classes': classes,
      'probabilities': tf.identity(probabilities, name='softmax_tensor'),
      'class_names': tf.gather(names, classes, name='class_names'),
  }


def _count(values):
  """A metric: how many elements of `values` the evaluation saw."""
  total = tf.Variable(0, dtype=tf.int64, trainable=False, name='count',
                      collections=[tf.GraphKeys.LOCAL_VARIABLES,
                                   tf.GraphKeys.METRIC_VARIABLES])
  update = tf.assign_add(total, tf.size(values, out_type=tf.int64))
  return tf.identity(total), update


def _metrics(labels, logits, predictions, params):
  k = min(5, params['num_classes'])
  with tf.variable_scope('num_images'):
    num_images = _count(labels)
  return {
      'accuracy': tf.metrics.accuracy(labels, predictions['classes']),
      'accuracy_top_5': tf.metrics.mean(
          tf.nn.in_top_k(logits, tf.cast(labels, tf.int32), k)),
      # The images actually evaluated: a count read, never one assumed.
      'num_images': num_images,
  }


def _learning_rate(params):
  """The rate of this step: schedule, plateau drops so far and warm-up."""
  # Plateau drops happen between training runs (schedule.py): a constant.
  rate = schedule.base_rate(params, params['lr_drops'])
  needs_epochs = (params['lr_schedule'] == 'step' or
                  params['warmup_epochs'] > 0)
  if not needs_epochs:
    # The tensor is not called 'learning_rate', so the summary's tag can be.
    return tf.constant(rate, tf.float32, name='learning_rate_value')
  if not params['steps_per_epoch']:
    raise params_lib.ParamError(
        'steps_per_epoch', 'the step schedule and warm-up count epochs, so '
        'they need steps_per_epoch')
  global_step = tf.train.get_global_step()
  step = tf.cast(global_step, tf.float32)
  rate = tf.constant(rate, tf.float32)
  if params['lr_schedule'] == 'step':
    # Whole steps: float epochs would put some drops a step late.
    decay_steps = max(1, int(round(params['lr_decay_epochs'] *
                                   params['steps_per_epoch'])))
    drops = tf.cast(global_step // decay_steps, tf.float32)
    rate *= tf.pow(params['lr_decay_factor'], drops)
  if params['warmup_epochs'] > 0:
    warmup_steps = params['warmup_epochs'] * params['steps_per_epoch']
    rate *= tf.minimum(1.0, (step + 1.0) / warmup_steps)
  return tf.identity(rate, name='learning_rate_value')


def _train_op(loss, params):
  """SGD as in the tutorial, momentum SGD or Adam, on the rate's schedule."""
  learning_rate = _learning_rate(params)
  tf.summary.scalar('learning_rate', learning_rate)
  if params['optimizer'] == 'momentum':
    optimizer = tf.train.MomentumOptimizer(learning_rate, params['momentum'])
  elif params['optimizer'] == 'adam':
    optimizer = tf.train.AdamOptimizer(learning_rate)
  else:
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
  if params['dtype'] == 'fp16':
    # Grappler's AMP pass runs the GPU kernels it can in float16; the wrapper
    # scales the loss (dynamically) so small fp16 gradients do not vanish.
    optimizer = tf.train.experimental.enable_mixed_precision_graph_rewrite(
        optimizer, loss_scale='dynamic')
  global_step = tf.train.get_global_step()
  # Frozen layers get no gradient, so no update and no optimizer slot.
  grads_and_vars = optimizer.compute_gradients(loss, var_list=_updated(params))
  # A step whose loss (or, in fp32, whose gradients) is NaN or inf fails
  # before it changes a variable, so no checkpoint ever holds one: the run
  # stops with the step named (run_loop turns it into one line).
  checks = [tf.debugging.Assert(tf.math.is_finite(loss),
                                [DIVERGED, global_step, loss],
                                name='loss_is_finite')]
  if params['dtype'] != 'fp16':  # fp16's loss scaling skips such steps itself
    norm = tf.linalg.global_norm([g for g, _ in grads_and_vars
                                  if g is not None])
    checks.append(tf.debugging.Assert(tf.math.is_finite(norm),
                                      [DIVERGED, global_step, loss],
                                      name='gradients_are_finite'))
  # No layer has UPDATE_OPS today; the dependency keeps that true if one does.
  with tf.control_dependencies(
      tf.get_collection(tf.GraphKeys.UPDATE_OPS) + checks):
    return optimizer.apply_gradients(grads_and_vars, global_step=global_step)


def _updated(params):
  """The variables training updates: those of params' trainable layers."""
  layers = set(params_lib.trainable_layers(params))
  return [v for v in tf.trainable_variables()
          if v.op.name.split('/')[0] in layers]


def _weight_decay(params):
  """weight_decay * sum of tf.nn.l2_loss over the updated weights, or None.

  tf.nn.l2_loss(w) is sum(w**2) / 2, whose gradient is w: SGD then takes the
  paper's "- 0.0005 * lr * w" step for weight_decay 5e-4. Frozen layers
  (params['trainable_layers']) are not decayed: they do not change.
  """
  if not params['weight_decay']:
    return None
  variables = [v for v in _updated(params)
               if params['decay_biases'] or 'bias' not in v.op.name]
  return tf.multiply(params['weight_decay'],
                     tf.add_n([tf.nn.l2_loss(v) for v in variables]),
                     name='weight_decay_loss')


def _summary_images(images, params):
  """The input images as TensorBoard shows them: uint8 RGB.

  The preprocessing is undone (the paper's and Caffe's mean, Caffe's BGR
  order), so the images show their own colours; uint8, because
  tf.summary.image rescales each float image to its own brightest pixel.
  The lighting may step outside [0, 1]: those values are clipped.
  """
  if params['preprocessing'] == 'paper':
    images = (images + tf.constant(preprocessing.MEAN_RGB)) / 255.0
  elif params['preprocessing'] == 'caffe':
    images = tf.reverse(images + tf.constant(preprocessing.MEAN_BGR),
                        axis=[-1]) / 255.0
  return tf.image.convert_image_dtype(tf.clip_by_value(images, 0.0, 1.0),
                                      tf.uint8)


def model_fn(features, labels, mode, params):
  """Estimator model_fn for AlexNet classification.

  Args:
    features: dict with the image batch under 'x', or that image batch
      itself: float32 [B, H, W, 3] as the preprocessing of `params` makes it,
      or [B, V, H, W, 3] of V views of each image (10 crops) outside TRAIN,
      whose softmax outputs are averaged. In PREDICT mode an optional 'file'
      entry (string [B]) is passed through to the predictions.
    labels: int Tensor [B] (or [B, 1]) of class ids; None in PREDICT mode.
    mode: a tf.estimator.ModeKeys value.
    params: dict of hyper-parameters; missing keys take `params.DEFAULTS`
      (or those of params['recipe']), unknown keys raise `params.ParamError`.

  Returns:
    A tf.estimator.EstimatorSpec for `mode`.
  """
  params = params_lib.make_params(params)
  images = features['x'] if isinstance(features, dict) else features
  is_training = mode == tf.estimator.ModeKeys.TRAIN
  if images.shape.ndims == 5:  # views of each image: fold them into the batch
    views = tf.shape(images)[1]
    logits = alexnet(tf.reshape(images, [-1] + images.shape.as_list()[2:]),
                     is_training, params)
    logits = tf.reshape(logits, [-1, views, params['num_classes']])
    probabilities = tf.reduce_mean(tf.nn.softmax(logits), axis=1)
    # Logits whose softmax is the averaged probabilities, for loss and top-5.
    logits = tf.math.log(tf.maximum(probabilities, 1e-30))
  else:
    logits = alexnet(images, is_training, params)
    probabilities = tf.nn.softmax(logits)
  predictions = _predictions(probabilities, params)

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
  decay = _weight_decay(params)
  if decay is not None:
    tf.summary.scalar('cross_entropy_loss', loss)  # 'loss' adds the decay
    loss = tf.add(loss, decay, name='total_loss')
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(
        mode, loss=loss,
        eval_metric_ops=_metrics(labels, logits, predictions, params))

  accuracy = tf.reduce_mean(tf.cast(
      tf.equal(predictions['classes'], tf.cast(labels, tf.int64)), tf.float32))
  tf.summary.scalar('train_accuracy', accuracy)
  tf.summary.image('input', _summary_images(images, params),
                   max_outputs=NUM_SUMMARY_IMAGES)
  return tf.estimator.EstimatorSpec(mode, loss=loss,
                                    train_op=_train_op(loss, params))
