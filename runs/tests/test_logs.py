"""Run logs: masking secrets in a stream, byte offsets, concurrent writers."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runs.logs import MASK, LogWriter, Masker, append_line, append_text, read_log
from runs.models import RunLogChunk

from .factories import RunFactory


def _stream(masker, pieces):
    return "".join(masker.feed(piece) for piece in pieces) + masker.finish()


def test_a_secret_is_masked_even_when_split_across_reads():
    masker = Masker(["hunter2-secret"])
    out = _stream(masker, ["password is hun", "ter2-se", "cret and more\n", "done"])
    assert out == f"password is {MASK} and more\ndone"


def test_complete_lines_are_released_at_once():
    masker = Masker(["topsecret"])
    assert masker.feed("line one\npartial") == "line one\n"
    assert masker.finish() == "partial"


def test_json_escaped_and_multi_line_secrets_are_masked():
    masker = Masker(['quote"d\\value', "first line\nsecond line"])
    out = _stream(masker, ['a: quote\\"d\\\\value b: quote"d\\value\n', "x first line y\n"])
    assert "quote" not in out
    assert "first line" not in out
    assert out.count(MASK) == 3


def test_without_secrets_text_passes_unchanged():
    masker = Masker(["", None])
    assert masker.feed("anything") == "anything"


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet="ab\n xyz", min_size=1, max_size=12).filter(
        lambda s: "\n" not in s and s.strip()
    ),
    before=st.text(alphabet="xyz \n", max_size=30),
    after=st.text(alphabet="xyz \n", max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
)
def test_no_chunking_of_the_output_ever_lets_a_secret_through(secret, before, after, cuts):
    text = before + secret + after
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    out = _stream(Masker([secret]), pieces)
    assert secret not in out
    assert out == Masker([secret]).mask(text)


@pytest.mark.django_db
def test_a_log_is_read_from_any_byte_offset(personas):
    run = RunFactory()
    append_text(run, "plan", "héllo\n")
    append_text(run, "plan", "world\n")
    data, size = read_log(run, "plan")
    assert data == "héllo\nworld\n".encode()
    assert size == len(data)
    assert read_log(run, "plan", 7) == (b"world\n", size)
    assert read_log(run, "plan", 3)[0] == "héllo\nworld\n".encode()[3:]
    assert read_log(run, "plan", size) == (b"", size)
    assert read_log(run, "apply") == (b"", 0)


@pytest.mark.django_db
def test_chunks_record_offsets_that_follow_each_other(personas):
    run = RunFactory()
    for n in range(5):
        append_line(run, "apply", f"line {n}")
    chunks = list(RunLogChunk.objects.filter(run=run, phase="apply").order_by("offset"))
    assert [c.offset for c in chunks] == [sum(x.size for x in chunks[:i]) for i in range(5)]


@pytest.mark.django_db
def test_the_writer_stores_masked_text_and_keeps_a_masked_tail(personas):
    run = RunFactory()
    writer = LogWriter(run, "plan", secrets=["s3cr3t-value"])
    writer.write_bytes(b"token: s3cr3t")
    writer.write_bytes(b"-value\n")
    writer.write_bytes("caf\xc3".encode("latin-1"))  # a character split across reads
    writer.write_bytes(b"\xa9\n")
    writer.close()
    data, _size = read_log(run, "plan")
    assert data.decode() == f"token: {MASK}\ncafé\n"
    assert "s3cr3t" not in writer.tail
    assert RunLogChunk.objects.filter(run=run).exclude(text__contains="s3cr3t").count() >= 1
    assert not RunLogChunk.objects.filter(text__contains="s3cr3t").exists()


@pytest.mark.django_db(transaction=True)
def test_a_writer_keeps_its_output_while_the_database_is_unreachable_and_stores_it_in_order(
    monkeypatch,
):
    """A unit: the database's outage is a stand-in that refuses two stores."""
    from django.db import OperationalError

    from runs import logs

    run = RunFactory()
    refusals = iter([True, True])
    real_append = logs.append_text

    def flaky_append(run_id, phase, text):
        if next(refusals, False):
            raise OperationalError("server closed the connection unexpectedly")
        real_append(run_id, phase, text)

    monkeypatch.setattr(logs, "append_text", flaky_append)
    monkeypatch.setattr("runs.outage.RETRY_SECONDS", 0.01)
    writer = LogWriter(run, "plan")
    writer.write("first line\n")
    writer.flush()  # refused: kept
    assert RunLogChunk.objects.filter(run=run).count() == 0
    writer.retry_at = 0.0
    writer.write("second line\n")
    writer.close()  # refused once more, then stored
    assert read_log(run, "plan")[0] == b"first line\nsecond line\n"
