r"""Writes the deterministic demo image set: shapes of five kinds, many formats.

  python scripts/make_demo_data.py --out_dir demo_run/data
  python -m alexnet_estimator.demo_data --out_dir demo_run/data  (the same)

Five visually distinct classes (circle, square, triangle, cross, stripes), each
drawn in its own hue family at a random place, size and angle on a noisy
background. Files come in varied sizes and formats: RGB, grayscale and CMYK
JPEG, RGB and RGBA PNG, GIF and BMP, some with a misleading extension. One
corrupt file in train/ shows that a bad file is skipped and reported. The same
seed gives the same bytes.

Layout: OUT/train/<class>/* and OUT/validation/<class>/*. `make demo` and the
quickstart notebook draw their images with `write`.
"""
import argparse
import io
import os
import random

from PIL import Image
from PIL import ImageDraw
from PIL import ImageFilter

CLASSES = ('circle', 'cross', 'square', 'stripes', 'triangle')
# Base colour of each class; drawings vary around it.
_HUES = {'circle': (220, 40, 40), 'cross': (200, 40, 200),
         'square': (40, 70, 220), 'stripes': (230, 200, 30),
         'triangle': (30, 170, 60)}
# (weight, PIL mode, format, extension); the last one lies about its format.
# Grayscale is rare: colour is half of what tells these classes apart.
_FORMATS = ((8, 'RGB', 'JPEG', '.jpg'), (3, 'RGB', 'PNG', '.png'),
            (1, 'L', 'JPEG', '.jpeg'), (2, 'CMYK', 'JPEG', '.jpg'),
            (2, 'RGBA', 'PNG', '.png'), (2, 'P', 'GIF', '.gif'),
            (1, 'RGB', 'BMP', '.bmp'), (1, 'RGB', 'PNG', '.jpg'))
_FORMAT_CHOICES = [f[1:] for f in _FORMATS for _ in range(f[0])]


def _jitter(rng, colour, amount=40):
  return tuple(max(0, min(255, c + rng.randint(-amount, amount)))
               for c in colour)


def draw(kind, rng):
  """Returns an RGB PIL image of one `kind` of shape."""
  width, height = rng.randint(96, 320), rng.randint(96, 320)
  background = tuple(rng.randint(150, 250) for _ in range(3))
  image = Image.new('RGB', (width, height), background)
  pen = ImageDraw.Draw(image)
  for _ in range(rng.randint(3, 8)):  # clutter, in any class's colours
    x, y = rng.randint(0, width), rng.randint(0, height)
    r = rng.randint(2, 6)
    pen.ellipse([x - r, y - r, x + r, y + r],
                fill=tuple(rng.randint(0, 255) for _ in range(3)))
  side = min(width, height)
  size = rng.uniform(0.35, 0.7) * side
  cx = rng.uniform(size / 2, width - size / 2)
  cy = rng.uniform(size / 2, height - size / 2)
  colour = _jitter(rng, _HUES[kind])
  half = size / 2
  if kind == 'circle':
    pen.ellipse([cx - half, cy - half, cx + half, cy + half], fill=colour)
  elif kind == 'square':
    pen.rectangle([cx - half, cy - half, cx + half, cy + half], fill=colour)
  elif kind == 'triangle':
    pen.polygon([(cx, cy - half), (cx - half, cy + half),
                 (cx + half, cy + half)], fill=colour)
  elif kind == 'cross':
    bar = max(3, int(size / 6))
    pen.line([cx - half, cy - half, cx + half, cy + half], fill=colour,
             width=bar)
    pen.line([cx - half, cy + half, cx + half, cy - half], fill=colour,
             width=bar)
  else:  # stripes
    gap = max(6, int(size / 5))
    for y in range(int(cy - half), int(cy + half), gap):
      pen.rectangle([cx - half, y, cx + half, y + gap // 2], fill=colour)
  if rng.random() < 0.5:
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
  return image


def encode(image, mode, fmt):
  """Encodes an RGB PIL image in `mode` and `fmt`; returns the bytes."""
  buffer = io.BytesIO()
  converted = image.convert(mode)
  if fmt == 'JPEG':
    converted.save(buffer, fmt, quality=90)
  else:
    converted.save(buffer, fmt)
  return buffer.getvalue()


def write(out_dir, train_per_class=60, validation_per_class=20, seed=0):
  """Writes the demo set under `out_dir`; returns the number of files.

  Args:
    out_dir: folder to create train/ and validation/ in.
    train_per_class, validation_per_class: images per class in each split.
    seed: the same seed writes the same bytes.

  Returns:
    int, the files written, the corrupt one included.
  """
  rng = random.Random(seed)
  count = 0
  for split, per_class in (('train', train_per_class),
                           ('validation', validation_per_class)):
    for kind in CLASSES:
      folder = os.path.join(out_dir, split, kind)
      if not os.path.isdir(folder):
        os.makedirs(folder)
      for i in range(per_class):
        mode, fmt, ext = rng.choice(_FORMAT_CHOICES)
        data = encode(draw(kind, rng), mode, fmt)
        with open(os.path.join(folder, '%s_%03d%s' % (kind, i, ext)),
                  'wb') as f:
          f.write(data)
        count += 1
  # A truncated JPEG: training must skip it, name it and go on.
  broken = encode(draw(CLASSES[0], rng), 'RGB', 'JPEG')
  with open(os.path.join(out_dir, 'train', CLASSES[0], 'corrupt.jpg'),
            'wb') as f:
    f.write(broken[:len(broken) // 3])
  return count + 1


def main(argv=None):
  """Command line: writes the set where --out_dir says.

  Args:
    argv: the arguments after the program name; None reads sys.argv.
  """
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out_dir', required=True)
  parser.add_argument('--train_per_class', type=int, default=60)
  parser.add_argument('--validation_per_class', type=int, default=20)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args(argv)
  count = write(args.out_dir, args.train_per_class, args.validation_per_class,
                args.seed)
  print('Wrote %d files under %s' % (count, args.out_dir))


if __name__ == '__main__':
  main()
