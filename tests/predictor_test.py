"""Tests for serving.Predictor: one load, any image form, estimator's answers.

One tiny model (67x67, one training step on generated images) is trained and
exported once for the whole class; `Estimator.predict` on the same files is
the reference.
"""
import io
import os
import shutil
import tempfile
from unittest import mock

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import alexnet_estimator
from alexnet_estimator import serving
from alexnet_estimator import train
from tests import helpers

CLASSES = ('apple', 'banana', 'cherry')


def _noise(width, height, seed):
  """Random RGB pixels, uint8 [height, width, 3]: no class is a sure thing."""
  return np.random.RandomState(seed).randint(
      0, 256, (height, width, 3)).astype(np.uint8)


@pytest.mark.slow
class PredictorTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super(PredictorTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    data_dir = os.path.join(cls.root, 'data')
    helpers.make_tree(data_dir, layout='split', classes=CLASSES,
                      train_per_class=2, validation_per_class=1,
                      image_size=(40, 30))
    cls.model_dir = os.path.join(cls.root, 'model')
    quiet = io.StringIO()
    train.run(train.Options('train', cls.model_dir, data_dir=data_dir,
                            max_train_steps=1,
                            overrides={'image_size': 67, 'batch_size': 4}),
              out=quiet)
    cls.export_base = os.path.join(cls.root, 'export')
    cls.export_path = train.run(train.Options(
        'export', cls.model_dir, export_dir=cls.export_base),
                                out=quiet).export_path
    # A lossless PNG (its pixels are known exactly), a JPEG and a GIF.
    cls.pixels = _noise(50, 40, seed=1)
    cls.png = helpers.write_image(os.path.join(cls.root, 'images', 'a.png'),
                                  cls.pixels)
    cls.jpeg = helpers.write_image(os.path.join(cls.root, 'images', 'b.jpg'),
                                   _noise(45, 60, seed=2), quality=90)
    cls.gif = helpers.write_image(os.path.join(cls.root, 'images', 'c.gif'),
                                  _noise(70, 70, seed=3))
    files = [cls.png, cls.jpeg, cls.gif]
    estimator = alexnet_estimator.build_estimator(cls.model_dir)
    cls.expected = {tf.compat.as_str(p['file']): p for p in estimator.predict(
        alexnet_estimator.predict_input_fn(files, params=estimator.params))}
    assert sorted(cls.expected) == sorted(files), cls.expected

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(PredictorTest, cls).tearDownClass()

  def assertAnswers(self, out, files):
    """`out` has one row per file, each as Estimator.predict gave it."""
    self.assertEqual(sorted(out), ['class_names', 'classes', 'probabilities'])
    self.assertEqual(out['probabilities'].shape, (len(files), len(CLASSES)))
    for i, path in enumerate(files):
      want = self.expected[path]
      self.assertAllClose(out['probabilities'][i], want['probabilities'],
                          atol=1e-5, rtol=0, msg=path)
      self.assertEqual(out['classes'][i], want['classes'])
      self.assertEqual(out['class_names'][i], want['class_names'])
      self.assertEqual(tf.compat.as_str(out['class_names'][i]),
                       CLASSES[out['classes'][i]])

  def test_every_image_form_matches_estimator_predict(self):
    with open(self.jpeg, 'rb') as f:
      jpeg_bytes = f.read()
    with alexnet_estimator.Predictor(self.export_path) as predictor:
      self.assertAnswers(predictor.predict(self.png), [self.png])
      self.assertAnswers(predictor.predict(self.gif), [self.gif])
      self.assertAnswers(predictor.predict(jpeg_bytes), [self.jpeg])
      self.assertAnswers(predictor.predict(self.pixels), [self.png])
      # Floats in [0, 1], as matplotlib has them, are the same pixels.
      self.assertAnswers(predictor.predict(self.pixels / 255.0), [self.png])
      self.assertAnswers(predictor.predict(
          np.asarray(Image.open(self.png).convert('RGB'))), [self.png])
      mixed = [self.jpeg, self.pixels, jpeg_bytes, self.png, self.gif]
      self.assertAnswers(predictor.predict(mixed),
                         [self.jpeg, self.png, self.jpeg, self.png, self.gif])
      self.assertAnswers(predictor.predict(np.stack([self.pixels] * 2)),
                         [self.png, self.png])

  def test_the_export_has_only_tensorflow_ops_though_training_had_ours(self):
    # TF Serving has no fused LRN kernel: the export computes tf.nn.lrn.
    from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(self.export_path, 'saved_model.pb'), 'rb') as f:
      saved.ParseFromString(f.read())
    types = {node.op for graph in saved.meta_graphs
             for node in graph.graph_def.node}
    self.assertIn('LRN', types)
    self.assertFalse({t for t in types if t.startswith('Alexnet')}, types)
    # The training graph on this CPU used it.
    with open(os.path.join(self.model_dir, 'graph.pbtxt')) as f:
      self.assertIn('op: "AlexnetLRNGrad"', f.read())

  def test_the_saved_model_is_loaded_once_and_reused(self):
    load = tf.saved_model.loader.load
    with mock.patch.object(tf.saved_model.loader, 'load',
                           side_effect=load) as loads:
      predictor = serving.Predictor(self.export_path)
      graph, session = predictor.graph, predictor.session
      op_count = len(graph.get_operations())
      with mock.patch.object(tf, 'Session') as new_sessions:
        for image in [self.png, self.pixels, [self.jpeg, self.gif]] * 3:
          predictor.predict(image)
      predictor.close()
    self.assertEqual(loads.call_count, 1)
    self.assertEqual(new_sessions.call_count, 0)
    self.assertIs(predictor.session, session)
    self.assertIs(predictor.graph, graph)
    self.assertTrue(graph.finalized)  # a call could not add an op
    self.assertEqual(len(graph.get_operations()), op_count)

  def test_unreadable_paths_name_the_file(self):
    missing = os.path.join(self.root, 'nowhere', 'cat.jpg')
    text = helpers.write(os.path.join(self.root, 'bad', 'notes.jpg'),
                         helpers.text_bytes())
    truncated = helpers.write(os.path.join(self.root, 'bad', 'cut.png'),
                              helpers.truncated_png())
    with serving.Predictor(self.export_path) as predictor:
      with self.assertRaises(IOError) as caught:
        predictor.predict([self.png, missing])
      self.assertIn(missing, str(caught.exception))
      self.assertNotIn('\n', str(caught.exception))
      with self.assertRaises(IOError) as caught:
        predictor.predict(os.path.dirname(self.png))  # a folder
      self.assertIn(os.path.dirname(self.png), str(caught.exception))
      for bad in (text, truncated):
        with self.assertRaises(ValueError) as caught:
          predictor.predict([self.png, bad, self.jpeg])
        self.assertIn('%s is not a decodable image' % bad,
                      str(caught.exception))
        self.assertNotIn('\n', str(caught.exception))
      with self.assertRaisesRegex(ValueError, r'image 1 \(bytes\)'):
        predictor.predict([self.png, b'not an image'])
      # A failed call leaves the predictor working.
      self.assertAnswers(predictor.predict(self.png), [self.png])

  def test_bad_arrays_and_types_are_refused(self):
    with serving.Predictor(self.export_path) as predictor:
      for array, message in (
          (self.pixels[:, :, :2], 'RGB'),
          (self.pixels[:, :, 0], 'RGB'),
          (self.pixels.astype(np.float32), r'\[0, 1\]'),
          (self.pixels.astype(np.int32) - 1, r'\[0, 255\]'),
          (np.zeros((0, 5, 3), np.uint8), 'RGB')):
        with self.assertRaisesRegex(ValueError, message):
          predictor.predict(array)
      with self.assertRaisesRegex(ValueError, 'no images'):
        predictor.predict([])
      with self.assertRaisesRegex(TypeError, 'image 0'):
        predictor.predict(42)

  def test_export_base_folder_loads_the_newest_export(self):
    with serving.Predictor(self.export_base) as predictor:
      self.assertEqual(predictor.export_dir, self.export_path)
    with self.assertRaisesRegex(IOError, 'holds no SavedModel'):
      serving.Predictor(self.model_dir)

  def test_closed_predictor_refuses_calls(self):
    with serving.Predictor(self.export_path) as predictor:
      pass
    with self.assertRaisesRegex(RuntimeError, 'closed'):
      predictor.predict(self.png)
    predictor.close()  # twice is fine

  def test_rest_body_is_answered_as_before(self):
    with open(self.png, 'rb') as f:
      body = serving.rest_body([f.read()])
    with serving.Predictor(self.export_path) as predictor:
      answer = predictor.predict_rest(body)['predictions']
    self.assertEqual(len(answer), 1)
    self.assertAllClose(answer[0]['probabilities'],
                        self.expected[self.png]['probabilities'], atol=1e-5,
                        rtol=0)
    self.assertEqual(answer[0]['class_names'],
                     tf.compat.as_str(self.expected[self.png]['class_names']))


if __name__ == '__main__':
  tf.test.main()
