"""Hyper-parameters: one plain dict, built once, the only config channel.

`params` is the only configuration channel into `model_fn` and the input
pipelines. `KEYS` lists every key with its default and, for the keys a user
tunes, the help text: the command line's hyper-parameter flags are generated
from it (flags.define_hparam_flags), so a new key is one entry here.

`resolve` is the one way a run's params are made: the defaults, then the
recipe, then the model_dir's description, then the user's overrides, then the
values derived from the data and the devices, then validation. `make_params`
is the plain version (defaults, recipe, overrides, validation). A missing key
takes its default; an unknown key or an out-of-range value raises
`ParamError`, which names the key (the CLI shows it as the flag of the same
name).
"""
import collections
import math
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
PREPROCESSINGS = ('tutorial', 'paper', 'caffe')
EVAL_CROPS = (1, 10)
DTYPES = ('fp32', 'fp16')

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


# The network's layers, input to output (model_fn's variable scopes).
LAYERS = ('conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'dense1', 'dense2',
          'logits')

# The allowed values of the keys that take one of a few.
CHOICES = {
    'optimizer': OPTIMIZERS, 'data_format': DATA_FORMATS,
    'recipe': RECIPE_NAMES, 'lrn_convention': LRN_CONVENTIONS,
    'init': INITS, 'lr_schedule': LR_SCHEDULES,
    'preprocessing': PREPROCESSINGS, 'eval_crops': EVAL_CROPS,
    'dtype': DTYPES, 'conv_groups': (1, 2),
}

# key: (default, help). Keys with help are tunable: each is a flag of the
# same name. Those without are set by the run itself (from the data, the
# model_dir or the schedule), never by a flag.
KEYS = collections.OrderedDict([
    ('image_size', (224, 'Side images are resized to; the tutorial resizes '
                    'to 224x224x3 (at least %d).' % MIN_IMAGE_SIZE)),
    ('num_classes', (1000, None)),  # units of fc8; from the data
    # Index i names class id i; None gives '0', '1'...
    ('class_names', (None, None)),
    ('batch_size', (32, 'Global batch size for training and evaluation.')),
    ('optimizer', ('sgd', 'sgd is the tutorial\'s GradientDescentOptimizer; '
                   'momentum uses --momentum; adam is AdamOptimizer.')),
    ('learning_rate', (0.01, 'Learning rate (the tutorial\'s 0.01).')),
    ('momentum', (0.9, 'Momentum for --optimizer momentum.')),
    ('dropout_rate', (0.5, 'Dropout rate after dense1 and dense2, in '
                      'training.')),
    ('data_format', ('channels_last', 'Layout of the convolutions; unset: '
                     'channels_first when a GPU is present, else '
                     'channels_last. Exports are always NHWC.')),
    ('dtype', ('fp32', 'fp16: automatic mixed precision in training (graph '
               'rewrite, dynamic loss scaling; GPUs only gain from it).')),
    ('random_crop', (False, 'Train on random crops (area 8-100%, fused JPEG '
                     'decode) instead of whole images.')),
    ('shuffle_buffer', (10000, 'TFRecords: records in the shuffle buffer.')),
    ('cache_input', (False, 'TFRecords: keep the records in memory after the '
                     'first epoch (small data sets).')),
    ('sloppy_input', (False, 'Let fast images overtake slow ones in the '
                      'input: faster, order not reproducible.')),
    ('datasets_num_private_threads', (0, 'Threads of tf.data\'s own pool (0: '
                                      'share TensorFlow\'s).')),
    ('recipe', ('tutorial', 'tutorial: the tutorial\'s network and training. '
                'paper: Krizhevsky et al. 2012 (%s). The other hyper-parameter flags '
                'override single pieces, in any order.' % ', '.join(
                    '%s=%s' % kv for kv in sorted(RECIPES['paper'].items())))),
    ('lrn_convention', ('tutorial', 'LRN after conv1 and conv2: tutorial '
                        '(radius 5, bias 2), paper (n=5: radius 2, k=2, alpha '
                        '1e-4), caffe (radius 2, k=1, alpha 1e-4/5) or '
                        'none.')),
    ('conv_groups', (1, '1, or 2 to split conv2, conv4 and conv5 in two '
                     'groups as on the paper\'s two GPUs.')),
    ('init', ('tutorial', 'Initialisation: tutorial (Glorot, zero biases), '
              'paper (N(0, 0.01), biases 1 in conv2/4/5 and dense1/2) or '
              'caffe (biases 0.1 there).')),
    ('weight_decay', (0.0, 'L2 weight decay factor: weight_decay * '
                      'sum(l2_loss(w)) joins the loss (paper: 5e-4).')),
    ('decay_biases', (True, 'Apply weight decay to the biases too (the '
                      'paper\'s update rule); --nodecay_biases exempts '
                      'them.')),
    ('lr_schedule', ('constant', 'constant; plateau: x --lr_decay_factor '
                     'when validation accuracy stops improving '
                     '(train_and_eval only); step: x --lr_decay_factor every '
                     '--lr_decay_epochs epochs.')),
    ('lr_decay_factor', (0.1, 'Rate multiplier of a drop.')),
    ('lr_decay_epochs', (30.0, 'Step schedule: epochs between drops.')),
    ('plateau_patience', (2, 'Plateau schedule: evaluations without a better '
                          'accuracy before a drop.')),
    ('max_lr_drops', (3, 'Plateau schedule: at most this many drops (3 in '
                      'the paper).')),
    # Drops the plateau schedule has made so far (schedule.py's state).
    ('lr_drops', (0, None)),
    ('warmup_epochs', (0.0, 'Linear warm-up of the rate from 0 over this '
                       'many epochs.')),
    # Training steps in one epoch, from the data; the step schedule and
    # warm-up count epochs with it.
    ('steps_per_epoch', (None, None)),
    ('early_stopping_patience', (0, 'Stop after this many evaluations '
                                 'without a better validation accuracy (with '
                                 'the plateau schedule: once no drop is '
                                 'left); 0: never.')),
    ('preprocessing', ('tutorial', 'tutorial: resize whole images, values in '
                       '[0, 1]. paper: short side to --resize_side, centre '
                       'square, random crop and flip in training, mean '
                       'subtracted. caffe: the BVLC model\'s input: both sides '
                       'to --resize_side, centre crop (random crop and flip '
                       'in training), BGR, 0-255 less the ImageNet mean.')),
    ('resize_side', (256, 'Paper preprocessing: side the short side is '
                     'resized to; caffe: both sides.')),
    ('pca_lighting', (0.0, 'Std-dev of the paper\'s PCA colour lighting in '
                      'training (paper: 0.1); 0 turns it off.')),
    ('trainable_layers', ('all', 'Comma-separated layers that training '
                          'updates (of %s); the others stay as they are: no '
                          'gradients, weight decay or optimizer slots. all: '
                          'every layer.' % ','.join(LAYERS))),
    ('eval_crops', (1, 'Views per image in evaluation, prediction and the '
                    'export: 1 (centre) or 10 (corners, centre and mirrors, '
                    'softmax averaged; paper or caffe preprocessing).')),
])

DEFAULTS = {key: default for key, (default, _) in KEYS.items()}
# The keys a user sets (each a flag): {key: (default, help)}.
TUNABLE = collections.OrderedDict(
    (key, value) for key, value in KEYS.items() if value[1] is not None)


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


def trainable_layers(params):
  """The layers training updates, in network order (LAYERS for 'all')."""
  value = params['trainable_layers'].strip()
  if value == 'all':
    return LAYERS
  names = [n.strip() for n in value.split(',') if n.strip()]
  return tuple(n for n in LAYERS if n in names) + tuple(
      n for n in names if n not in LAYERS)


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
  """A finite real number: inf and nan are never a hyper-parameter."""
  return (isinstance(value, numbers.Real) and not isinstance(value, bool) and
          math.isfinite(value))


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
  for key, allowed in sorted(CHOICES.items()):
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
  layers = trainable_layers(p) if isinstance(p['trainable_layers'],
                                             str) else None
  _check(layers is not None and layers and set(layers) <= set(LAYERS),
         'trainable_layers', 'must be all or comma-separated layers of %s, '
         'got %r' % (', '.join(LAYERS), p['trainable_layers']))
  _check(p['eval_crops'] == 1 or p['preprocessing'] in ('paper', 'caffe'),
         'eval_crops', '10 needs preprocessing paper or caffe (the '
         'tutorial\'s resize leaves nothing to crop)')


def resolve(overrides=None, description=None, data_classes=None,
            num_train=None, num_gpus=0):
  """Makes a run's params: the one path for the CLI, notebooks and tests.

  Later sources win: `DEFAULTS`; the recipe (the overrides', else the
  description's); the model_dir's `description`; the user's `overrides`
  (None values mean "not given"); the data's classes. Then the derived
  values: `data_format` (channels_first with GPUs, unless given) and
  `steps_per_epoch` (from `num_train` and the batch size). Then validation.

  Args:
    overrides: dict of hyper-parameters the user set; None values are unset.
    description: optional dict of a model_dir's description
      (model_dir.load_model_info): class names, image size and the settings
      that shape the network.
    data_classes: optional class names of the data, in class id order.
    num_train: optional number of training examples.
    num_gpus: GPUs the run uses; decides the default data_format.

  Returns:
    A new, complete, validated params dict.

  Raises:
    ParamError: a key is unknown or a value out of range.
  """
  given = dict(description or {})
  if given.get('class_names') is not None:
    given.setdefault('num_classes', len(given['class_names']))
  given.update((k, v) for k, v in (overrides or {}).items() if v is not None)
  if data_classes is not None:
    given.update(class_names=list(data_classes),
                 num_classes=len(data_classes))
  if given.get('data_format') is None:
    given['data_format'] = 'channels_first' if num_gpus else 'channels_last'
  params = make_params(given)
  if num_train:
    params = make_params(params, steps_per_epoch=int(math.ceil(
        num_train / float(params['batch_size']))))
  return params


def nhwc(params):
  """`params` with channels_last: what CPU kernels and exports need."""
  return dict(params, data_format='channels_last')
