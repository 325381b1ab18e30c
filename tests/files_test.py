"""Tests of files.py: atomic JSON writes, JSON reads, the checkpoint's step."""
import os

import tensorflow as tf

from alexnet_estimator import files


class JsonTest(tf.test.TestCase):

  def test_round_trip_makes_the_folder_and_leaves_no_temporary_file(self):
    folder = os.path.join(self.get_temp_dir(), 'new', 'folder')
    path = os.path.join(folder, 'state.json')
    files.write_json(path, {'b': [1, 2.5], 'a': None})
    self.assertEqual(files.read_json(path), {'a': None, 'b': [1, 2.5]})
    files.write_json(path, {'c': 'again'})  # replaces the file
    self.assertEqual(files.read_json(path), {'c': 'again'})
    self.assertEqual(os.listdir(folder), ['state.json'])

  def test_missing_file_reads_as_none(self):
    self.assertIsNone(files.read_json(
        os.path.join(self.get_temp_dir(), 'nothing.json')))

  def test_invalid_json_names_the_file(self):
    path = os.path.join(self.get_temp_dir(), 'broken.json')
    with open(path, 'w') as f:
      f.write('{"half": ')
    with self.assertRaisesRegex(ValueError, 'broken.json: not valid JSON'):
      files.read_json(path)

  def test_unserialisable_object_writes_nothing(self):
    folder = os.path.join(self.get_temp_dir(), 'unserialisable')
    with self.assertRaises(TypeError):
      files.write_json(os.path.join(folder, 'x.json'), {'x': object()})
    self.assertFalse(os.path.exists(folder))


class CheckpointStepTest(tf.test.TestCase):

  def test_zero_without_a_checkpoint_then_the_saved_step(self):
    model_dir = self.get_temp_dir()
    self.assertEqual(files.checkpoint_step(model_dir), 0)
    with tf.Graph().as_default():
      step = tf.train.get_or_create_global_step()
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(step, 7))
        tf.train.Saver().save(sess, os.path.join(model_dir, 'model.ckpt'),
                              global_step=step)
    self.assertEqual(files.checkpoint_step(model_dir), 7)


if __name__ == '__main__':
  tf.test.main()
