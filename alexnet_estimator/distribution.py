"""Devices for a run: distribution strategy, per-replica batch, GPU threads.

After tensorflow/models' TF1 `official/utils/misc/distribution_utils.py`:
`--distribution_strategy` is one of

  default      no strategy on one device (TensorFlow places the work on the
               GPU if there is one); MirroredStrategy over the GPUs when
               num_gpus > 1.
  off          no strategy; one device at most.
  one_device   OneDeviceStrategy on GPU 0, or on the CPU without GPUs.
  mirrored     MirroredStrategy (in-graph replication, all-reduce) over the
               GPUs, or over `virtual_cpus` CPU devices without GPUs.

`--batch_size` is global: each of N replicas gets batch_size / N images.
"""
import collections
import os

import tensorflow as tf

STRATEGIES = ('default', 'off', 'one_device', 'mirrored')
GPU_THREAD_MODES = ('global', 'gpu_private', 'gpu_shared')


class DistributionError(ValueError):
  """The devices asked for cannot work together; the message names the flag."""


# What a run's Estimator needs to know of its devices (see make_devices).
# gpu_thread_mode takes effect with set_gpu_thread_mode, when the run starts.
Devices = collections.namedtuple('Devices', [
    'strategy', 'num_gpus', 'replicas', 'virtual_cpus', 'enable_xla',
    'gpu_thread_mode'])

SINGLE_DEVICE = Devices(None, 0, 1, 1, False, 'global')


def visible_gpus():
  """How many GPUs TensorFlow sees here (0 on a CPU-only build)."""
  # list_physical_devices creates no device, so the session's allow_growth
  # still holds (device_lib.list_local_devices would claim all GPU memory).
  return len(tf.config.experimental.list_physical_devices('GPU'))


def make_devices(distribution_strategy='default', num_gpus=None,
                 virtual_cpus=1, enable_xla=False, gpu_thread_mode='global'):
  """The run's Devices from the device flags; changes nothing.

  Args:
    distribution_strategy: one of STRATEGIES.
    num_gpus: GPUs to use; None: all that TensorFlow sees.
    virtual_cpus: CPU devices for `mirrored` without GPUs.
    enable_xla: XLA JIT for the whole graph.
    gpu_thread_mode: one of GPU_THREAD_MODES.

  Raises:
    DistributionError: the flags cannot work together, or ask for more GPUs
      than there are.
  """
  if gpu_thread_mode not in GPU_THREAD_MODES:
    raise DistributionError('--tf_gpu_thread_mode must be one of %s, got %r'
                            % (', '.join(GPU_THREAD_MODES), gpu_thread_mode))
  visible = visible_gpus()
  if num_gpus is None:
    num_gpus = visible
  elif num_gpus > visible:
    raise DistributionError('--num_gpus %d, but TensorFlow sees %d GPU(s) '
                            'here' % (num_gpus, visible))
  strategy = get_strategy(distribution_strategy, num_gpus, virtual_cpus)
  return Devices(strategy, num_gpus, num_replicas(strategy), virtual_cpus,
                 enable_xla, gpu_thread_mode)


def get_strategy(name, num_gpus, virtual_cpus=1):
  """Returns a tf.distribute.Strategy, or None for plain single-device runs.

  Args:
    name: one of STRATEGIES.
    num_gpus: GPUs to use (0 for the CPU).
    virtual_cpus: without GPUs, how many CPU devices `mirrored` spreads over
      (the session must create them: estimator.make_run_config does).

  Raises:
    DistributionError: the combination cannot work.
  """
  if name not in STRATEGIES:
    raise DistributionError('--distribution_strategy must be one of %s, got %r'
                            % (', '.join(STRATEGIES), name))
  if num_gpus < 0 or virtual_cpus < 1:
    raise DistributionError('--num_gpus must be >= 0 and --virtual_cpus >= 1')
  if virtual_cpus > 1 and (num_gpus or name != 'mirrored'):
    raise DistributionError('--virtual_cpus goes with --distribution_strategy '
                            'mirrored and no GPU')
  if name == 'off' or (name == 'default' and num_gpus <= 1):
    if num_gpus > 1:
      raise DistributionError('--distribution_strategy off uses one device, '
                              'but --num_gpus is %d' % num_gpus)
    return None
  if name == 'one_device':
    if num_gpus > 1:
      raise DistributionError('--distribution_strategy one_device uses one '
                              'device, but --num_gpus is %d' % num_gpus)
    return tf.distribute.OneDeviceStrategy(
        '/device:GPU:0' if num_gpus else '/device:CPU:0')
  if num_gpus:
    devices = ['/device:GPU:%d' % i for i in range(num_gpus)]
  else:
    devices = ['/device:CPU:%d' % i for i in range(virtual_cpus)]
  return tf.distribute.MirroredStrategy(devices=devices)


def num_replicas(strategy):
  return strategy.num_replicas_in_sync if strategy is not None else 1


def per_replica_batch_size(batch_size, replicas):
  """The batch each replica's input pipeline makes of a global `batch_size`.

  Raises:
    DistributionError: batch_size does not split evenly.
  """
  if batch_size % replicas:
    raise DistributionError('--batch_size %d does not split over %d replicas; '
                            'use a multiple of %d' % (batch_size, replicas,
                                                      replicas))
  return batch_size // replicas


def mkl_enabled():
  """True on an MKL-DNN build of TensorFlow (intel-tensorflow)."""
  from tensorflow.python import pywrap_tensorflow  # pylint: disable=g-import-not-at-top
  return pywrap_tensorflow.IsMklEnabled()


def cpu_cores():
  """The CPUs this process may run on."""
  return len(os.sched_getaffinity(0))


def set_cpu_threading(config):
  """The thread settings scripts/benchmark.py found best, where unset.

  On the MKL build: one OpenMP thread per core with a 1 ms spin before
  sleeping (OMP_NUM_THREADS, KMP_BLOCKTIME), as many intra-op threads as
  cores and one inter-op thread, so OpenMP's threads do not compete with a
  second op's. TF's defaults oversubscribe the cores and trained 10-15%
  slower here (docs/devices.md, "A fast CPU path"). The stock build's defaults are
  already right and are left alone. Values the user set (environment or
  config) win. OpenMP reads its variables when MKL first runs, so this must
  run before the first session that computes anything.

  Args:
    config: a tf.ConfigProto, changed in place.
  """
  if not mkl_enabled():
    return
  cores = cpu_cores()
  os.environ.setdefault('OMP_NUM_THREADS', str(cores))
  os.environ.setdefault('KMP_BLOCKTIME', '1')
  if not config.intra_op_parallelism_threads:
    config.intra_op_parallelism_threads = cores
  if not config.inter_op_parallelism_threads:
    config.inter_op_parallelism_threads = 1


def set_gpu_thread_mode(mode, num_gpus, threads_per_gpu=2):
  """Sets TF_GPU_THREAD_MODE before any session, as tf_cnn_benchmarks does.

  'gpu_private' gives each GPU its own threads to launch kernels, so a busy
  input pipeline cannot delay them. Returns the environment it set.
  """
  if mode == 'global':
    return {}
  env = {'TF_GPU_THREAD_MODE': mode,
         'TF_GPU_THREAD_COUNT': str(threads_per_gpu)}
  os.environ.update(env)
  return env
