"""Property-based tests of the frame parser in examples/chat/utils.py.

These are unit tests of utils (the only chat tests that import it): hypothesis
feeds read_frame() and decode_message() streams and payloads of every shape, split
at every place, and checks that they give back what was sent or refuse it with a
ProtocolError, never anything else.
"""

import asyncio
import importlib.util
import itertools
import json
import struct

import pytest
from conftest import ROOT

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def load_utils():
    """examples/chat/utils.py under a name of its own (no clash with any `utils`)."""
    path = ROOT / "examples/chat/utils.py"
    spec = importlib.util.spec_from_file_location("chat_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


utils = load_utils()
LIMIT = 4096
# No deadline (a new event loop per example is slowish on a busy machine), and no
# example database: it would leave a .hypothesis folder in the repository.
fast = settings(deadline=None, database=None)

any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=20)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(any_text, json_values, max_size=5)


def read_all(stream, cuts, max_bytes=LIMIT):
    """Feed `stream` to a StreamReader in pieces cut at `cuts`; read every frame."""

    async def main():
        reader = asyncio.StreamReader()
        edges = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
        for start, end in itertools.pairwise(edges):
            reader.feed_data(stream[start:end])
        reader.feed_eof()
        payloads = []
        while (payload := await utils.read_frame(reader, max_bytes)) is not None:
            payloads.append(payload)
        return payloads

    return asyncio.run(main())


def fits(message):
    return len(utils.encode_frame(message)) - 4 <= LIMIT


@fast
@given(st.lists(json_objects.filter(fits), max_size=5), st.lists(st.integers()))
def test_frames_come_back_whole_however_the_stream_is_cut(messages, cuts):
    stream = b"".join(utils.encode_frame(message) for message in messages)
    payloads = read_all(stream, cuts)
    assert [utils.decode_message(payload) for payload in payloads] == messages


@fast
@given(json_objects.filter(fits))
def test_a_frame_is_a_little_endian_length_then_json(message):
    encoded = utils.encode_frame(message)
    (size,) = struct.unpack("<I", encoded[:4])
    assert size == len(encoded) - 4
    assert json.loads(encoded[4:].decode("utf-8")) == message


@fast
@given(st.lists(json_objects.filter(fits), min_size=1, max_size=4), st.data())
def test_a_stream_cut_short_ends_quietly_after_its_whole_frames(messages, data):
    frames = [utils.encode_frame(message) for message in messages]
    stream = b"".join(frames)
    end = data.draw(st.integers(0, len(stream) - 1))
    whole = 0  # how many frames fit entirely before the cut
    while whole < len(frames) and len(b"".join(frames[: whole + 1])) <= end:
        whole += 1
    payloads = read_all(stream[:end], [])
    assert [utils.decode_message(p) for p in payloads] == messages[:whole]


@fast
@given(st.integers(LIMIT + 1, 2**32 - 1))
def test_an_oversized_frame_is_refused_from_its_header_alone(size):
    async def main():
        reader = asyncio.StreamReader()
        reader.feed_data(struct.pack("<I", size))  # no body, and no end of stream:
        async with asyncio.timeout(1):  # reading the body would wait forever
            with pytest.raises(utils.FrameTooLarge) as refused:
                await utils.read_frame(reader, LIMIT)
        return refused.value

    refusal = asyncio.run(main())
    assert str(size) in refusal.reason


def decodes_or_refuses(payload):
    try:
        message = utils.decode_message(payload)
    except utils.ProtocolError as error:
        assert error.reason
    else:
        assert isinstance(message, dict)


@fast
@given(st.binary(max_size=200))
def test_any_payload_decodes_to_an_object_or_a_protocol_error(payload):
    decodes_or_refuses(payload)


@fast
@given(st.text(alphabet="[]{}\"':,0123456789-.eE tfnrulas\\", max_size=200))
def test_json_like_text_decodes_to_an_object_or_a_protocol_error(text):
    decodes_or_refuses(text.encode())


def accepts_or_refuses(message):
    try:
        request = utils.validate_request(message)
    except utils.ProtocolError as error:
        assert error.reason
    else:
        assert request["action"] in {"connect", "joinroom", "leaveroom", "chat"}


@fast
@given(json_objects)
def test_any_object_is_a_valid_request_or_a_protocol_error(message):
    accepts_or_refuses(message)


@fast
@given(
    st.fixed_dictionaries(
        {"action": st.sampled_from(["connect", "joinroom", "leaveroom", "chat"])},
        optional={"username": json_values, "room": json_values, "message": json_values},
    )
)
def test_requests_with_known_actions_are_checked_field_by_field(message):
    accepts_or_refuses(message)


def test_deep_nesting_and_huge_numbers_are_protocol_errors():
    for payload in (b"[" * 100_000, b"1" * 5000, b'{"a": ' + b"9" * 5000 + b"}"):
        with pytest.raises(utils.ProtocolError):
            utils.decode_message(payload)
