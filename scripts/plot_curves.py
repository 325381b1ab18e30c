r"""Draws a run's training curves from its TensorBoard event files as a PNG.

  python scripts/plot_curves.py --model_dir demo_run/model --out curves.png

Left: training and evaluation loss; right: training and evaluation accuracy
(and top-5), against the global step.
"""
import argparse
import sys

from alexnet_estimator import plots


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model_dir', required=True)
  parser.add_argument('--out', required=True, help='PNG file to write')
  parser.add_argument('--title', default=None)
  args = parser.parse_args()
  curves = plots.read_curves(args.model_dir)
  if not curves:
    print('plot_curves.py: error: no loss or accuracy summaries in %s'
          % args.model_dir, file=sys.stderr)
    return 1
  plots.save(plots.curves_figure(curves, args.title), args.out)
  print(args.out)
  return 0


if __name__ == '__main__':
  sys.exit(main())
