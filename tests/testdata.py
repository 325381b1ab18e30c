"""Tiny generated images and image trees for the tests.

Each class gets its own solid colour (with a little noise), so a label check
is meaningful and JPEG artefacts stay small.
"""
import io
import os

import numpy as np
from PIL import Image

# Distinct colours, one per class index.
COLOURS = ((220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 210, 30),
           (200, 40, 200), (30, 200, 200), (120, 120, 120), (250, 140, 0))


def solid(colour, size=(24, 20), seed=0):
  """uint8 RGB array [height, width, 3] of `colour` with +-3 noise.

  Args:
    colour: (r, g, b).
    size: (width, height), as PIL has it.
    seed: noise seed.
  """
  width, height = size
  rng = np.random.RandomState(seed)
  noise = rng.randint(-3, 4, size=(height, width, 3))
  return np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)


def encode(array, mode='RGB', fmt='JPEG', **kwargs):
  """Encodes an RGB array (or PIL image) in PIL `mode` and `fmt`; bytes."""
  image = array if isinstance(array, Image.Image) else Image.fromarray(array)
  buffer = io.BytesIO()
  image.convert(mode).save(buffer, fmt, **kwargs)
  return buffer.getvalue()


def write(path, data):
  """Writes bytes to `path`, creating folders; returns `path`."""
  folder = os.path.dirname(path)
  if folder and not os.path.isdir(folder):
    os.makedirs(folder)
  with open(path, 'wb') as f:
    f.write(data)
  return path


def bad_files():
  """{file name: bytes} of things that are not decodable images."""
  jpeg = encode(solid(COLOURS[0], (40, 40)), 'RGB', 'JPEG')
  png = encode(solid(COLOURS[1], (40, 40)), 'RGB', 'PNG')
  return {'notes.jpg': b'just some text, not an image\n',
          'empty.png': b'',
          'truncated.jpg': jpeg[:len(jpeg) // 2],
          'truncated.png': png[:len(png) // 2]}


def make_tree(root, layout='split', classes=('a', 'b'), train_per_class=3,
              validation_per_class=1, image_size=(24, 20), bad=False,
              validation_dir='validation'):
  """Writes a class-per-folder image tree of small PNG and JPEG files.

  Args:
    root: folder to write into.
    layout: 'split' writes root/train/<class>/ and root/<validation_dir>/
      <class>/; 'classes' writes root/<class>/ only (train_per_class each).
    classes: class folder names; class i is drawn in COLOURS[i].
    train_per_class, validation_per_class: images per class and split.
    image_size: (width, height) of every image.
    bad: also write bad_files() into the first class's training folder.
    validation_dir: name of the validation folder, 'validation' or 'val'.

  Returns:
    {'train': [(path, class index)], 'validation': [(path, class index)]}
    of the good files written, sorted by path.
  """
  written = {'train': [], 'validation': []}
  splits = [('train', train_per_class)]
  if layout == 'split':
    splits.append((validation_dir, validation_per_class))
  for split, count in splits:
    for index, name in enumerate(classes):
      folder = (os.path.join(root, split, name) if layout == 'split'
                else os.path.join(root, name))
      for i in range(count):
        fmt, ext = (('PNG', '.png') if i % 2 else ('JPEG', '.jpg'))
        array = solid(COLOURS[index % len(COLOURS)], image_size, seed=i)
        path = write(os.path.join(folder, '%s_%s_%02d%s' % (split, name, i,
                                                            ext)),
                     encode(array, 'RGB', fmt))
        key = 'train' if split == 'train' else 'validation'
        written[key].append((path, index))
  if bad:
    first = (os.path.join(root, 'train', classes[0]) if layout == 'split'
             else os.path.join(root, classes[0]))
    for name, data in bad_files().items():
      write(os.path.join(first, name), data)
  return {k: sorted(v) for k, v in written.items()}
