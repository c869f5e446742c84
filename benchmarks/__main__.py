"""``python -m benchmarks``: the whole benchmark suite (see :mod:`benchmarks.runner`)."""

from benchmarks.runner import main

if __name__ == "__main__":
    main()
