"""Helpers shared by the tests: generated images and trees, the CLI run.

Tiny generated images, image trees and broken files: each class gets its own
solid colour (with a little noise), so a label check is meaningful (the pixels
say which class a decoded image came from) and JPEG artefacts stay small. Sizes
are (width, height), as PIL has them; arrays are [height, width, 3], as
TensorFlow has them.

The CLI runs in a subprocess, as users run it (`run_cli`), with the repository
importable.

TFRecord shards in build_imagenet_data.py's format: `write_imagenet_shards`.

Typical use:

  written = helpers.make_tree(self.get_temp_dir(), layout='split',
                              classes=('cat', 'dog'), train_per_class=2,
                              validation_per_class=1, image_size=(30, 20))
  files = [path for path, _ in written['train']]
  code, stdout, stderr = helpers.run_cli('--mode', 'train', ...)
"""
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

# The repository root: subprocesses get it on PYTHONPATH.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# How the CLI starts its one-line error on stderr.
ERROR_PREFIX = 'alexnet_estimator.train: error: '

# Distinct colours, one per class index (class i is drawn in COLOURS[i % 8]).
COLOURS = ((220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 210, 30),
           (200, 40, 200), (30, 200, 200), (120, 120, 120), (250, 140, 0))

# File extension -> PIL format, for write_image.
_FORMATS = {'.jpg': 'JPEG', '.jpeg': 'JPEG', '.png': 'PNG', '.gif': 'GIF',
            '.bmp': 'BMP'}


def solid(colour, size=(24, 20), seed=0, noise=3):
  """A solid-colour RGB image with a little noise.

  Args:
    colour: (r, g, b), ints in [0, 255].
    size: (width, height), as PIL has it.
    seed: noise seed; the same seed gives the same pixels.
    noise: pixels vary uniformly within +-noise; 0 gives an exact colour.

  Returns:
    uint8 numpy array [height, width, 3].
  """
  width, height = size
  rng = np.random.RandomState(seed)
  offsets = rng.randint(-noise, noise + 1, size=(height, width, 3))
  return np.clip(np.array(colour) + offsets, 0, 255).astype(np.uint8)


def encode(array, mode='RGB', fmt='JPEG', **kwargs):
  """Encodes an image with Pillow.

  Args:
    array: uint8 numpy array [height, width, 3] (RGB) or a PIL image.
    mode: PIL mode to convert to first: 'RGB', 'L', 'CMYK', 'RGBA', 'P', ...
    fmt: PIL format: 'JPEG', 'PNG', 'GIF', 'BMP', ...
    **kwargs: passed to PIL's `Image.save` (e.g. quality=95).

  Returns:
    The encoded bytes.
  """
  image = array if isinstance(array, Image.Image) else Image.fromarray(array)
  buffer = io.BytesIO()
  image.convert(mode).save(buffer, fmt, **kwargs)
  return buffer.getvalue()


def write(path, data):
  """Writes bytes to `path`, creating its folder; returns `path`."""
  folder = os.path.dirname(path)
  if folder and not os.path.isdir(folder):
    os.makedirs(folder)
  with open(path, 'wb') as f:
    f.write(data)
  return path


def write_image(path, array, mode='RGB', fmt=None, **kwargs):
  """Encodes `array` and writes it to `path`; returns `path`.

  Args:
    path: file to write; its folder is created.
    array: uint8 numpy array [height, width, 3] or a PIL image.
    mode: PIL mode to convert to before saving.
    fmt: PIL format; None picks it from the extension of `path`, so pass it
      to write a file whose name lies about its format.
    **kwargs: passed to PIL's `Image.save`.
  """
  if fmt is None:
    fmt = _FORMATS[os.path.splitext(path)[1].lower()]
  return write(path, encode(array, mode, fmt, **kwargs))


def animated_gif(colours, size=(16, 12)):
  """A GIF with one solid frame per colour in `colours`; returns bytes."""
  frames = [Image.fromarray(solid(c, size, noise=0)) for c in colours]
  buffer = io.BytesIO()
  frames[0].save(buffer, 'GIF', save_all=True, append_images=frames[1:],
                 duration=100, loop=0)
  return buffer.getvalue()


def text_bytes():
  """Bytes of a text file: not an image in any format."""
  return b'just some text, not an image\n'


def truncated_jpeg():
  """The first half of a valid 40x40 JPEG: the signature, then it stops."""
  jpeg = encode(solid(COLOURS[0], (40, 40)), 'RGB', 'JPEG')
  return jpeg[:len(jpeg) // 2]


def truncated_png():
  """The first half of a valid 40x40 PNG: the signature, then it stops."""
  png = encode(solid(COLOURS[1], (40, 40)), 'RGB', 'PNG')
  return png[:len(png) // 2]


def bad_files():
  """Things that are not decodable images.

  Returns:
    {file name: bytes}: 'notes.jpg' (text), 'empty.png' (no bytes),
    'truncated.jpg' and 'truncated.png' (first half of a valid file; these
    pass image_folder.looks_like_image but fail to decode).
  """
  return {'notes.jpg': text_bytes(),
          'empty.png': b'',
          'truncated.jpg': truncated_jpeg(),
          'truncated.png': truncated_png()}


def write_bad_files(folder):
  """Writes every bad_files() entry into `folder`; returns the sorted paths."""
  return sorted(write(os.path.join(folder, name), data)
                for name, data in bad_files().items())


def make_tree(root, layout='split', classes=('a', 'b'), train_per_class=3,
              validation_per_class=1, image_size=(24, 20), bad_files=False,
              validation_dir='validation'):
  """Writes a class-per-folder tree of small PNG and JPEG files.

  Every image of class i is COLOURS[i % len(COLOURS)] with a little noise;
  within a class, files alternate JPEG ('.jpg') and PNG ('.png').

  Args:
    root: folder to write into (created if missing).
    layout: 'split' writes root/train/<class>/ and root/<validation_dir>/
      <class>/; 'classes' writes root/<class>/ only, train_per_class each,
      and leaves the train/validation split to image_folder.find.
    classes: class folder names, in the order that gives their colours (not
      necessarily sorted; image_folder sorts them for the class ids).
    train_per_class: images per class in train/ (or per class folder).
    validation_per_class: images per class in the validation folder; ignored
      by layout 'classes'.
    image_size: (width, height) of every image.
    bad_files: also write the bad_files() entries (text, empty, truncated
      JPEG and PNG) into the first class's training folder.
    validation_dir: name of the validation folder, 'validation' or 'val'.

  Returns:
    A dict with 'train' and 'validation': sorted lists of (path, index of the
    class in `classes`) for the good images written ('validation' is empty for
    layout 'classes'), and 'bad': the sorted paths of the bad files written.
  """
  if layout not in ('split', 'classes'):
    raise ValueError('layout must be split or classes, got %r' % (layout,))
  written = {'train': [], 'validation': [], 'bad': []}
  splits = [('train', train_per_class)]
  if layout == 'split':
    splits.append((validation_dir, validation_per_class))
  for split, count in splits:
    key = 'train' if split == 'train' else 'validation'
    for index, name in enumerate(classes):
      folder = (os.path.join(root, split, name) if layout == 'split'
                else os.path.join(root, name))
      colour = COLOURS[index % len(COLOURS)]
      for i in range(count):
        ext = '.png' if i % 2 else '.jpg'
        path = os.path.join(folder, '%s_%s_%02d%s' % (split, name, i, ext))
        write_image(path, solid(colour, image_size, seed=i))
        written[key].append((path, index))
  if bad_files:
    first = (os.path.join(root, 'train', classes[0]) if layout == 'split'
             else os.path.join(root, classes[0]))
    written['bad'] = write_bad_files(first)
  return {k: sorted(v) for k, v in written.items()}


def cli_command(*args):
  """The command line of `python -m alexnet_estimator.train ARGS`."""
  return [sys.executable, '-m', 'alexnet_estimator.train'] + list(args)


def cli_env(env=None):
  """This process's environment, the repository importable, plus `env`."""
  return dict(os.environ, PYTHONPATH=ROOT, **(env or {}))


def run_cli(*args, env=None):
  """Runs the CLI; returns (exit code, stdout, stderr).

  Args:
    *args: its command-line arguments.
    env: variables added to this process's environment.
  """
  proc = subprocess.run(
      cli_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      env=cli_env(env), universal_newlines=True, timeout=600)
  return proc.returncode, proc.stdout, proc.stderr


# The uid and gid of `nobody`, which as_unprivileged takes on.
NOBODY = 65534


@contextlib.contextmanager
def as_unprivileged():
  """Context: this process acts as `nobody` if it runs as root.

  Root reads any file and folder whatever its mode, so tests of what cannot be
  read take another effective user for their duration (the real user stays
  root, so the effective one can come back). Files the test makes for that
  user must be in folders it may enter: see `world_readable_dir`.

  Raises:
    unittest.SkipTest: running as root and the effective ids cannot change.
  """
  if os.geteuid() != 0:
    yield
    return
  try:
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
  except OSError as e:
    os.setegid(0)
    raise unittest.SkipTest('root, and cannot act as another user: %s' % e)
  try:
    yield
  finally:
    os.seteuid(0)
    os.setegid(0)


def world_readable_dir(test):
  """A new folder every user may enter, deleted when `test` ends."""
  folder = tempfile.mkdtemp()
  os.chmod(folder, 0o755)
  test.addCleanup(shutil.rmtree, folder, ignore_errors=True)
  return folder


# Synsets of a fake 1000-class set (not ImageNet's).
SYNSETS = ['n%08d' % i for i in range(1000)]


def label_jpeg(label):
  """A solid JPEG of COLOURS[label % 8], 40x30: a record's image."""
  colour = COLOURS[label % len(COLOURS)]
  return encode(solid(colour, (40, 30)), 'RGB', 'JPEG')


def write_imagenet_shards(root, split, labels_per_shard, bad_label=None,
                          synsets=SYNSETS):
  """Writes shards in build_imagenet_data.py's format; returns their labels.

  Labels are 1..1000, synset synsets[label - 1]; each record is a solid JPEG
  of COLOURS[label % 8]. `bad_label`: that record gets bytes that are not an
  image.
  """
  # Here, not at the top: most users of this module need no TensorFlow.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from alexnet_estimator import build_tfrecords  # pylint: disable=g-import-not-at-top
  written = []
  if not os.path.isdir(root):
    os.makedirs(root)
  for index, labels in enumerate(labels_per_shard):
    path = os.path.join(root, '%s-%05d-of-%05d' % (split, index,
                                                   len(labels_per_shard)))
    with tf.io.TFRecordWriter(path) as writer:
      for label in labels:
        jpeg = label_jpeg(label)
        if label == bad_label:
          jpeg = b'\xff\xd8\xff garbage, not a JPEG'
        writer.write(build_tfrecords.make_example(
            jpeg, 30, 40, label, synsets[label - 1],
            'img_%d.JPEG' % label).SerializeToString())
        written.append(label)
  return written
