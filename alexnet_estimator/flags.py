"""The command lines' flags, defined by group functions (official r1's shape).

Importing this module defines no flag: each entry point calls the groups it
needs (`define_train_flags` for train.py, `define_build_tfrecords_flags` for
build_tfrecords.py, `define_weights_flags` for weights.py), and only the entry
points read FLAGS. A group may be called more than once in a process
(tests): a flag already defined is kept.

The hyper-parameter flags are generated from params.TUNABLE: one flag per key,
default None ("not given": keep the recipe's, the model's or the default).
"""
from absl import flags

from alexnet_estimator import cluster
from alexnet_estimator import distribution
from alexnet_estimator import params as params_lib

MODES = ('train', 'eval', 'train_and_eval', 'predict', 'export')
# Images drawn by --gallery.
GALLERY_IMAGES = 32

_DEFINE_BY_TYPE = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer,
                   float: flags.DEFINE_float, str: flags.DEFINE_string}


def _define(define, name, default, help_text, flag_values=flags.FLAGS,
            **kwargs):
  if name not in flag_values:
    define(name, default, help=help_text, flag_values=flag_values, **kwargs)


def define_data_flags():
  """Where the examples come from (see data.py)."""
  _define(flags.DEFINE_string, 'data_dir', None, 'Image folder tree or '
          'TFRecord shards. Needed by train, eval and train_and_eval.')
  _define(flags.DEFINE_float, 'validation_percent', 10.0, 'Share of each '
          'class held out for validation when --data_dir has no validation '
          'folder.')
  _define(flags.DEFINE_integer, 'label_offset', None, 'TFRecords: the stored '
          'label of class id 0 (default: dataset_info.json\'s, else 1, as '
          'ImageNet\'s builders store labels 1..1000).')
  _define(flags.DEFINE_string, 'labels_file', None, 'TFRecords: class names, '
          'one per line, in label order (default: dataset_info.json, else '
          'the records\' synsets).')
  _define(flags.DEFINE_boolean, 'use_synthetic_data', False, 'Train on '
          'in-memory random images, reading no files: tells an input-bound '
          'run from a compute-bound one. Needs --max_train_steps.')
  _define(flags.DEFINE_integer, 'num_classes', 1000, 'With '
          '--use_synthetic_data: the number of classes.')


def define_run_flags():
  """What the run does, where it keeps its state, and for how long."""
  _define(flags.DEFINE_string, 'model_dir', None, 'Folder of the run: '
          'checkpoints, TensorBoard summaries and the model description.')
  _define(flags.DEFINE_enum, 'mode', 'train_and_eval', 'What to do.',
          enum_values=MODES)
  _define(flags.DEFINE_string, 'export_dir', None, 'With --mode export (or '
          'after training, if set): folder to write a timestamped SavedModel '
          'into.')
  _define(flags.DEFINE_string, 'gallery', None, 'With --mode predict: also '
          'write a PNG of the first %d images with their top-5 classes (needs '
          'matplotlib, the [plots] extra).' % GALLERY_IMAGES)
  _define(flags.DEFINE_integer, 'train_epochs', 10, 'Epochs to train for, '
          'counted from step 0 of the run.')
  _define(flags.DEFINE_integer, 'max_train_steps', None, 'If set, stop '
          'training at this global step even if --train_epochs asks for '
          'more.')
  _define(flags.DEFINE_integer, 'epochs_between_evals', 1, 'With '
          'train_and_eval: epochs of training between evaluations.')
  _define(flags.DEFINE_integer, 'steps_between_evals', None, 'With '
          'train_and_eval: steps between evaluations (instead of '
          '--epochs_between_evals). In a cluster the evaluator evaluates each '
          'checkpoint, so this sets the checkpoint cadence too.')
  _define(flags.DEFINE_integer, 'save_checkpoints_steps', None, 'Checkpoint '
          'every this many steps (default: every 10 minutes and at the end).')
  _define(flags.DEFINE_integer, 'log_every_n_steps', 10, 'Log progress and '
          'write summaries every this many steps.')
  _define(flags.DEFINE_string, 'warm_start_from', None, 'Checkpoint or '
          'model_dir to initialise every layer but logits from (fine-tuning '
          'for new classes). Refused if --model_dir already has checkpoints, '
          'unless --resume.')
  _define(flags.DEFINE_boolean, 'resume', False, 'With --warm_start_from: '
          '--model_dir already has checkpoints; continue from them and '
          'ignore --warm_start_from.')


def define_hparam_flags(flag_values=flags.FLAGS):
  """One flag per key of params.TUNABLE, default None (keep the default)."""
  for key, (default, help_text) in params_lib.TUNABLE.items():
    text = '%s (default %s).' % (help_text.rstrip('.'), default)
    choices = params_lib.CHOICES.get(key)
    if choices is not None and isinstance(default, str):
      _define(flags.DEFINE_enum, key, None, text, flag_values,
              enum_values=choices)
    else:
      _define(_DEFINE_BY_TYPE[type(default)], key, None, text, flag_values)


def define_device_flags():
  """The devices of one machine (see distribution.py)."""
  _define(flags.DEFINE_integer, 'num_gpus', None, 'GPUs to use (default: all '
          'that TensorFlow sees; 0 for the CPU).')
  _define(flags.DEFINE_enum, 'distribution_strategy', 'default', 'default: '
          'one device, or MirroredStrategy over --num_gpus > 1; off: no '
          'strategy; one_device: OneDeviceStrategy; mirrored: '
          'MirroredStrategy (over --virtual_cpus CPU devices without GPUs); '
          'multi_worker_mirrored: synchronous training across the chief and '
          'workers of a cluster (TF_CONFIG or --worker_hosts, no parameter '
          'server). --batch_size is global.',
          enum_values=distribution.STRATEGIES)
  _define(flags.DEFINE_enum, 'all_reduce_alg', None, 'With '
          '--distribution_strategy multi_worker_mirrored: how the workers '
          'all-reduce their gradients, ring (gRPC) or nccl (GPUs only; '
          'default: TensorFlow\'s choice, ring).',
          enum_values=distribution.ALL_REDUCE_ALGS)
  _define(flags.DEFINE_integer, 'virtual_cpus', 1, 'With '
          '--distribution_strategy mirrored and no GPU: split the CPU into '
          'this many devices (tries the multi-device path without GPUs).')
  _define(flags.DEFINE_boolean, 'enable_xla', False, 'Compile the graph with '
          'XLA\'s JIT (on GPUs; on a CPU TensorFlow also needs '
          'TF_XLA_FLAGS=--tf_xla_cpu_global_jit).')
  _define(flags.DEFINE_enum, 'tf_gpu_thread_mode', 'global', 'gpu_private: '
          'each GPU gets its own kernel-launch threads (TF_GPU_THREAD_MODE).',
          enum_values=distribution.GPU_THREAD_MODES)


def define_cluster_flags():
  """Several machines (see cluster.py); TF_CONFIG in the environment too."""
  _define(flags.DEFINE_list, 'worker_hosts', None, 'host:port of each '
          'training task; the first is the chief. With --ps_hosts, '
          '--task_type and --task_index these write TF_CONFIG.')
  _define(flags.DEFINE_list, 'ps_hosts', [], 'host:port of each parameter '
          'server (none with --distribution_strategy multi_worker_mirrored).')
  _define(flags.DEFINE_enum, 'task_type', None, 'This process\'s task: '
          'worker (worker 0 is the chief), ps or evaluator.',
          enum_values=cluster.TASK_TYPES)
  _define(flags.DEFINE_integer, 'task_index', 0, 'Index into --worker_hosts '
          'or --ps_hosts.')


def define_debug_flag():
  """--debug: tracebacks and TensorFlow's INFO log (both entry points)."""
  _define(flags.DEFINE_boolean, 'debug', False, 'Show the traceback of every '
          'failure (also ALEXNET_ESTIMATOR_DEBUG=1) and TensorFlow\'s own INFO '
          'log lines.')


def define_train_flags():
  """Every flag of `python -m alexnet_estimator.train`."""
  define_debug_flag()
  define_data_flags()
  define_run_flags()
  define_hparam_flags()
  define_device_flags()
  define_cluster_flags()


def define_build_tfrecords_flags():
  """The flags of `python -m alexnet_estimator.build_tfrecords`."""
  define_debug_flag()
  _define(flags.DEFINE_string, 'input_dir', None, 'Image folder tree to '
          'convert.')
  _define(flags.DEFINE_string, 'output_dir', None, 'Folder for the shards.')
  _define(flags.DEFINE_integer, 'train_shards', 8, 'Number of training '
          'shards.')
  _define(flags.DEFINE_integer, 'validation_shards', 2, 'Number of '
          'validation shards.')
  _define(flags.DEFINE_integer, 'num_workers', None, 'Processes writing '
          'shards (default: one per core).')
  _define(flags.DEFINE_float, 'validation_percent', 10.0, 'Share of each '
          'class held out for validation when the input has no validation '
          'folder.')
  _define(flags.DEFINE_integer, 'seed', 0, 'Seed of the file order within '
          'the shards.')
  _define(flags.DEFINE_string, 'validation_labels', None, 'ImageNet\'s raw '
          'layout (a flat validation/ folder of images): the synset of each '
          'validation image, one per line in sorted file-name order, as '
          'imagenet_2012_validation_synset_labels.txt.')
  _define(flags.DEFINE_string, 'metadata_file', None, 'Human-readable class '
          'names for image/class/text: "synset<TAB>name" lines, as '
          'imagenet_metadata.txt (default: ImageNet\'s names for its '
          'synsets, else the class folder\'s name).')


def define_weights_flags():
  """The flags of `python -m alexnet_estimator.weights`."""
  define_debug_flag()
  _define(flags.DEFINE_string, 'model_dir', None, 'The run folder: written '
          'with --import_from (a new run, checkpoint at step 0), read with '
          '--export_to.')
  _define(flags.DEFINE_string, 'import_from', None, 'A weights file in '
          'bvlc_alexnet.npy\'s format (the BVLC AlexNet for TensorFlow): '
          'write it into --model_dir as a run that predicts, evaluates, '
          'exports and warm-starts with no other flag.')
  _define(flags.DEFINE_string, 'export_to', None, 'Write --model_dir\'s '
          'latest checkpoint to this .npy file in bvlc_alexnet.npy\'s format '
          '(its network must have the BVLC geometry).')
