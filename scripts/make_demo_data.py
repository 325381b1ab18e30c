r"""Writes the deterministic demo image set: shapes of five kinds, many formats.

  python scripts/make_demo_data.py --out_dir demo_run/data

The generator is alexnet_estimator/demo_data.py; see its docstring.
"""
from alexnet_estimator import demo_data

if __name__ == '__main__':
  demo_data.main()
