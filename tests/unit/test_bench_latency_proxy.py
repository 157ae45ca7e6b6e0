"""The mail benchmark's latency proxy: every chunk arrives, in order, late by the delay in
each direction; it listens on loopback addresses only."""
import socket
import subprocess
import sys
import time

import pytest

from bench.latency_proxy import main
from tests.support.infra import free_port


def test_a_round_trip_through_the_proxy_takes_twice_the_delay_and_keeps_every_byte():
    echo = socket.create_server(("127.0.0.1", 0))
    port = free_port()
    proxy = subprocess.Popen([sys.executable, "-m", "bench.latency_proxy", "--listen",
                              f"127.0.0.1:{port}", "--to",
                              f"127.0.0.1:{echo.getsockname()[1]}", "--delay-ms", "100"])
    try:
        for _ in range(100):  # until it listens
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        served, _ = echo.accept()
        with client, served:
            parts = (b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<c@d>\r\n", b"DATA\r\n")
            size = sum(map(len, parts))
            started = time.monotonic()
            for part in parts:
                client.sendall(part)  # three writes, one round trip's delay for all
            received = b""
            while len(received) < size:
                received += served.recv(1024)
            served.sendall(received.upper())
            echoed = b""
            while len(echoed) < size:
                echoed += client.recv(1024)
            elapsed = time.monotonic() - started
    finally:
        proxy.terminate()
        proxy.wait(10)
        echo.close()
    assert echoed == b"MAIL FROM:<A@B>\r\nRCPT TO:<C@D>\r\nDATA\r\n"
    # a functional bound, not a speed target: the delay is what the proxy is for
    assert 0.2 <= elapsed < 2.0


def test_it_refuses_an_address_off_the_loopback(capsys):
    with pytest.raises(SystemExit):
        main(["--listen", "192.0.2.1:25", "--to", "127.0.0.1:25", "--delay-ms", "1"])
    assert "is not a loopback address" in capsys.readouterr().err
