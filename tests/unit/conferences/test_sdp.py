"""The SDP of a phone dialling in: where it listens and the first codec the bridge mixes; the
answer that points it at the bridge."""

from __future__ import annotations

from yuntong.conferences.sdp import AudioOffer, answer, parse_offer

DESK_PHONE = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 18 8 0 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
)


def test_the_first_codec_the_bridge_mixes_is_chosen() -> None:
    assert parse_offer(DESK_PHONE) == AudioOffer("192.0.2.10", 40000, "pcma", 8)


def test_opus_is_taken_with_its_dynamic_payload_type_and_the_media_address() -> None:
    offer = (
        "v=0\nc=IN IP4 192.0.2.1\nt=0 0\nm=video 5000 RTP/AVP 96\n"
        "m=audio 6000 RTP/AVP 111\nc=IN IP4 198.51.100.7\na=rtpmap:111 opus/48000/2\n"
    )
    assert parse_offer(offer) == AudioOffer("198.51.100.7", 6000, "opus", 111)


def test_an_offer_without_a_codec_the_bridge_mixes_or_without_audio_is_refused() -> None:
    assert parse_offer(DESK_PHONE.replace(" 8 0 101", " 101")) is None
    assert parse_offer("v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 5000 RTP/AVP 96\r\n") is None
    assert parse_offer("") is None


def test_the_answer_points_the_phone_at_the_bridge_in_20_ms_frames() -> None:
    text = answer("203.0.113.5", 20002, "pcmu", 0)
    lines = text.split("\r\n")
    assert "c=IN IP4 203.0.113.5" in lines
    assert "m=audio 20002 RTP/AVP 0" in lines
    assert "a=rtpmap:0 PCMU/8000" in lines and "a=ptime:20" in lines
    assert text.endswith("\r\n")
