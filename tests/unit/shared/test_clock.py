"""The simulated clock every service reads from one file."""
import os
from datetime import datetime, timedelta, timezone

from shared.clock import SimulatedClock

T = datetime(2019, 1, 31, 16, 0, tzinfo=timezone.utc)


def test_a_reader_sees_a_set_that_left_the_files_modification_time_unchanged(tmp_path):
    """Two sets a fraction of a millisecond apart can get the same modification time:
    a service's reader must not keep the first instant."""
    path = tmp_path / "clock.json"
    driver, service = SimulatedClock(path), SimulatedClock(path)
    driver.set(T)
    assert service.now() == T  # read once, remembered
    first = path.stat().st_mtime_ns

    driver.set(T + timedelta(days=14))
    os.utime(path, ns=(first, first))  # as when both sets fall in one timestamp tick

    assert service.now() == T + timedelta(days=14)


def test_a_reader_reads_the_file_again_only_when_it_changed(tmp_path, monkeypatch):
    path = tmp_path / "clock.json"
    SimulatedClock(path).set(T)
    service, reads = SimulatedClock(path), []
    real_read = type(path).read_text

    def counting_read(self, *args, **kwargs):
        reads.append(self)
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(type(path), "read_text", counting_read)
    for _ in range(3):
        assert service.now() == T
    assert len(reads) == 1
