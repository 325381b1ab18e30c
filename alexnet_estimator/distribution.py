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
  multi_worker_mirrored
               tf.distribute.experimental.MultiWorkerMirroredStrategy:
               synchronous training across the machines of a cluster (chief
               and workers of TF_CONFIG, no parameter server), one replica per
               GPU of each (TensorFlow 1.15 takes every GPU it sees) or one on
               its CPU; gradients are all-reduced every step (`all_reduce_alg`
               ring, or nccl between GPUs), so every worker holds the same
               variables.

`--batch_size` is global: each of N replicas (of all workers) gets
batch_size / N images.

MultiWorkerMirroredStrategy reads TF_CONFIG when it is made, and the run puts
TF_CONFIG into the environment only once every check has passed: so
make_devices describes it (`Devices.multi_worker`) and make_strategy makes it
when the run starts.
"""
import collections
import os

import tensorflow as tf

MULTI_WORKER = 'multi_worker_mirrored'
STRATEGIES = ('default', 'off', 'one_device', 'mirrored', MULTI_WORKER)
GPU_THREAD_MODES = ('global', 'gpu_private', 'gpu_shared')
ALL_REDUCE_ALGS = ('ring', 'nccl')


class DistributionError(ValueError):
  """The devices asked for cannot work together; the message names the flag."""


# What a run's Estimator needs to know of its devices (see make_devices).
# gpu_thread_mode takes effect with set_gpu_thread_mode, when the run starts.
# replicas counts those of every worker. multi_worker: None, or the
# MultiWorker that make_strategy turns into the strategy when the run starts
# (`strategy` is then None).
Devices = collections.namedtuple('Devices', [
    'strategy', 'num_gpus', 'replicas', 'virtual_cpus', 'enable_xla',
    'gpu_thread_mode', 'multi_worker'])

# num_workers: the chief and the workers; all_reduce_alg: one of
# ALL_REDUCE_ALGS, or None for TensorFlow's choice (ring in 1.15).
MultiWorker = collections.namedtuple('MultiWorker', ['num_workers',
                                                     'all_reduce_alg'])

SINGLE_DEVICE = Devices(None, 0, 1, 1, False, 'global', None)


def visible_gpus():
  """How many GPUs TensorFlow sees here (0 on a CPU-only build)."""
  # list_physical_devices creates no device, so the session's allow_growth
  # still holds (device_lib.list_local_devices would claim all GPU memory).
  return len(tf.config.experimental.list_physical_devices('GPU'))


def make_devices(distribution_strategy='default', num_gpus=None,
                 virtual_cpus=1, enable_xla=False, gpu_thread_mode='global',
                 all_reduce_alg=None, num_workers=None):
  """The run's Devices from the device flags; changes nothing.

  Args:
    distribution_strategy: one of STRATEGIES.
    num_gpus: GPUs to use; None: all that TensorFlow sees.
    virtual_cpus: CPU devices for `mirrored` without GPUs.
    enable_xla: XLA JIT for the whole graph.
    gpu_thread_mode: one of GPU_THREAD_MODES.
    all_reduce_alg: with multi_worker_mirrored, one of ALL_REDUCE_ALGS, or
      None for TensorFlow's choice.
    num_workers: the cluster's chief and workers (multi_worker_mirrored);
      None outside a cluster.

  Raises:
    DistributionError: the flags cannot work together, or ask for more GPUs
      than there are.
  """
  if gpu_thread_mode not in GPU_THREAD_MODES:
    raise DistributionError('--tf_gpu_thread_mode must be one of %s, got %r'
                            % (', '.join(GPU_THREAD_MODES), gpu_thread_mode))
  visible = visible_gpus()
  if distribution_strategy == MULTI_WORKER:
    return _multi_worker_devices(num_gpus, visible, virtual_cpus, enable_xla,
                                 gpu_thread_mode, all_reduce_alg, num_workers)
  if all_reduce_alg is not None:
    raise DistributionError('--all_reduce_alg goes with '
                            '--distribution_strategy %s' % MULTI_WORKER)
  if num_gpus is None:
    num_gpus = visible
  elif num_gpus > visible:
    raise DistributionError('--num_gpus %d, but TensorFlow sees %d GPU(s) '
                            'here' % (num_gpus, visible))
  strategy = get_strategy(distribution_strategy, num_gpus, virtual_cpus)
  return Devices(strategy, num_gpus, num_replicas(strategy), virtual_cpus,
                 enable_xla, gpu_thread_mode, None)


def _multi_worker_devices(num_gpus, visible, virtual_cpus, enable_xla,
                          gpu_thread_mode, all_reduce_alg, num_workers):
  """make_devices for multi_worker_mirrored: its description, no strategy."""
  if not num_workers:
    raise DistributionError('--distribution_strategy %s needs a cluster: '
                            'TF_CONFIG, or --worker_hosts with --task_type'
                            % MULTI_WORKER)
  if all_reduce_alg is not None and all_reduce_alg not in ALL_REDUCE_ALGS:
    raise DistributionError('--all_reduce_alg must be one of %s, got %r'
                            % (', '.join(ALL_REDUCE_ALGS), all_reduce_alg))
  if virtual_cpus != 1:
    raise DistributionError('--virtual_cpus goes with --distribution_strategy '
                            'mirrored and no GPU')
  # TensorFlow 1.15's strategy counts the GPUs itself and takes them all.
  if num_gpus is not None and num_gpus != visible:
    raise DistributionError(
        '--num_gpus %d: --distribution_strategy %s trains on every GPU '
        'TensorFlow sees (%d here); choose them with CUDA_VISIBLE_DEVICES'
        % (num_gpus, MULTI_WORKER, visible))
  if all_reduce_alg == 'nccl' and not visible:
    raise DistributionError('--all_reduce_alg nccl needs GPUs, and TensorFlow '
                            'sees none here: use ring')
  replicas = num_workers * max(visible, 1)
  return Devices(None, visible, replicas, virtual_cpus, enable_xla,
                 gpu_thread_mode, MultiWorker(num_workers, all_reduce_alg))


def make_strategy(devices):
  """The run's strategy: devices.strategy, or the multi-worker one made now.

  MultiWorkerMirroredStrategy reads this process's task and the cluster from
  TF_CONFIG, which must be in the environment by now.

  Args:
    devices: the run's Devices (make_devices).

  Returns:
    A tf.distribute.Strategy, or None.

  Raises:
    ValueError: a multi-worker strategy without TF_CONFIG (a bug: the run
      sets it before it starts).
  """
  if devices.multi_worker is None:
    return devices.strategy
  if not os.environ.get('TF_CONFIG'):
    raise ValueError('MultiWorkerMirroredStrategy needs TF_CONFIG in the '
                     'environment')
  communication = tf.distribute.experimental.CollectiveCommunication
  strategy = tf.distribute.experimental.MultiWorkerMirroredStrategy(
      communication={None: communication.AUTO, 'ring': communication.RING,
                     'nccl': communication.NCCL}[
                         devices.multi_worker.all_reduce_alg])
  if mkl_enabled():
    _without_scoped_allocator(strategy)
  return strategy


def _without_scoped_allocator(strategy):
  """Keeps grappler's scoped allocator off in the strategy's sessions.

  MultiWorkerMirroredStrategy turns it on, to merge its all-reduces into one
  buffer. On the MKL build the first step then fails with 'Upper bound check
  fail for input 1 from node gradients/conv1/Conv2D_grad/Conv2DBackpropFilter
  to node scoped_allocator_concat_...' (tensorflow/tensorflow#26725, #34213;
  Intel's fix, tensorflow#28265, is not in intel-tensorflow 1.15.2). Without
  it each gradient is all-reduced on its own: the same sums. Every session
  config the strategy touches (configure, update_config_proto) goes through
  the method replaced here, on this strategy object only.
  """
  extended = strategy.extended
  update = extended._update_config_proto  # pylint: disable=protected-access

  def _update_config_proto(config_proto):
    updated = update(config_proto)
    # Unset, not OFF: TF 1.15's grappler runs the optimizer for any value
    # but DEFAULT (`if (cfg_.scoped_allocator_optimization())`).
    rewrite_options = updated.graph_options.rewrite_options
    rewrite_options.ClearField('scoped_allocator_optimization')
    rewrite_options.ClearField('scoped_allocator_opts')
    return updated

  extended._update_config_proto = _update_config_proto  # pylint: disable=protected-access


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
  if name == MULTI_WORKER:
    raise DistributionError('--distribution_strategy %s is made when the run '
                            'starts (make_strategy)' % name)
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


def per_replica_batch_size(batch_size, replicas, num_workers=1):
  """The batch each replica's input pipeline makes of a global `batch_size`.

  Args:
    batch_size: the global batch, --batch_size.
    replicas: the replicas of all workers.
    num_workers: the workers they are on (named in the error).

  Raises:
    DistributionError: batch_size does not split evenly.
  """
  if batch_size % replicas:
    across = ' (%d workers x %d)' % (num_workers, replicas // num_workers) if (
        num_workers > 1) else ''
    raise DistributionError('--batch_size %d does not split over %d '
                            'replicas%s; use a multiple of %d' % (
                                batch_size, replicas, across, replicas))
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
