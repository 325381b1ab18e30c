"""The Estimator: its RunConfig, and build_estimator for notebooks.

The model description and checkpoint checks live in model_dir.py.
"""
import tensorflow as tf

from alexnet_estimator import distribution
from alexnet_estimator import errors
from alexnet_estimator import log
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import model_fn as model_fn_lib


def make_run_config(model_dir, save_checkpoints_steps=None,
                    log_every_n_steps=100, session_config=None, train_distribute=None,
                    enable_xla=False, virtual_cpus=1):
  """RunConfig with soft placement, so the run uses a GPU if there is one.

  Args:
    model_dir: the run's folder.
    save_checkpoints_steps: checkpoint cadence (default: every 10 minutes).
    log_every_n_steps: progress and summary cadence.
    session_config: optional tf.ConfigProto to start from.
    train_distribute: optional tf.distribute.Strategy for training.
    enable_xla: turn on XLA's JIT compilation for the whole graph.
    virtual_cpus: CPU devices the session makes (mirroring without GPUs).
  """
  if session_config is None:
    # Under TF_CONFIG, RunConfig's own default carries the device filters
    # that keep each worker talking to the parameter servers only, so a dead
    # worker stalls nobody; on one machine it is None.
    session_config = tf.estimator.RunConfig().session_config
  config = session_config or tf.ConfigProto()
  distribution.set_cpu_threading(config)
  config.allow_soft_placement = True
  config.gpu_options.allow_growth = True
  if virtual_cpus > 1:
    config.device_count['CPU'] = virtual_cpus
  if enable_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
  kwargs = dict(model_dir=model_dir, session_config=config,
                log_step_count_steps=log_every_n_steps,
                save_summary_steps=log_every_n_steps,
                train_distribute=train_distribute)
  if save_checkpoints_steps:
    kwargs['save_checkpoints_steps'] = save_checkpoints_steps
    kwargs['save_checkpoints_secs'] = None
  return tf.estimator.RunConfig(**kwargs)


def build_estimator(model_dir, params=None, config=None):
  """Returns a tf.estimator.Estimator for the AlexNet in `model_dir`.

  The class names and image size come from the model description in
  `model_dir` when there is one; `params` overrides other keys (see
  params.DEFAULTS). In a notebook:

    est = alexnet_estimator.build_estimator('runs/demo')
    for p in est.predict(alexnet_estimator.predict_input_fn(
        paths, params=est.params)):
      print(p['file'], p['class_names'], p['probabilities'].max())

  Args:
    model_dir: the run's folder.
    params: optional dict of hyper-parameter overrides.
    config: optional tf.estimator.RunConfig; by default one for `model_dir`.

  Returns:
    A tf.estimator.Estimator. Its predict, evaluate and export raise
    errors.ModelDirError while `model_dir` has no checkpoint; train works on
    a new folder.

  Raises:
    params.ParamError: a key of `params` is unknown or out of range.
    errors.ModelDirError: `params` contradicts the model description.
  """
  log.quiet()
  full = model_dir_lib.resolve_params(model_dir, params)
  model_dir_lib.check_compatible(model_dir, full)
  return _TrainedModelEstimator(
      model_fn=_trained_model_fn, params=full,
      config=config or make_run_config(model_dir))


def _refuse_untrained(model_dir):
  """Raises ModelDirError if model_dir has no checkpoint.

  TensorFlow would initialise the network at random and answer (its "Could
  not find trained model" is an INFO line): a mistyped folder in a notebook
  must not give random predictions as if they were a model's.
  """
  if tf.train.latest_checkpoint(model_dir) is None:
    raise errors.ModelDirError(
        '%s holds no trained model (no checkpoint): train it first, or check '
        'the folder\'s name' % model_dir)


def _trained_model_fn(features, labels, mode, params, config):
  """model_fn that refuses to predict or evaluate an untrained model."""
  if mode != tf.estimator.ModeKeys.TRAIN:
    _refuse_untrained(config.model_dir)
  return model_fn_lib.model_fn(features, labels, mode, params)


class _TrainedModelEstimator(tf.estimator.Estimator):
  """An Estimator whose exports refuse an untrained model too.

  TensorFlow looks for the checkpoint before it calls the model_fn in an
  export; `_export_all_saved_models` is the member it lets subclasses
  change, and every export goes through it.
  """

  def _export_all_saved_models(self, export_dir_base, input_receiver_fn_map,
                               assets_extra=None, as_text=False,
                               checkpoint_path=None, strip_default_attrs=True):
    if not checkpoint_path:
      _refuse_untrained(self.model_dir)
    return super(_TrainedModelEstimator, self)._export_all_saved_models(
        export_dir_base, input_receiver_fn_map, assets_extra=assets_extra,
        as_text=as_text, checkpoint_path=checkpoint_path,
        strip_default_attrs=strip_default_attrs)


def make_estimator(model_dir, params, save_checkpoints_steps=None,
                   log_every_n_steps=100, warm_start=None,
                   devices=distribution.SINGLE_DEVICE):
  """The run's Estimator; `devices` (distribution.Devices) place training.

  Args:
    model_dir: the run's folder.
    params: full params (params.resolve).
    save_checkpoints_steps: checkpoint cadence (default: every 10 minutes).
    log_every_n_steps: summary cadence.
    warm_start: optional tf.estimator.WarmStartSettings.
    devices: distribution.Devices of the run.
  """
  config = make_run_config(
      model_dir, save_checkpoints_steps=save_checkpoints_steps,
      log_every_n_steps=log_every_n_steps,
      train_distribute=devices.strategy, enable_xla=devices.enable_xla,
      virtual_cpus=devices.virtual_cpus)
  return tf.estimator.Estimator(model_fn=model_fn_lib.model_fn,
                                params=params, config=config,
                                warm_start_from=warm_start)
