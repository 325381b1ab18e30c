"""Pictures of data, training and predictions (matplotlib, the [plots] extra).

Every function returns a matplotlib Figure built without pyplot, so it works
headless (the CLI, CI) and displays in a notebook; `save` writes a PNG.

  preview_grid        a grid of images titled with their class names, as the
                      tutorial previews its training data (image_grid)
  read_curves         loss and accuracy series from a model_dir's event files
  curves_figure       those series as a figure
  prediction_gallery  images, each with its top-k classes as bars
"""
import collections
import glob
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np
from PIL import Image
import tensorflow as tf

# (event file folder below model_dir, tag) -> name of the series.
_SERIES = collections.OrderedDict([
    (('', 'loss'), 'train loss'),
    (('', 'train_accuracy'), 'train accuracy'),
    (('eval', 'loss'), 'eval loss'),
    (('eval', 'accuracy'), 'eval accuracy'),
    (('eval', 'accuracy_top_5'), 'eval top-5 accuracy'),
])


def load_image(path, size=None):
  """An RGB uint8 array of the image at `path`, optionally resized to a square.

  Preview only: the model's own decoding is preprocessing.decode_image.
  """
  with Image.open(path) as image:
    image = image.convert('RGB')
    if size:
      image = image.resize((size, size), Image.BILINEAR)
    return np.asarray(image)


def _figure(width, height):
  figure = Figure(figsize=(width, height))
  FigureCanvasAgg(figure)
  return figure


def image_grid(images, titles, columns=10, cell=1.2):
  """A grid of images with a title each.

  Args:
    images: list of RGB arrays (any sizes).
    titles: list of str, parallel to `images`.
    columns: images per row.
    cell: inches per image.

  Returns:
    A matplotlib Figure.
  """
  rows = max(1, int(np.ceil(len(images) / float(columns))))
  columns = min(columns, max(1, len(images)))
  figure = _figure(columns * cell, rows * (cell + 0.2))
  for i, (image, title) in enumerate(zip(images, titles)):
    axes = figure.add_subplot(rows, columns, i + 1)
    axes.imshow(image)
    axes.set_title(title, fontsize=7)
    axes.axis('off')
  figure.tight_layout()
  return figure


def preview_grid(files, titles, count=100, size=96, columns=10, seed=0):
  """The tutorial's preview: a grid of up to `count` random readable images.

  Files that do not open as images are passed over.
  """
  order = np.random.RandomState(seed).permutation(len(files))
  images, names = [], []
  for i in order:
    if len(images) == count:
      break
    try:
      images.append(load_image(files[i], size))
    except (IOError, OSError, ValueError, SyntaxError):
      continue
    names.append(titles[i])
  return image_grid(images, names, columns=columns)


def read_curves(model_dir):
  """Scalar series of a run: {'train loss': (steps, values), ...}.

  Reads the Estimator's event files in `model_dir` (training) and
  `model_dir/eval` (evaluation); a series with no points is left out.
  """
  points = collections.defaultdict(dict)
  for (folder, tag), name in _SERIES.items():
    pattern = os.path.join(model_dir, folder, 'events.out.tfevents.*')
    for path in sorted(glob.glob(pattern)):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.tag == tag:
            points[name][event.step] = value.simple_value
  return collections.OrderedDict(
      (name, (sorted(points[name]),
              [points[name][s] for s in sorted(points[name])]))
      for name in _SERIES.values() if points.get(name))


def curves_figure(curves, title=None):
  """Loss (left) and accuracy (right) against the step, from read_curves."""
  figure = _figure(10, 3.6)
  loss, accuracy = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
  for name, (steps, values) in curves.items():
    axes = loss if name.endswith('loss') else accuracy
    axes.plot(steps, values, marker='o' if name.startswith('eval') else None,
              markersize=4, label=name)
  for axes, label in ((loss, 'loss'), (accuracy, 'accuracy')):
    axes.set_xlabel('step')
    axes.set_ylabel(label)
    axes.grid(alpha=0.3)
    if axes.lines:
      axes.legend(fontsize=8)
  accuracy.set_ylim(0, 1.02)
  if title:
    figure.suptitle(title)
  figure.tight_layout()
  return figure


def prediction_gallery(images, probabilities, class_names, titles=None,
                       top_k=5, columns=4):
  """Each image beside a bar chart of its top-k classes.

  Args:
    images: list of RGB arrays.
    probabilities: array [N, num_classes].
    class_names: sequence of num_classes names.
    titles: optional list of str (e.g. file names).
    top_k: bars per image.
    columns: image+bars pairs per row.

  Returns:
    A matplotlib Figure.
  """
  probabilities = np.asarray(probabilities)
  top_k = min(top_k, probabilities.shape[1])
  rows = max(1, int(np.ceil(len(images) / float(columns))))
  columns = min(columns, max(1, len(images)))
  figure = _figure(columns * 4.2, rows * 2.0)
  for i, image in enumerate(images):
    order = np.argsort(-probabilities[i])[:top_k]
    picture = figure.add_subplot(rows, 2 * columns, 2 * i + 1)
    picture.imshow(image)
    picture.axis('off')
    if titles:
      picture.set_title(titles[i], fontsize=7)
    bars = figure.add_subplot(rows, 2 * columns, 2 * i + 2)
    bars.barh(range(top_k)[::-1], probabilities[i][order],
              color=['tab:blue'] + ['tab:gray'] * (top_k - 1))
    bars.set_yticks(range(top_k)[::-1])
    bars.set_yticklabels([class_names[c] for c in order], fontsize=7)
    bars.set_xlim(0, 1)
    bars.tick_params(axis='x', labelsize=6)
  figure.tight_layout()
  return figure


def save(figure, path, dpi=80):
  """Writes `figure` as a PNG at `path`; returns `path`."""
  folder = os.path.dirname(path)
  if folder and not os.path.isdir(folder):
    os.makedirs(folder)
  figure.savefig(path, dpi=dpi, format='png')
  return path
