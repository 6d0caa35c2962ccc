"""The SIP plugin in the configuration of the Janus a node runs: loaded only with a SIP edge,
on the SIP host, never behind NAT, its plain-RTP ports inside Janus's own range."""

from __future__ import annotations

from pathlib import Path

from yuntong.media.janus_config import (
    SipGatewayConfig,
    sip_local_ip,
    sip_rtp_range,
    write_janus_config,
)


def write(directory: Path, lib: Path, sip: SipGatewayConfig | None) -> Path:
    return write_janus_config(
        directory,
        ws_port=18188,
        admin_port=17188,
        admin_secret="a",
        videoroom_admin_key="k",
        rtp_range=(20000, 20999),
        lib_dir=lib,
        sip=sip,
    )


def plugins_lib(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    (lib / "plugins").mkdir(parents=True)
    for name in ("libjanus_videoroom.so", "libjanus_sip.so", "libjanus_echotest.so"):
        (lib / "plugins" / name).touch()
    return lib


def test_the_sip_plugin_is_loaded_and_configured_only_with_a_sip_edge(tmp_path: Path) -> None:
    lib = plugins_lib(tmp_path)
    core = write(tmp_path / "with", lib, SipGatewayConfig(local_ip="192.0.2.10")).read_text()
    disabled = core.split("plugins: {", 1)[1].split("}", 1)[0]
    assert "libjanus_sip.so" not in disabled and "libjanus_echotest.so" in disabled
    sip = (tmp_path / "with" / "janus.plugin.sip.jcfg").read_text()
    assert 'local_ip = "192.0.2.10"' in sip
    assert "behind_nat = false" in sip
    assert 'rtp_port_range = "20750-20999"' in sip
    assert 'user_agent = "Yuntong WebRTC gateway"' in sip

    core = write(tmp_path / "without", lib, None).read_text()
    assert "libjanus_sip.so" in core.split("plugins: {", 1)[1].split("}", 1)[0]
    assert not (tmp_path / "without" / "janus.plugin.sip.jcfg").exists()


def test_the_plugins_rtp_ports_are_inside_janus_range() -> None:
    for low, high in ((20000, 20999), (30000, 30199), (40000, 40003)):
        first, last = sip_rtp_range((low, high))
        assert low < first < last == high


def test_an_edge_on_every_interface_is_reached_over_loopback() -> None:
    assert sip_local_ip("0.0.0.0") == "127.0.0.1"
    assert sip_local_ip("::") == "127.0.0.1"
    assert sip_local_ip("192.0.2.10") == "192.0.2.10"
