"""Taking the plan out of a working directory a sandbox has written: links,
FIFOs, strangers beside it, sizes and formats."""

import io
import os
import threading
import time
import zipfile

import pytest

from runs.planfile import PlanRejected, check, take

LEGACY_PLAN = b"tfplan\x02" + b"\x00gob-encoded plan" * 10


def zip_plan(names=("tfplan", "tfstate", "tfstate-prev", "tfconfig/modules.json")):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"data of " + name.encode())
    return buffer.getvalue()


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "sandbox" / "out").mkdir(parents=True)
    return tmp_path


def _take(workdir, **kwargs):
    options = {"max_bytes": 1 << 20, "deadline": time.monotonic() + 30}
    options.update(kwargs)
    return take(workdir / "sandbox", "out/plan.tfplan", workdir / "checked", **options)


def _write(workdir, data, name="plan.tfplan"):
    (workdir / "sandbox" / "out" / name).write_bytes(data)


@pytest.mark.parametrize("data", [LEGACY_PLAN, zip_plan(), zip_plan(("tfplan", "tfstate"))])
def test_a_terraform_plan_is_copied_where_the_sandbox_cannot_reach(workdir, data):
    _write(workdir, data)
    assert _take(workdir) == len(data)
    assert (workdir / "checked").read_bytes() == data
    assert (workdir / "checked").stat().st_mode & 0o777 == 0o600


def test_a_symbolic_link_in_place_of_the_plan_is_refused_and_not_followed(workdir):
    secret = workdir / "host-secret"
    secret.write_bytes(LEGACY_PLAN)  # even a plan-looking target is not read
    os.symlink(secret, workdir / "sandbox" / "out" / "plan.tfplan")
    with pytest.raises(PlanRejected, match="is a symbolic link"):
        _take(workdir)
    assert not (workdir / "checked").exists()


def test_a_directory_on_the_way_replaced_by_a_link_is_refused(workdir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "plan.tfplan").write_bytes(LEGACY_PLAN)
    (workdir / "sandbox" / "out").rmdir()
    os.symlink(elsewhere, workdir / "sandbox" / "out")
    with pytest.raises(PlanRejected):
        _take(workdir)
    assert not (workdir / "checked").exists()


def test_a_fifo_in_place_of_the_plan_is_refused_without_waiting_for_a_writer(workdir):
    os.mkfifo(workdir / "sandbox" / "out" / "plan.tfplan")
    outcome = []

    def attempt():
        try:
            _take(workdir)
        except PlanRejected as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "opening the plan blocked on a FIFO"
    assert outcome == ["The plan file out/plan.tfplan is a FIFO."]


def test_anything_left_beside_the_plan_is_refused(workdir):
    _write(workdir, LEGACY_PLAN)
    _write(workdir, b"x", name="surprise")
    with pytest.raises(PlanRejected, match="left files beside the plan: surprise"):
        _take(workdir)


def test_a_missing_plan_is_refused(workdir):
    with pytest.raises(PlanRejected, match="no plan file"):
        _take(workdir)


def test_a_plan_larger_than_allowed_is_refused_before_it_is_read(workdir):
    _write(workdir, LEGACY_PLAN + b"\x00" * 2000)
    with pytest.raises(PlanRejected, match="more than the 1000 allowed"):
        _take(workdir, max_bytes=1000)
    assert not (workdir / "checked").exists()


def test_reading_past_the_deadline_is_refused(workdir):
    _write(workdir, LEGACY_PLAN)
    with pytest.raises(PlanRejected, match="took too long"):
        _take(workdir, deadline=time.monotonic() - 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"root:x:0:0:root:/root:/bin/bash\n", "not a Terraform plan"),
        (b"", "not a Terraform plan"),
        (b"tfplan\x09", "no known format version"),
        (b"PK\x03\x04 not really a zip", "not a readable Terraform plan archive"),
        (zip_plan(("tfstate",)), "lacks tfplan"),
        (zip_plan(("tfplan", "../../etc/cron.d/x")), "entries no plan has"),
    ],
)
def test_a_file_that_is_not_a_terraform_plan_is_refused(tmp_path, data, message):
    path = tmp_path / "plan"
    path.write_bytes(data)
    with pytest.raises(PlanRejected, match=message):
        check(path)
