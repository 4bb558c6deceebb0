import threading

import pytest

from analytics.bridge import beside as beside_module


@pytest.fixture
def threads_of_loads(monkeypatch):
    """The name of the thread each `beside` load ran on, in the order they ran (analytics.bridge.beside)."""
    names = []
    run = beside_module.Pending.run

    def recorded(self):
        names.append(threading.current_thread().name)
        return run(self)

    monkeypatch.setattr(beside_module.Pending, "run", recorded)
    return names
