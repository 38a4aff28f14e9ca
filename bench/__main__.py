"""``make bench``: run every benchmark and print its figures."""

from bench import (
    cloud_bench,
    edge_bench,
    energy_bench,
    historian_bench,
    maintenance_bench,
    maintenance_pumps_bench,
    modbus_bench,
    opcua_bench,
    plant_pages_bench,
    production_bench,
)


def main() -> None:
    historian_bench.main()
    edge_bench.main()
    opcua_bench.main()
    modbus_bench.main()
    energy_bench.main()
    production_bench.main()
    plant_pages_bench.main()
    maintenance_bench.main()
    maintenance_pumps_bench.main()
    cloud_bench.main()


main()
