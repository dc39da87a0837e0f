"""Lay out CIFAR-10 given as JPEG files (`{train,test}/<class>/NNNN.jpg`, a folder or a .tar.gz of it)
in the official python-pickle layout (`data_batch_1..5`, `test_batch`, `batches.meta`), so that
`--dataset CIFAR-10 --data_root OUT_DIR` can read it.

    python -m datasets.make_cifar10_from_jpeg ../shared/data/cifar10-jpeg.tar.gz cifar-10-batches-py
"""

import argparse

from cli import cli_errors
from datasets.cifar import cifar10_from_jpeg


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="folder or .tar(.gz) archive with {train,test}/<class>/*.jpg")
    parser.add_argument("out_dir", help="directory to write the python pickles to (created if needed)")
    parser.add_argument("--max_per_class", type=int, default=None,
                        help="keep only the first N images (by file name) of each class and split")
    args = parser.parse_args(argv)
    with cli_errors():
        if args.max_per_class is not None and args.max_per_class < 1:
            raise ValueError("--max_per_class must be positive, got {}".format(args.max_per_class))
        num_train, num_test = cifar10_from_jpeg(args.source, args.out_dir, args.max_per_class, progress=True)
    print("Wrote {} training and {} test images to {}".format(num_train, num_test, args.out_dir))


if __name__ == "__main__":
    main()
