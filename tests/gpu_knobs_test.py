"""The GPU knobs on a CPU: --dtype fp16, --enable_xla, --tf_gpu_thread_mode,
--data_format channels_first.

Each must still train on a CPU, and whatever it trained must export a
SavedModel that serves on a CPU in float32. The CLI runs in subprocesses:
fp16's enable_mixed_precision_graph_rewrite turns on process-wide state (every
later Session gets the AMP rewrite), and XLA's flags are read once per
process. The subprocesses see no GPU (CUDA_VISIBLE_DEVICES=''), so the results
are the same on a GPU machine. The refusal of channels_first without a GPU is
a flag check, tested in-process.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

from absl import flags
from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

from alexnet_estimator import distribution
from alexnet_estimator import errors
from alexnet_estimator import export as export_lib
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import train
from tests import helpers

FLAGS = flags.FLAGS
CLASSES = ('apple', 'banana')
TINY = ['--image_size', '67', '--batch_size', '2']
# Logged by XLA's compilation cache once a cluster has really been compiled.
XLA_COMPILED = 'Compiled cluster using XLA'
# TF 1.15's DynamicLossScale (loss_scale='dynamic') starts at 2**15.
INITIAL_LOSS_SCALE = 2.0 ** 15


def run_cli(*args, env=None):
  """helpers.run_cli with no GPU visible, plus `env`."""
  return helpers.run_cli(*args, env=dict(env or {},
                                         CUDA_VISIBLE_DEVICES=''))


def serve(export_path, encoded):
  """Runs the SavedModel's serving signature on a CPU.

  Returns:
    (outputs: {name: numpy array}, signature: SignatureDef, graph_def).
  """
  cpu_only = tf.ConfigProto(device_count={'GPU': 0})
  with tf.Graph().as_default(), tf.Session(config=cpu_only) as sess:
    meta = tf.saved_model.loader.load(sess, ['serve'], export_path)
    signature = meta.signature_def['serving_default']
    outputs = sess.run(
        {k: v.name for k, v in signature.outputs.items()},
        {signature.inputs[export_lib.INPUT_NAME].name: encoded})
  return outputs, signature, meta.graph_def


def _attr_values(graph_def, attr):
  """The values of attribute `attr` over the nodes of a GraphDef."""
  return [node.attr[attr] for node in graph_def.node if attr in node.attr]


# Builds model_fn's TRAIN graph in fp32, then fp16, and runs one fp16 step;
# prints what the tests check as JSON. Run in its own process: the fp16
# graph turns the AMP rewrite on for the rest of the process.
_FP16_GRAPH_SCRIPT = r'''
import json
import tensorflow as tf
from tensorflow.python.training.experimental import (
    mixed_precision_global_state)
from alexnet_estimator import model_fn as model_fn_lib

def build(dtype, run_step):
  with tf.Graph().as_default() as graph:
    tf.train.create_global_step()
    spec = model_fn_lib.model_fn(
        {'x': tf.random.uniform([2, 67, 67, 3], seed=1)},
        tf.constant([0, 2]), tf.estimator.ModeKeys.TRAIN,
        {'image_size': 67, 'num_classes': 3, 'dtype': dtype})
    out = {
        'global': sorted(v.op.name for v in tf.global_variables()),
        'trainable': sorted(v.op.name for v in tf.trainable_variables()),
        'logits': graph.get_tensor_by_name('logits/BiasAdd:0').dtype.name,
        'probabilities': graph.get_tensor_by_name(
            'softmax_tensor:0').dtype.name,
        'loss': spec.loss.dtype.name,
        'half_tensors': sorted(
            t.name for op in graph.get_operations() for t in op.outputs
            if t.dtype.base_dtype == tf.float16),
        'rewrite_on': bool(mixed_precision_global_state.
                           mixed_precision_graph_rewrite_is_enabled),
    }
    if run_step:
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(spec.train_op)
        variables = {v.op.name: v for v in tf.global_variables()}
        out['after_one_step'] = {
            name: float(sess.run(variables[name]))
            for name in ('current_loss_scale', 'good_steps', 'global_step')}
    return out

print(json.dumps({'fp32': build('fp32', False), 'fp16': build('fp16', True)}))
'''


@pytest.mark.slow
class GpuKnobsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super(GpuKnobsTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.root, 'data')
    written = helpers.make_tree(cls.data_dir, layout='split',
                                classes=CLASSES, train_per_class=2,
                                validation_per_class=1, image_size=(30, 30))
    cls.encoded = []
    for path, _ in written['validation'] + written['train'][:1]:
      with open(path, 'rb') as f:
        cls.encoded.append(f.read())
    # A plain fp32 model, trained with --tf_gpu_thread_mode gpu_private; the
    # channels_first export test exports it again.
    cls.private = cls._train_and_export(
        'gpu_private', '--tf_gpu_thread_mode', 'gpu_private')

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(GpuKnobsTest, cls).tearDownClass()

  @classmethod
  def _train_and_export(cls, name, *flags, **env):
    """Trains 2 steps with `flags` and exports; returns a result dict."""
    model_dir = os.path.join(cls.root, name, 'model')
    export_base = os.path.join(cls.root, name, 'export')
    code, stdout, stderr = run_cli(
        '--data_dir', cls.data_dir, '--model_dir', model_dir, '--mode',
        'train', '--max_train_steps', '2', '--export_dir', export_base,
        *(TINY + list(flags)), env=env)
    return dict(code=code, stdout=stdout, stderr=stderr, model_dir=model_dir,
                export_base=export_base)

  def assertTrainedAndServes(self, result):
    """Step 2 in the checkpoint; the export answers in float32 on a CPU."""
    self.assertEqual(result['code'], 0, result['stderr'][-5000:])
    checkpoint = tf.train.latest_checkpoint(result['model_dir'])
    self.assertEqual(tf.train.load_variable(checkpoint, 'global_step'), 2)
    export_path = result['stdout'].strip().splitlines()[-1]
    self.assertEqual(os.path.dirname(export_path), result['export_base'])
    self.assertTrue(os.path.basename(export_path).isdigit(), export_path)
    return self.assertServes(export_path)

  def assertServes(self, export_path):
    """Returns the probabilities the SavedModel at export_path serves."""
    self.assertTrue(tf.saved_model.contains_saved_model(export_path))
    out, signature, graph_def = serve(export_path, self.encoded)
    self.assertEqual(signature.outputs['probabilities'].dtype,
                     tf.float32.as_datatype_enum)
    probabilities = out['probabilities']
    self.assertEqual(probabilities.dtype, np.float32)
    self.assertEqual(probabilities.shape, (len(self.encoded), len(CLASSES)))
    self.assertAllClose(probabilities.sum(axis=1),
                        np.ones(len(self.encoded)), atol=1e-5)
    self.assertAllInRange(probabilities, 0.0, 1.0)
    self.assertAllEqual(out['classes'], probabilities.argmax(axis=1))
    for name in out['class_names']:
      self.assertIn(tf.compat.as_str(name), CLASSES)
    # A graph a CPU runs: NHWC only, no float16 anywhere.
    self.assertNotIn(b'NCHW', [v.s for v in _attr_values(graph_def,
                                                         'data_format')])
    for attr in ('T', 'dtype', 'DstT', 'SrcT'):
      self.assertNotIn(tf.float16.as_datatype_enum,
                       [v.type for v in _attr_values(graph_def, attr)], attr)
    return probabilities

  def test_fp16_trains_with_loss_scaling_and_exports_float32(self):
    result = self._train_and_export('fp16', '--dtype', 'fp16')
    self.assertTrainedAndServes(result)
    # The loss-scale optimizer really ran: its state is in the checkpoint,
    # and both steps had finite gradients (good_steps counts them).
    checkpoint = tf.train.latest_checkpoint(result['model_dir'])
    self.assertEqual(tf.train.load_variable(checkpoint, 'current_loss_scale'),
                     INITIAL_LOSS_SCALE)
    self.assertEqual(tf.train.load_variable(checkpoint, 'good_steps'), 2)

  def test_fp32_has_no_loss_scale(self):
    checkpoint = tf.train.latest_checkpoint(self.private['model_dir'])
    names = [n for n, _ in tf.train.list_variables(checkpoint)]
    self.assertIn('logits/kernel', names)
    self.assertNotIn('current_loss_scale', names)
    self.assertNotIn('good_steps', names)

  def test_enable_xla_compiles_on_the_cpu_and_exports(self):
    # --tf_xla_cpu_global_jit lets the session's global_jit_level, which
    # --enable_xla sets, cluster CPU ops too; INFO logs show the compile.
    result = self._train_and_export(
        'xla', '--enable_xla', TF_XLA_FLAGS='--tf_xla_cpu_global_jit',
        TF_CPP_MIN_LOG_LEVEL='0')
    self.assertTrainedAndServes(result)
    self.assertIn(XLA_COMPILED, result['stderr'])

  def test_gpu_private_thread_mode_trains_and_exports(self):
    self.assertTrainedAndServes(self.private)

  def test_channels_first_model_exports_nhwc_that_serves_on_cpu(self):
    # TF's CPU kernels cannot train NCHW, so the model was trained NHWC; the
    # export is asked for channels_first and must still serve here.
    export_base = os.path.join(self.root, 'channels_first_export')
    code, stdout, stderr = run_cli(
        '--mode', 'export', '--model_dir', self.private['model_dir'],
        '--export_dir', export_base, '--data_format', 'channels_first')
    self.assertEqual(code, 0, stderr[-5000:])
    export_path = stdout.strip().splitlines()[-1]
    self.assertEqual(os.path.dirname(export_path), export_base)
    served = self.assertServes(export_path)
    # The same checkpoint, so the same answers as the NHWC export.
    nhwc_path = glob.glob(os.path.join(self.private['export_base'], '[0-9]*'))
    self.assertLen(nhwc_path, 1)
    self.assertAllClose(served, serve(nhwc_path[0], self.encoded)[0][
        'probabilities'], atol=1e-6, rtol=0)

  def test_an_nchw_serving_graph_would_fail_on_cpu(self):
    # Why the export must be NHWC: the same model exported with NCHW params,
    # bypassing train.py, cannot serve on a CPU.
    params = params_lib.make_params(
        image_size=67, num_classes=len(CLASSES), class_names=list(CLASSES),
        data_format='channels_first')
    estimator = tf.estimator.Estimator(model_fn_lib.model_fn, params=params,
                                       model_dir=self.private['model_dir'])
    export_path = tf.compat.as_str(estimator.export_saved_model(
        os.path.join(self.root, 'nchw_export'),
        export_lib.serving_input_receiver_fn(params)))
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                'only supports NHWC'):
      serve(export_path, self.encoded)

  def test_fp16_model_fn_has_loss_scale_and_float32_logits(self):
    proc = subprocess.run(
        [sys.executable, '-c', _FP16_GRAPH_SCRIPT], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=helpers.cli_env({'CUDA_VISIBLE_DEVICES': ''}),
        universal_newlines=True, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-5000:])
    graphs = json.loads(proc.stdout.strip().splitlines()[-1])
    fp32, fp16 = graphs['fp32'], graphs['fp16']
    loss_scale = {'current_loss_scale', 'good_steps'}
    self.assertFalse(loss_scale & set(fp32['global']))
    self.assertFalse(fp32['rewrite_on'])
    self.assertLessEqual(loss_scale, set(fp16['global']))
    self.assertFalse(loss_scale & set(fp16['trainable']))
    self.assertEqual(fp16['trainable'], fp32['trainable'])
    self.assertTrue(fp16['rewrite_on'])  # why this runs in a subprocess
    for graph in (fp32, fp16):
      self.assertEqual((graph['logits'], graph['probabilities'],
                        graph['loss']), ('float32',) * 3)
      # The rewrite happens in Grappler, at run time: the graph stays fp32.
      self.assertEqual(graph['half_tensors'], [])
    self.assertEqual(fp16['after_one_step'], {
        'current_loss_scale': INITIAL_LOSS_SCALE, 'good_steps': 1.0,
        'global_step': 1.0})


class ChannelsFirstOnCpuTest(tf.test.TestCase):
  """--data_format channels_first with no GPU: refused before any work.

  In-process, as train.main runs it, with TensorFlow made to see no GPU, so
  the result is the same on a GPU machine.
  """

  @classmethod
  def setUpClass(cls):
    super(ChannelsFirstOnCpuTest, cls).setUpClass()
    flags_lib.define_train_flags()

  def assertRefused(self, name, *args):
    """Runs argv in-process with no GPU; asserts a UsageError naming it."""
    with flagsaver.flagsaver(), mock.patch.object(
        distribution, 'visible_gpus', return_value=0):
      argv = FLAGS(['alexnet_estimator.train'] + list(args))
      with self.assertRaises(errors.UsageError) as caught:
        train.run(train.options_from_flags(argv))
    message = str(caught.exception)
    self.assertNotIn('\n', message)
    self.assertIn(name, message)

  def test_channels_first_without_a_gpu_is_refused_before_work(self):
    root = self.get_temp_dir()
    data_dir = os.path.join(root, 'data')
    helpers.make_tree(data_dir, layout='split', classes=CLASSES,
                      train_per_class=2, validation_per_class=1,
                      image_size=(30, 30))
    model_dir = os.path.join(root, 'nchw_on_cpu')
    self.assertRefused('--data_format channels_first needs a GPU',
                       '--data_dir', data_dir, '--model_dir', model_dir,
                       '--mode', 'train', '--data_format', 'channels_first',
                       *TINY)
    self.assertFalse(os.path.exists(model_dir))
    # predict checks it from the model's description, before the checkpoint.
    trained = os.path.join(root, 'trained')
    model_dir_lib.save_model_info(trained, params_lib.make_params(
        image_size=67, num_classes=len(CLASSES), class_names=list(CLASSES)))
    before = os.listdir(trained)
    self.assertRefused('--data_format', '--mode', 'predict', '--model_dir',
                       trained, '--data_format', 'channels_first', data_dir)
    self.assertEqual(os.listdir(trained), before)


if __name__ == '__main__':
  tf.test.main()
