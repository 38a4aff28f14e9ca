"""``make bench``: run every benchmark and print its figures."""

from bench import edge_bench, historian_bench


def main() -> None:
    historian_bench.main()
    edge_bench.main()


main()
