"""Tests for scripts/make_demo_data.py: deterministic, varied, all readable."""
import glob
import importlib.util
import os

import tensorflow as tf

from alexnet_estimator import preprocessing

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'scripts', 'make_demo_data.py')
_spec = importlib.util.spec_from_file_location('make_demo_data', _SCRIPT)
make_demo_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_demo_data)


def _contents(root):
  out = {}
  for path in sorted(glob.glob(os.path.join(root, '*', '*', '*'))):
    with open(path, 'rb') as f:
      out[os.path.relpath(path, root)] = f.read()
  return out


class MakeDemoDataTest(tf.test.TestCase):

  def test_same_seed_same_bytes_other_seed_other_bytes(self):
    base = self.get_temp_dir()
    runs = {}
    for name, seed in (('one', 0), ('two', 0), ('three', 1)):
      count = make_demo_data.make_demo_data(os.path.join(base, name), 4, 1,
                                            seed)
      runs[name] = _contents(os.path.join(base, name))
      self.assertEqual(count, len(runs[name]))
    self.assertEqual(runs['one'], runs['two'])
    self.assertNotEqual(runs['one'], runs['three'])
    self.assertEqual(sorted(os.listdir(os.path.join(base, 'one', 'train'))),
                     sorted(make_demo_data.CLASSES))

  def test_every_file_but_the_corrupt_one_decodes_and_formats_vary(self):
    root = self.get_temp_dir()
    make_demo_data.make_demo_data(root, 24, 4, seed=0)
    files = _contents(root)
    data = tf.placeholder(tf.string, [])
    decoded = preprocessing.decode_image(data)
    signatures = set()
    with self.cached_session() as sess:
      for name, content in sorted(files.items()):
        if name.endswith('corrupt.jpg'):
          with self.assertRaises(tf.errors.InvalidArgumentError):
            sess.run(decoded, {data: content})
          continue
        self.assertEqual(sess.run(decoded, {data: content}).shape[2], 3)
        signatures.add(content[:2])
    # JPEG, PNG, GIF and BMP all occur.
    self.assertEqual(signatures, {b'\xff\xd8', b'\x89P', b'GI', b'BM'})


if __name__ == '__main__':
  tf.test.main()
