"""The configuration of the Kamailio that Yuntong runs as its SIP edge (registrar and proxy).

Kamailio keeps SIP: transactions, registrations (in its memory, usrloc), dialogs, parallel and
serial forking, and the headers of the edge (P-Asserted-Identity, Privacy, Diversion). It decides
nothing itself: for every credential it asks Yuntong for the HA1 (cached a short while), for
every new call and every failed branch it asks Yuntong where to go (``/internal/sip/route``),
and it reports answers and ends (``/internal/sip/event``). Yuntong is the control plane: numbers,
barring, do-not-disturb, busy, forwarding and caller-ID rules, records and charges stay in one
place for browsers and phones alike (docs/sip.md).

Both the SIP ports and the control FIFO are bound to ``sip_host`` (loopback by default); the
HTTP calls carry a secret made at every start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KAMAILIO_MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")


@dataclass(frozen=True)
class TrunkPeer:
    """A carrier's SIP trunk as the edge sees it: calls from (host, port) are the carrier's."""

    code: str
    host: str
    port: int
    transport: str = "udp"


@dataclass(frozen=True)
class EdgeConfig:
    directory: Path
    host: str  # the address SIP listens on
    port: int  # UDP and TCP
    tls_port: int | None  # None: no TLS
    domain: str  # the SIP domain and digest realm
    control_url: str  # http://edge:PASSWORD@127.0.0.1:PORT/internal/sip
    trunks: tuple[TrunkPeer, ...] = ()
    children: int = 4
    ha1_cache_s: int = 30
    tls_cert: Path | None = None
    tls_key: Path | None = None


def write_kamailio_config(config: EdgeConfig) -> Path:
    """Write ``kamailio.cfg`` (and ``tls.cfg``) into the directory, mode 0600; return its path."""
    config.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = {"kamailio.cfg": render(config)}
    if config.tls_port is not None and config.tls_cert and config.tls_key:
        files["tls.cfg"] = (
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
            f"require_certificate = no\nprivate_key = {config.tls_key}\n"
            f"certificate = {config.tls_cert}\n\n"
            "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
        )
    for name, text in files.items():
        path = config.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
    return config.directory / "kamailio.cfg"


def _trunk_checks(trunks: tuple[TrunkPeer, ...]) -> str:
    lines = []
    for trunk in trunks:
        lines.append(
            f'    if ($si == "{trunk.host}" && $sp == {trunk.port}) '
            f'{{ $var(source) = "trunk:{trunk.code}"; return; }}'
        )
    return "\n".join(lines) or "    return;"  # Kamailio refuses an empty route block


def render(c: EdgeConfig) -> str:
    tls = c.tls_port is not None and c.tls_cert is not None and c.tls_key is not None
    listen = [f"listen=udp:{c.host}:{c.port}", f"listen=tcp:{c.host}:{c.port}"]
    if tls:
        listen.append(f"listen=tls:{c.host}:{c.tls_port}")
    tls_lines = (
        f'loadmodule "tls.so"\nmodparam("tls", "config", "{c.directory}/tls.cfg")\n' if tls else ""
    )
    return _HEADER.format(
        listen="\n".join(listen),
        tls_enable="yes" if tls else "no",
        children=c.children,
        modules=KAMAILIO_MODULES,
        tls_module=tls_lines,
        fifo=c.directory / "kamailio_rpc.fifo",
        fifo_dir=c.directory,
        control=c.control_url,
        domain=c.domain,
        ha1_cache_s=c.ha1_cache_s,
        host=c.host,
    ) + _ROUTES.replace("@@TRUNKS@@", _trunk_checks(c.trunks)).replace("@@DOMAIN@@", c.domain)


_HEADER = """#!KAMAILIO
#!define FORM "application/x-www-form-urlencoded"
# Written by Yuntong at every start (yuntong.sip.kamailio_config): do not edit.
debug=2
log_stderror=yes
log_facility=LOG_LOCAL0
fork=yes
children={children}
tcp_children={children}
auto_aliases=no
alias="{domain}"
{listen}
enable_tls={tls_enable}
tcp_connection_lifetime=3605
server_header="Server: Yuntong SIP edge"
user_agent_header="User-Agent: Yuntong SIP edge"
mpath="{modules}"

loadmodule "jsonrpcs.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "htable.so"
loadmodule "http_client.so"
loadmodule "jansson.so"
loadmodule "dialog.so"
loadmodule "uac.so"
loadmodule "pike.so"
{tls_module}
modparam("jsonrpcs", "transport", 2)
modparam("jsonrpcs", "fifo_name", "{fifo}")
modparam("jsonrpcs", "fifo_reply_dir", "{fifo_dir}/")
modparam("tm", "fr_timer", 10000)
modparam("tm", "fr_inv_timer", 60000)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 30)
modparam("registrar", "max_contacts", 10)
modparam("registrar", "realm_prefix", "")
modparam("http_client", "httpcon", "yt=>{control}")
modparam("http_client", "connection_timeout", 3)
modparam("http_client", "keep_connections", 1)
modparam("http_client", "query_result", 0)
modparam("htable", "htable", "ha1=>size=10;autoexpire={ha1_cache_s};")
modparam("dialog", "default_timeout", 43200)
modparam("dialog", "send_bye", 1)
modparam("dialog", "timeout_avp", "$avp(dlg_timeout)")
modparam("dialog", "dlg_match_mode", 1)
modparam("uac", "restore_mode", "auto")
modparam("uac", "restore_dlg", 1)
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", 60)
modparam("pike", "remove_latency", 4)
"""

# The script. @@TRUNKS@@ becomes one source check per configured trunk.
_ROUTES = r"""
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (!sanity_check("17895", "7")) {
        xlog("L_WARN", "malformed request from $si:$sp\n");
        exit;
    }
    $var(source) = "";
    route(SOURCE);
    if ($var(source) == "" && !pike_check_req()) {
        exit;
    }
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (has_totag()) {
        route(WITHINDLG);
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (!is_method("ACK")) {
        if (t_precheck_trans()) {
            t_check_trans();
            exit;
        }
        t_check_trans();
    }
    if (is_method("REGISTER")) {
        route(REGISTER);
        exit;
    }
    if (is_method("ACK")) {
        exit;
    }
    if (!is_method("INVITE")) {
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }
    if ($var(source) == "") {
        route(AUTH_CALL);
    } else {
        $var(caller) = $fU;
    }
    record_route();
    $avp(t0) = $TV(Sn);
    $var(q) = "call_id=" + $(ci{s.escape.param}) + "&source=" + $var(source)
        + "&caller=" + $(var(caller){s.escape.param}) + "&to=" + $(rU{s.escape.param})
        + "&from_user=" + $(fU{s.escape.param})
        + "&from_display=" + $(fn{s.escape.param})
        + "&privacy=" + $(hdr(Privacy){s.escape.param})
        + "&pai=" + $(hdr(P-Asserted-Identity){s.escape.param})
        + "&diversion=" + $(hdr(Diversion){s.escape.param})
        + "&sdp=" + $(rb{s.encode.hexa}) + "&t0=" + $avp(t0);
    route(ASK);
}

route[SOURCE] {
@@TRUNKS@@
}

route[WITHINDLG] {
    if (uri == myself && $rU == "yuntong-media") {
        # a dialog the edge answered itself (action "answer": media served by Janus)
        if (is_method("BYE")) {
            $var(q) = "call_id=" + $(ci{s.escape.param}) + "&event=ended&at=" + $TV(Sn)
                + "&by=" + $(fU{s.escape.param});
            http_connect("yt", "/event", FORM, "$var(q)", "$var(res)");
            sl_send_reply("200", "OK");
        } else if (is_method("ACK")) {
            t_check_trans();  # matches the ACK to the 200 OK: its retransmissions stop
        } else {
            sl_send_reply("200", "OK");
        }
        exit;
    }
    if (loose_route()) {
        if (is_method("BYE")) {
            setflag(1);
        }
        t_relay();
        exit;
    }
    if (is_method("ACK")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    sl_send_reply("404", "Not here");
}

route[HA1] {
    if ($sht(ha1=>$au) != $null) {
        $var(ha1) = $sht(ha1=>$au);
    } else {
        $var(ha1) = "x";
        $var(rc) = http_connect("yt", "/ha1?user=$(au{s.escape.param})", "$var(res)");
        if ($var(rc) == 200) {
            jansson_get("ha1", "$var(res)", "$var(ha1)");
            $sht(ha1=>$au) = $var(ha1);
        } else if ($var(rc) == 404) {
            xlog("L_NOTICE", "credentials: no account $au\n");
        } else {
            xlog("L_ERR", "credentials: control answered $var(rc) for $au\n");
            sl_send_reply("503", "Service Unavailable");
            exit;
        }
    }
}

route[REGISTER] {
    if (!is_present_hf("Authorization")) {
        www_challenge("@@DOMAIN@@", "0");
        exit;
    }
    route(HA1);
    if (!pv_www_authenticate("@@DOMAIN@@", "$var(ha1)", "1")) {
        xlog("L_NOTICE", "register: wrong credentials for $au from $si\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }
    if ($tU != $au) {
        sl_send_reply("403", "Forbidden");
        exit;
    }
    consume_credentials();
    if (!save("location")) {
        sl_reply_error();
    }
}

route[AUTH_CALL] {
    if (!is_present_hf("Proxy-Authorization")) {
        proxy_challenge("@@DOMAIN@@", "0");
        exit;
    }
    route(HA1);
    if (!pv_proxy_authenticate("@@DOMAIN@@", "$var(ha1)", "1")) {
        xlog("L_NOTICE", "invite: wrong credentials for $au from $si\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }
    $var(caller) = $au;
    consume_credentials();
}

# Ask Yuntong where the call goes ($var(q): the form it is told); act on the answer
route[ASK] {
    $var(rc) = http_connect("yt", "/route", FORM, "$var(q)", "$var(res)");
    if ($var(rc) != 200) {
        xlog("L_ERR", "route: control answered $var(rc) for $ci\n");
        send_reply("503", "Service Unavailable");
        exit;
    }
    $var(action) = "";
    jansson_get("action", "$var(res)", "$var(action)");
    if ($var(action) == "answer") {
        route(ANSWER);
        exit;
    }
    if ($var(action) != "route") {
        jansson_get("code", "$var(res)", "$var(code)");
        jansson_get("reason", "$var(res)", "$var(reason)");
        send_reply("$var(code)", "$var(reason)");
        exit;
    }
    route(APPLY);
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}

# Set up a branch as the answer says: target, caller identity, privacy, diversion, timer
route[APPLY] {
    # $var lives on in this worker between messages: clear what the answer may leave out
    $var(ruri) = ""; $var(dst) = ""; $var(lookup) = ""; $var(ring_s) = "";
    $var(from_uri) = ""; $var(from_display) = ""; $var(pai) = ""; $var(privacy) = "";
    $var(diversion) = "";
    jansson_get("ruri", "$var(res)", "$var(ruri)");
    jansson_get("dst", "$var(res)", "$var(dst)");
    jansson_get("lookup", "$var(res)", "$var(lookup)");
    jansson_get("ring_s", "$var(res)", "$var(ring_s)");
    jansson_get("from_uri", "$var(res)", "$var(from_uri)");
    jansson_get("from_display", "$var(res)", "$var(from_display)");
    jansson_get("pai", "$var(res)", "$var(pai)");
    jansson_get("privacy", "$var(res)", "$var(privacy)");
    jansson_get("diversion", "$var(res)", "$var(diversion)");
    $var(max_s) = "";
    jansson_get("max_s", "$var(res)", "$var(max_s)");
    $ru = $var(ruri);
    if ($var(lookup) == "1") {
        if (!lookup("location")) {
            # not registered: Yuntong decides (not reachable forwarding, or 480)
            $var(q) = "call_id=" + $(ci{s.escape.param}) + "&stage=failure&code=480&unregistered=1";
            $var(rc) = http_connect("yt", "/route", FORM, "$var(q)", "$var(res)");
            $var(action) = "";
            jansson_get("action", "$var(res)", "$var(action)");
            if ($var(rc) == 200 && $var(action) == "route") {
                route(APPLY);
                return;
            }
            jansson_get("code", "$var(res)", "$var(code)");
            jansson_get("reason", "$var(res)", "$var(reason)");
            if ($var(rc) != 200) {
                $var(code) = 480;
                $var(reason) = "Temporarily Unavailable";
            }
            send_reply("$var(code)", "$var(reason)");
            exit;
        }
    }
    if ($var(dst) != "") {
        $du = $var(dst);
    }
    remove_hf("P-Asserted-Identity");
    remove_hf("Privacy");
    if ($var(pai) != "") {
        append_hf("P-Asserted-Identity: $var(pai)\r\n");
    }
    if ($var(privacy) != "") {
        append_hf("Privacy: $var(privacy)\r\n");
    }
    if ($var(diversion) != "") {
        remove_hf("Diversion");
        append_hf("Diversion: $var(diversion)\r\n");
    }
    if ($var(from_uri) != "" && $var(from_uri) != $fu) {
        uac_replace_from("$var(from_display)", "$var(from_uri)");
    }
    if ($var(ring_s) != "") {
        t_set_fr($(var(ring_s){s.int}) * 1000, 5000);
    }
    if (!is_known_dlg()) {
        if ($var(max_s) != "") {
            # prepaid credit: the edge ends the call (BYE to both sides) when it runs out
            $avp(dlg_timeout) = $(var(max_s){s.int});
        }
        dlg_manage();
        $dlg_var(t0) = $avp(t0);
    }
    t_on_reply("REPLY");
    t_on_failure("FAILED");
}

# Yuntong answers the call itself with the SDP it gives (media served by Janus, e.g. an audio
# bridge's plain-RTP participant); the dialog's BYE comes back to the edge (WITHINDLG)
route[ANSWER] {
    jansson_get("sdp", "$var(res)", "$var(sdp)");
    if (!t_newtran()) {
        sl_reply_error();
        exit;
    }
    append_to_reply("Contact: <sip:yuntong-media@$Ri:$Rp;transport=$pr>\r\n");
    set_reply_body("$var(sdp)", "application/sdp");
    t_reply("200", "OK");
    # the dialog as Yuntong needs it to hang up itself (a BYE through tm.t_uac_start)
    $var(q) = "call_id=" + $(ci{s.escape.param}) + "&event=answered&t0=" + $avp(t0)
        + "&at=" + $TV(Sn) + "&ltt=" + $ltt(t)
        + "&contact=" + $(ct{s.escape.param}) + "&from=" + $(hdr(From){s.escape.param})
        + "&to_uri=" + $(tu{s.escape.param}) + "&src=" + $si + ":" + $sp + "&proto=" + $pr;
    http_connect("yt", "/event", FORM, "$var(q)", "$var(res)");
}

onreply_route[REPLY] {
    if ($rs >= 180 && $rs < 300 && $dlg_var(pdd) == $null) {
        $var(now) = $TV(Sn);
        $dlg_var(pdd) = $var(now);
    }
}

# Every branch failed: a forwarding (busy, no reply) may take the call on, or the caller hears it
failure_route[FAILED] {
    $var(code) = $T_reply_code;
    if (t_is_canceled()) {
        $var(code) = 487;
    }
    $var(q) = "call_id=" + $(ci{s.escape.param}) + "&stage=failure&code=" + $var(code)
        + "&t0=" + $dlg_var(t0) + "&first=" + $dlg_var(pdd);
    $var(rc) = http_connect("yt", "/route", FORM, "$var(q)", "$var(res)");
    if ($var(rc) != 200 || t_is_canceled()) {
        exit;
    }
    $var(action) = "";
    jansson_get("action", "$var(res)", "$var(action)");
    if ($var(action) == "route") {
        route(APPLY);
        t_relay();
    }
}

# A final answer to an INVITE Yuntong sent through the edge (a conference's dial-out, its
# Call-ID begins "yt-out-"), each retransmission too (each is ACKed): reported with the
# callee's SDP, contact and To-tag. Replies to local requests pass the main onreply_route.
onreply_route {
    if ($(ci{s.substr,0,7}) == "yt-out-" && is_method("INVITE") && $rs >= 200) {
        $var(q) = "call_id=" + $(ci{s.escape.param}) + "&event=dialled&code=" + $rs
            + "&to_tag=" + $(tt{s.escape.param}) + "&contact=" + $(ct{s.escape.param})
            + "&src=" + $si + ":" + $sp + "&proto=" + $pr + "&at=" + $TV(Sn)
            + "&sdp=" + $(rb{s.encode.hexa});
        http_connect("yt", "/event", FORM, "$var(q)", "$var(res)");
    }
}

event_route[dialog:start] {
    $var(q) = "call_id=" + $(dlg(callid){s.escape.param}) + "&event=answered&t0=" + $dlg_var(t0)
        + "&first=" + $dlg_var(pdd) + "&at=" + $TV(Sn);
    http_connect("yt", "/event", FORM, "$var(q)", "$var(res)");
}

event_route[dialog:end] {
    $var(q) = "call_id=" + $(dlg(callid){s.escape.param}) + "&event=ended&at=" + $TV(Sn)
        + "&by=" + $(dlg(from_uri){s.escape.param}) + "&answered=" + $dlg(start_ts);
    http_connect("yt", "/event", FORM, "$var(q)", "$var(res)");
}
"""
