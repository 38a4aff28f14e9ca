"""``make bench``: run every benchmark and print its figures."""

from bench import (
    cloud_bench,
    edge_bench,
    energy_bench,
    historian_bench,
    maintenance_bench,
    modbus_bench,
    opcua_bench,
    production_bench,
)


def main() -> None:
    historian_bench.main()
    edge_bench.main()
    opcua_bench.main()
    modbus_bench.main()
    energy_bench.main()
    production_bench.main()
    maintenance_bench.main()
    cloud_bench.main()


main()
