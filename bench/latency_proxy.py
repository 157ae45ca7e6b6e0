"""A loopback TCP forwarder that delivers every chunk ``--delay-ms`` late in each
direction: a remote server's latency for the mail benchmark, on one machine.

    python -m bench.latency_proxy --listen 127.0.0.13:1115 --to 127.0.0.13:1113 --delay-ms 5

Chunks keep their order and are not held back by one another (a chunk read while an
earlier one waits is due ``delay`` after it was read), so a round trip costs twice the
delay however many commands one write carries, as on a real link. Loopback addresses
only: it is a benchmark's tool, not a relay.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys

CHUNK = 1 << 16


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read."""
    loop = asyncio.get_running_loop()
    due: asyncio.Queue = asyncio.Queue()

    async def deliver():
        while True:
            at, data = await due.get()
            await asyncio.sleep(max(0.0, at - loop.time()))
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    delivering = asyncio.create_task(deliver())
    try:
        while data := await reader.read(CHUNK):
            due.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    due.put_nowait((loop.time() + delay, b""))
    try:
        await delivering
    except ConnectionError:
        pass


async def serve(listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
    async def session(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_forward(client_reader, server_writer, delay),
                             _forward(server_reader, client_writer, delay))

    server = await asyncio.start_server(session, *listen)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not ipaddress.ip_address(host).is_loopback:
        raise argparse.ArgumentTypeError(f"{host} is not a loopback address")
    return host, int(port)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True, metavar="HOST:PORT")
    parser.add_argument("--to", type=_address, required=True, metavar="HOST:PORT")
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.listen, args.to, args.delay_ms / 1000))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
