"""The fused LRN kernel (kernels/lrn.cc): built once per TensorFlow, loaded.

AlexnetLRN and AlexnetLRNGrad compute tf.nn.lrn and its gradient on the CPU,
one row of channels at a time (the source says how, and why TensorFlow's own
CPU kernels are slow at AlexNet's sizes). model_fn.lrn_implementation decides
where they are used: training graphs on the CPU.

The kernel is C++ and is compiled here, against the TensorFlow that runs,
with that TensorFlow's compile and link flags (tf.sysconfig), by $CXX
(default g++), the first time a process asks for it. The library is kept in
the cache folder:

  $ALEXNET_ESTIMATOR_CACHE, else $XDG_CACHE_HOME/alexnet_estimator, else
  ~/.cache/alexnet_estimator

named after a digest of the source, the TensorFlow build, the compiler and
the flags, so a change of any of them builds anew and several TensorFlow
builds (or machines, on a shared home) each keep their own. A build takes
about 10 s and is written under a temporary name, then renamed: processes
that build at once each get a whole library.

If it cannot be built or loaded (no compiler, say), `load()` logs why once
and returns None, and training uses tf.nn.lrn: the same function, slower.
ALEXNET_ESTIMATOR_FUSED_LRN=0 turns the kernel off.
"""
import hashlib
import os
import subprocess
import tempfile
import threading

from absl import logging
import tensorflow as tf

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kernels',
                      'lrn.cc')
# Set to 0 to train with tf.nn.lrn instead.
SWITCH = 'ALEXNET_ESTIMATOR_FUSED_LRN'
CACHE = 'ALEXNET_ESTIMATOR_CACHE'
# Optimisation flags: -fno-math-errno lets sqrt vectorise.
_OPTIMISE = ['-std=c++11', '-shared', '-fPIC', '-O3', '-fno-math-errno']

# The loaded library, or None; one attempt per process: a second library
# with the same ops would register their kernels twice. MirroredStrategy
# builds each replica's graph in a thread of its own.
_loaded = {}
_lock = threading.Lock()


class BuildError(Exception):
  """The kernel could not be built or loaded; the message says why."""


def cache_dir():
  """The folder that keeps built libraries (see the module's docstring)."""
  if os.environ.get(CACHE):
    return os.environ[CACHE]
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(
      os.path.expanduser('~'), '.cache')
  return os.path.join(base, 'alexnet_estimator')


def _cpu_flags():
  """-m flags for the vector units this CPU has (AVX2 and FMA, or AVX).

  Named, not -march=native, so that one library serves every CPU with them.
  """
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('flags'):
          have = set(line.split(':', 1)[1].split())
          if {'avx2', 'fma'} <= have:
            return ['-mavx2', '-mfma']
          return ['-mavx'] if 'avx' in have else []
  except OSError:
    pass
  return []


def _command(output):
  """The compiler's command line that builds the library into `output`."""
  compiler = os.environ.get('CXX') or 'g++'
  return ([compiler] + _OPTIMISE + _cpu_flags() + [SOURCE, '-o', output] +
          tf.sysconfig.get_compile_flags() + tf.sysconfig.get_link_flags())


def library_path():
  """Where this TensorFlow's build of the kernel is (or will be) kept.

  Raises:
    BuildError: the kernel's source is not installed.
  """
  digest = hashlib.sha256()
  try:
    with open(SOURCE, 'rb') as f:
      digest.update(f.read())
  except OSError as e:
    raise BuildError('cannot read the kernel\'s source %s (%s); reinstall '
                     'the package' % (SOURCE, e.strerror or e))
  # The command holds the compiler, the flags and TensorFlow's own paths.
  for part in [tf.__version__, tf.__git_version__] + _command('-'):
    digest.update(part.encode('utf-8') + b'\0')
  return os.path.join(cache_dir(), 'lrn-%s.so' % digest.hexdigest()[:16])


def build():
  """Compiles the kernel unless its library is there; returns its path.

  Raises:
    BuildError: the cache folder cannot be written, or the compiler is
      missing or fails (its last line of output is in the message).
  """
  path = library_path()
  if os.path.isfile(path):
    return path
  folder = os.path.dirname(path)
  try:
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix='.lrn-', suffix='.so',
                                         dir=folder)
    os.close(handle)
  except OSError as e:
    raise BuildError('cannot write %s (%s); set %s to a writable folder'
                     % (folder, e.strerror or e, CACHE))
  command = _command(temporary)
  logging.info('Building the fused LRN kernel for this TensorFlow (once, '
               'about 10 s): %s', path)
  try:
    try:
      done = subprocess.run(command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    except OSError as e:
      raise BuildError('cannot run the compiler %s (%s); install g++ or set '
                       'CXX' % (command[0], e.strerror or e))
    if done.returncode:
      lines = done.stdout.decode('utf-8', 'replace').strip().splitlines()
      raise BuildError('%s failed (exit %d): %s' % (
          command[0], done.returncode,
          lines[-1] if lines else 'no output'))
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)
  return path


def load():
  """The kernel's library (tf.load_op_library's module), or None.

  Builds it if needed. The first call of a process decides; when it fails,
  the reason is logged once as a warning, and later calls return None too.
  """
  with _lock:
    if 'library' not in _loaded:
      _loaded['library'] = _first_load()
  return _loaded['library']


def _first_load():
  """load()'s one attempt: the library, or None after saying why."""
  if os.environ.get(SWITCH, '1') == '0':
    logging.info('The fused LRN kernel is off (%s=0): LRN is tf.nn.lrn',
                 SWITCH)
    return None
  try:
    path = build()
    try:
      return tf.load_op_library(path)
    except (tf.errors.OpError, OSError) as e:
      raise BuildError('cannot load %s (%s); delete it to build it again'
                       % (path, getattr(e, 'message', e)))
  except BuildError as e:
    logging.warning('No fused LRN kernel: %s. Training computes LRN with '
                    'tf.nn.lrn: the same values, slower.', e)
    return None


def lrn(images, depth_radius, bias, alpha, beta):
  """tf.nn.lrn(images, depth_radius, bias, alpha, beta) by the fused kernel.

  Args:
    images: float32 Tensor [batch, height, width, channels] (NHWC).
    depth_radius, bias, alpha, beta: as tf.nn.lrn's.

  Returns:
    float32 Tensor of the shape of `images`; its gradient is AlexnetLRNGrad.

  Raises:
    BuildError: the kernel is not available (load() returned None).
  """
  library = load()
  if library is None:
    raise BuildError('the fused LRN kernel is not available')
  return library.alexnet_lrn(images, depth_radius=depth_radius, bias=bias,
                             alpha=alpha, beta=beta)


@tf.RegisterGradient('AlexnetLRN')
def _lrn_gradient(op, grad):
  attrs = {name: op.get_attr(name)
           for name in ('depth_radius', 'bias', 'alpha', 'beta')}
  return load().alexnet_lrn_grad(grad, op.inputs[0], **attrs)
