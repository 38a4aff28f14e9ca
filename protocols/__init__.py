"""Industrial wire protocols: OPC UA and Modbus drivers, register decoding, simulators."""
