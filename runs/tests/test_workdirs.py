"""Working directories: private, removed whatever a sandbox did to them,
and swept when a worker starts, but never those of a worker alive."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from runs import workdirs


@pytest.fixture
def root(settings, tmp_path, monkeypatch):
    settings.ATLAS_RUN_WORK_DIR = str(tmp_path / "work")
    monkeypatch.setattr(workdirs, "_own", None)
    return tmp_path / "work"


def test_a_phase_directory_is_private_and_inside_this_workers_locked_directory(root):
    phase = workdirs.phase_directory(42, "plan")
    worker = phase.parent
    assert worker.parent == root
    assert worker.name.startswith(f"atlas-worker-{os.getpid()}-")
    assert phase.name.startswith("run-42-plan-")
    for path in (worker, phase):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert (worker / "lock").exists()
    assert workdirs.phase_directory(42, "apply").parent == worker


def test_removal_follows_no_link_opens_no_fifo_and_undoes_unreadable_directories(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    doomed = tmp_path / "doomed"
    (doomed / "a" / "b").mkdir(parents=True)
    (doomed / "a" / "b" / "file").write_text("x")
    os.symlink(outside, doomed / "a" / "link")
    os.symlink(outside / "precious", doomed / "file-link")
    os.mkfifo(doomed / "a" / "fifo")
    os.chmod(doomed / "a" / "b", 0)
    os.chmod(doomed / "a", 0o500)
    workdirs.remove_tree(doomed)
    assert not doomed.exists()
    assert (outside / "precious").read_text() == "keep me"


def _holder(path):
    """Another process holding `path/lock`, as a live worker does."""
    script = textwrap.dedent(
        f"""
        import fcntl, os, sys, time
        handle = os.open({str(path / "lock")!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(handle, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert process.stdout.readline() == b"locked\n"
    return process


def test_a_starting_worker_removes_what_killed_workers_left_and_nothing_of_live_ones(root):
    root.mkdir()
    killed = root / "atlas-worker-123-abc"
    (killed / "run-1-plan-x" / "sandbox").mkdir(parents=True)
    (killed / "lock").write_text("")
    os.mkfifo(killed / "run-1-plan-x" / "sandbox" / "plan.tfplan")
    never_locked = root / "atlas-worker-124-def"
    never_locked.mkdir()
    alive = root / "atlas-worker-125-ghi"
    (alive / "run-2-plan-y").mkdir(parents=True)
    unrelated = root / "someone-elses"
    unrelated.mkdir()
    holder = _holder(alive)
    try:
        removed = workdirs.sweep()
    finally:
        holder.kill()
        holder.wait()
    assert sorted(removed) == [killed, never_locked]
    assert not killed.exists() and not never_locked.exists()
    assert (alive / "run-2-plan-y").is_dir()
    assert unrelated.is_dir()


def test_a_worker_never_sweeps_its_own_directory(root):
    phase = workdirs.phase_directory(1, "plan")
    assert workdirs.sweep() == []
    assert phase.is_dir()
