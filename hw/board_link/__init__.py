"""The board link: the protocol's constants, the UART, the request parser, the command executor, the response
writer, the host link that joins them, and the board's top."""
