// ICE configuration shared by calls and meetings: the STUN/TURN servers and the transport policy.

import { get } from '../api.js';

/** iceTransportPolicy "relay" when the page URL has ?relay=1 or the page set it globally. */
export function icePolicy() {
  const relay = new URLSearchParams(location.search).get('relay') === '1'
    || window.YUNTONG_ICE_POLICY === 'relay';
  return relay ? 'relay' : 'all';
}

/** An RTCPeerConnection configuration with the servers GET /ice-servers hands this user. */
export async function rtcConfig() {
  const { ice_servers: iceServers } = await get('/ice-servers');
  return { iceServers, iceTransportPolicy: icePolicy() };
}
