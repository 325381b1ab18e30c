"""Hyper-parameters: one plain dict, built once by `make_params`.

`params` is the only configuration channel into `model_fn` and the input
pipelines. A missing key takes its default from `DEFAULTS`; an unknown key or an
out-of-range value raises `ParamError`, which names the key (the CLI shows it as
the flag of the same name).
"""
import numbers

# The smallest input the tutorial network accepts: conv1 (11x11/4, VALID) and
# three 3x3/2 VALID pools leave a 1x1 pool3 at 67x67.
MIN_IMAGE_SIZE = 67

OPTIMIZERS = ('sgd', 'momentum', 'adam')
DATA_FORMATS = ('channels_last', 'channels_first')
RECIPE_NAMES = ('tutorial', 'paper')
LRN_CONVENTIONS = ('tutorial', 'paper', 'caffe', 'none')
INITS = ('tutorial', 'paper', 'caffe')
LR_SCHEDULES = ('constant', 'plateau', 'step')
PREPROCESSINGS = ('tutorial', 'paper')
EVAL_CROPS = (1, 10)
DTYPES = ('fp32', 'fp16')

DEFAULTS = dict(
    # Side of the square network input; the tutorial resizes to 224x224x3.
    image_size=224,
    # Output units of the last dense layer (fc8).
    num_classes=1000,
    # Optional class names, index i naming class id i; None gives '0', '1'...
    class_names=None,
    # Global batch size for training and evaluation.
    batch_size=32,
    # The tutorial trains with GradientDescentOptimizer(0.01): 'sgd'. Also
    # 'momentum' (MomentumOptimizer with `momentum`) and 'adam' (AdamOptimizer).
    optimizer='sgd',
    learning_rate=0.01,
    # Used only with optimizer='momentum'.
    momentum=0.9,
    # Dropout after fc6 and fc7, training only.
    dropout_rate=0.5,
    # Layout of the convolutions. Inputs are always NHWC; 'channels_first'
    # (NCHW) is faster on GPUs and is what train.py picks when one is present.
    data_format='channels_last',
    # 'fp16': automatic mixed precision (TF's graph rewrite, dynamic loss
    # scaling) in training; it changes GPU kernels only, and logits stay fp32.
    dtype='fp32',
    # Training input. A random crop (area 8%-100%, aspect 3/4-4/3) before the
    # resize; the tutorial resizes the whole image (False).
    random_crop=False,
    # Records in the TFRecord shuffle buffer.
    shuffle_buffer=10000,
    # Keep the encoded records in memory after the first epoch (small sets).
    cache_input=False,
    # Let fast images overtake slow ones: faster, order not reproducible.
    sloppy_input=False,
    # tf.data's own thread pool size; 0 shares TensorFlow's.
    datasets_num_private_threads=0,

    # The recipe: 'tutorial' (every default above and below) or 'paper', the
    # 2012 paper's (see RECIPES). Keys given beside it win over its values.
    recipe='tutorial',
    # Local response normalisation after conv1 and conv2 (see model_fn.LRN):
    # 'tutorial', 'paper', 'caffe' or 'none'.
    lrn_convention='tutorial',
    # 2 splits conv2, conv4 and conv5 into two groups, as on the paper's GPUs.
    conv_groups=1,
    # 'tutorial': tf.layers' defaults (Glorot-uniform weights, zero biases);
    # 'paper': weights N(0, 0.01), biases 1 in conv2, conv4, conv5, dense1 and
    # dense2, else 0; 'caffe': Caffe's bvlc_alexnet (0.1 for those biases,
    # N(0, 0.005) for dense1 and dense2).
    init='tutorial',
    # L2 weight decay: weight_decay * sum(tf.nn.l2_loss(w)) joins the loss.
    weight_decay=0.0,
    # Decay the biases too (the paper's update rule); False exempts them.
    decay_biases=True,
    # 'constant'; 'plateau': divide by 1/lr_decay_factor when validation
    # accuracy stops improving for plateau_patience evaluations, at most
    # max_lr_drops times; 'step': multiply by lr_decay_factor every
    # lr_decay_epochs epochs.
    lr_schedule='constant',
    lr_decay_factor=0.1,
    lr_decay_epochs=30.0,
    plateau_patience=2,
    max_lr_drops=3,
    # How many times the plateau schedule has dropped the rate so far; the
    # training loop sets it from model_dir's schedule state (schedule.py).
    lr_drops=0,
    # Linear warm-up of the rate from 0 over this many epochs.
    warmup_epochs=0.0,
    # Training steps in one epoch; the CLI sets it from the data. Needed by
    # the step schedule and warm-up.
    steps_per_epoch=None,
    # Stop training after this many evaluations without a better validation
    # accuracy (with the plateau schedule: once it has no drops left); 0: never.
    early_stopping_patience=0,
    # 'tutorial': resize the whole image to image_size, values in [0, 1].
    # 'paper': resize the short side to resize_side, centre crop a square,
    # then a random image_size crop and flip (training) or the centre
    # (evaluation); values 0-255 less the ImageNet channel mean.
    preprocessing='tutorial',
    resize_side=256,
    # Std-dev of the paper's PCA colour lighting in training; 0 turns it off.
    pca_lighting=0.0,
    # Evaluation and serving views, softmax averaged: 1 (centre) or 10 (the
    # corners and centre, and their mirror images; needs preprocessing paper).
    eval_crops=1,
)

# What `recipe` sets. 'paper' is Krizhevsky et al. 2012, section 5: SGD with
# momentum 0.9, batch 128, weight decay 5e-4, rate 0.01 divided by 10 on a
# plateau (three times in the paper), a 227 input so that pool3 is 6x6.
RECIPES = {
    'tutorial': {},
    'paper': dict(
        image_size=227, batch_size=128, optimizer='momentum',
        learning_rate=0.01, momentum=0.9, weight_decay=5e-4,
        lrn_convention='paper', conv_groups=2, init='paper',
        lr_schedule='plateau', preprocessing='paper', pca_lighting=0.1,
        eval_crops=10),
}


class ParamError(ValueError):
  """A hyper-parameter is unknown or out of range; `key` names it."""

  def __init__(self, key, message):
    super(ParamError, self).__init__('%s: %s' % (key, message))
    self.key = key
    self.message = message


def make_params(overrides=None, **kwargs):
  """Returns a complete, validated params dict.

  Args:
    overrides: optional dict of values that replace `DEFAULTS`.
    **kwargs: more overrides; they win over `overrides`.

  Returns:
    A new dict with every key of `DEFAULTS`.

  Raises:
    ParamError: a key is unknown or a value is out of range.
  """
  given = dict(overrides or {}, **kwargs)
  unknown = sorted(set(given) - set(DEFAULTS))
  if unknown:
    raise ParamError(unknown[0], 'unknown parameter (known: %s)'
                     % ', '.join(sorted(DEFAULTS)))
  recipe = given.get('recipe', DEFAULTS['recipe'])
  _check(recipe in RECIPES, 'recipe', 'must be one of %s, got %r'
         % (', '.join(RECIPE_NAMES), recipe))
  params = dict(DEFAULTS, **RECIPES[recipe])
  params.update(given)
  if params['class_names'] is not None:
    params['class_names'] = tuple(str(n) for n in params['class_names'])
  _validate(params)
  return params


def class_names(params):
  """Returns the class names of `params`: given ones, or '0'..'N-1'."""
  if params['class_names'] is not None:
    return params['class_names']
  return tuple(str(i) for i in range(params['num_classes']))


def _check(condition, key, message):
  if not condition:
    raise ParamError(key, message)


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _validate(p):
  """Raises ParamError for the first out-of-range value of params `p`."""
  _check(_is_int(p['image_size']) and p['image_size'] >= MIN_IMAGE_SIZE,
         'image_size', 'must be an integer >= %d (the smallest input the '
         'network takes), got %r' % (MIN_IMAGE_SIZE, p['image_size']))
  _check(_is_int(p['num_classes']) and p['num_classes'] >= 1, 'num_classes',
         'must be an integer >= 1, got %r' % (p['num_classes'],))
  names = p['class_names']
  if names is not None:
    _check(len(names) == p['num_classes'], 'class_names',
           'has %d names for num_classes=%d' % (len(names), p['num_classes']))
    _check(len(set(names)) == len(names), 'class_names',
           'names must be unique')
  _check(_is_int(p['batch_size']) and p['batch_size'] >= 1, 'batch_size',
         'must be an integer >= 1, got %r' % (p['batch_size'],))
  _check(p['optimizer'] in OPTIMIZERS, 'optimizer',
         'must be one of %s, got %r' % (', '.join(OPTIMIZERS), p['optimizer']))
  _check(_is_number(p['learning_rate']) and p['learning_rate'] > 0,
         'learning_rate', 'must be > 0, got %r' % (p['learning_rate'],))
  _check(_is_number(p['momentum']) and 0 <= p['momentum'] < 1, 'momentum',
         'must be in [0, 1), got %r' % (p['momentum'],))
  _check(_is_number(p['dropout_rate']) and 0 <= p['dropout_rate'] < 1,
         'dropout_rate', 'must be in [0, 1), got %r' % (p['dropout_rate'],))
  _check(_is_int(p['shuffle_buffer']) and p['shuffle_buffer'] >= 1,
         'shuffle_buffer', 'must be an integer >= 1, got %r'
         % (p['shuffle_buffer'],))
  _check(_is_int(p['datasets_num_private_threads']) and
         p['datasets_num_private_threads'] >= 0,
         'datasets_num_private_threads', 'must be an integer >= 0, got %r'
         % (p['datasets_num_private_threads'],))
  for key in ('random_crop', 'cache_input', 'sloppy_input'):
    _check(isinstance(p[key], bool), key, 'must be True or False, got %r'
           % (p[key],))
  for key, allowed in (('data_format', DATA_FORMATS), ('dtype', DTYPES),
                       ('lrn_convention', LRN_CONVENTIONS),
                       ('conv_groups', (1, 2)), ('init', INITS),
                       ('lr_schedule', LR_SCHEDULES),
                       ('preprocessing', PREPROCESSINGS),
                       ('eval_crops', EVAL_CROPS)):
    _check(p[key] in allowed and not isinstance(p[key], bool), key,
           'must be one of %s, got %r'
           % (', '.join(str(a) for a in allowed), p[key]))
  for key in ('weight_decay', 'pca_lighting', 'warmup_epochs'):
    _check(_is_number(p[key]) and p[key] >= 0, key,
           'must be >= 0, got %r' % (p[key],))
  _check(_is_number(p['lr_decay_factor']) and 0 < p['lr_decay_factor'] < 1,
         'lr_decay_factor', 'must be in (0, 1), got %r'
         % (p['lr_decay_factor'],))
  _check(_is_number(p['lr_decay_epochs']) and p['lr_decay_epochs'] > 0,
         'lr_decay_epochs', 'must be > 0, got %r' % (p['lr_decay_epochs'],))
  for key in ('plateau_patience',):
    _check(_is_int(p[key]) and p[key] >= 1, key,
           'must be an integer >= 1, got %r' % (p[key],))
  for key in ('max_lr_drops', 'lr_drops', 'early_stopping_patience'):
    _check(_is_int(p[key]) and p[key] >= 0, key,
           'must be an integer >= 0, got %r' % (p[key],))
  _check(isinstance(p['decay_biases'], bool), 'decay_biases',
         'must be True or False, got %r' % (p['decay_biases'],))
  _check(p['steps_per_epoch'] is None or
         (_is_int(p['steps_per_epoch']) and p['steps_per_epoch'] >= 1),
         'steps_per_epoch', 'must be None or an integer >= 1, got %r'
         % (p['steps_per_epoch'],))
  _check(_is_int(p['resize_side']) and p['resize_side'] >= p['image_size'],
         'resize_side', 'must be an integer >= image_size (%r), got %r'
         % (p['image_size'], p['resize_side']))
  _check(not p['random_crop'] or p['preprocessing'] == 'tutorial',
         'random_crop', 'goes with preprocessing tutorial (the paper\'s '
         'preprocessing has its own random crop)')
  _check(p['eval_crops'] == 1 or p['preprocessing'] == 'paper', 'eval_crops',
         '10 needs preprocessing paper (the tutorial\'s resize leaves '
         'nothing to crop)')
