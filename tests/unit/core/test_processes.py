import subprocess
import sys

from upscway.processes import ProcessId


def test_a_process_is_gone_once_it_ends_and_a_reused_pid_is_not_the_run():
    me = ProcessId.current()
    assert not me.is_gone()
    assert ProcessId(me.host, me.pid, me.started_at - 100).is_gone()  # same pid, another process
    assert not ProcessId("another-host", 1, 0.0).is_gone()  # cannot be seen from here
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert ProcessId(me.host, child.pid, me.started_at).is_gone()
