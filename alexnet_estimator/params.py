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
)


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
  params = dict(DEFAULTS, **given)
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
  _check(p['data_format'] in DATA_FORMATS, 'data_format',
         'must be one of %s, got %r' % (', '.join(DATA_FORMATS),
                                        p['data_format']))
