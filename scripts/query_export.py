r"""Queries an exported AlexNet with images, in TF Serving's REST form.

  # Locally, through the SavedModel (no server needed):
  python scripts/query_export.py --export_dir RUN_EXPORT/1700000000 a.jpg b.png
  # Against TF Serving's REST API:
  python scripts/query_export.py \
      --server http://localhost:8501/v1/models/alexnet:predict a.jpg b.png

Prints one JSON line per image: file, class name and probability.
"""
import argparse
import json
import sys

from urllib.request import Request
from urllib.request import urlopen

from alexnet_estimator import log
from alexnet_estimator import serving


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  where = parser.add_mutually_exclusive_group(required=True)
  where.add_argument('--export_dir', help='a timestamped SavedModel folder')
  where.add_argument('--server', help='TF Serving REST :predict URL')
  parser.add_argument('images', nargs='+', help='encoded image files')
  args = parser.parse_args()

  contents = []
  for path in args.images:
    with open(path, 'rb') as f:
      contents.append(f.read())
  body = serving.rest_body(contents)
  if args.server:
    request = Request(args.server, data=body.encode('utf-8'),
                      headers={'Content-Type': 'application/json'})
    answer = json.loads(urlopen(request).read().decode('utf-8'))
  else:
    log.quiet()
    predictor = serving.Predictor(args.export_dir)
    answer = predictor.predict_rest(body)
    predictor.close()
  for path, prediction in zip(args.images, answer['predictions']):
    print(json.dumps({
        'file': path, 'class_name': prediction['class_names'],
        'probability': max(prediction['probabilities'])}))
  return 0


if __name__ == '__main__':
  sys.exit(main())
