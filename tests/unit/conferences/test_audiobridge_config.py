"""The Janus Yuntong runs loads the AudioBridge beside the VideoRoom: rooms made only with the
node's admin key, plain-RTP participants on the given address and the node's RTP ports."""

from __future__ import annotations

from pathlib import Path

from yuntong.media.janus_config import write_janus_config


def test_the_audiobridge_is_loaded_with_an_admin_key_and_plain_rtp_ports(tmp_path: Path) -> None:
    plugins = tmp_path / "lib" / "plugins"
    plugins.mkdir(parents=True)
    for name in ("libjanus_videoroom.so", "libjanus_audiobridge.so", "libjanus_sip.so"):
        (plugins / name).touch()
    write_janus_config(
        tmp_path / "conf",
        ws_port=8188,
        admin_port=7188,
        admin_secret="admin",
        videoroom_admin_key="key-1",
        rtp_range=(20000, 20099),
        lib_dir=tmp_path / "lib",
        rtp_ip="192.0.2.5",
    )
    core = (tmp_path / "conf" / "janus.jcfg").read_text()
    assert 'disable = "libjanus_sip.so"' in core  # only the two room plugins load
    bridge = (tmp_path / "conf" / "janus.plugin.audiobridge.jcfg").read_text()
    assert 'admin_key = "key-1"' in bridge
    assert 'local_ip = "192.0.2.5"' in bridge
    assert 'rtp_port_range = "20000-20099"' in bridge
    assert (tmp_path / "conf" / "janus.plugin.audiobridge.jcfg").stat().st_mode & 0o077 == 0
