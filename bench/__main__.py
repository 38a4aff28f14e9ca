"""``make bench``: run every benchmark and print its figures."""

from bench import historian_bench


def main() -> None:
    historian_bench.main()


main()
