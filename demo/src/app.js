// Troupe's demo: publish a camera and microphone into a room, or watch a
// room, with the real mediasoup-client talking to Troupe's HTTP API.
// Also exposes `window.troupeDemo` for the browser end-to-end tests.
import { Device } from 'mediasoup-client';
import { api, wireConnect } from './api.js';
import { startChat } from './chat.js';
import { followSpeaker, observeSpeaker } from './speaker.js';

export { produceData, sendData, consumeData, dataReceived } from './data_channels.js';

function transportOptions({ tcp }) {
  return tcp ? { enableUdp: false, enableTcp: true } : {};
}

function withoutTransportCc(capabilities) {
  const transportCc = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
  return {
    ...capabilities,
    codecs: capabilities.codecs.map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type !== 'transport-cc') })),
    headerExtensions: capabilities.headerExtensions.filter((e) => e.uri !== transportCc),
  };
}

const state = { producers: [], consumers: [], sendTransport: null, recvTransport: null };

// `video` picks the camera size; `encodings` (simulcast, or one encoding
// with a `scalabilityMode` for SVC) and `codec` (a mime type) are passed to
// mediasoup-client's produce() as an app would.
// `remb` leaves transport-cc out of what the browser may use, as a client
// without it would (the server then estimates and sends REMB);
// `maxIncomingBitrate` caps what the server lets the browser send.
export async function publish({
  routerId, tcp = false, tamperFingerprint = false,
  video = { width: 320, height: 240 }, encodings, codec, remb = false, maxIncomingBitrate,
} = {}) {
  const router = routerId
    ? await api('GET', `/v1/routers/${routerId}`)
    : await api('POST', '/v1/routers', {});
  const device = new Device();
  const routerRtpCapabilities = remb ? withoutTransportCc(router.rtpCapabilities) : router.rtpCapabilities;
  await device.load({ routerRtpCapabilities });
  const params = await api('POST', `/v1/routers/${router.id}/webrtc-transports`, transportOptions({ tcp }));
  if (maxIncomingBitrate !== undefined) {
    await api('POST', `/v1/transports/${params.id}/max-incoming-bitrate`, { bitrate: maxIncomingBitrate });
  }
  const transport = device.createSendTransport(params);
  state.sendTransport = transport;
  wireConnect(transport, params.id, { tamper: tamperFingerprint });
  transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
    api('POST', `/v1/transports/${params.id}/producers`, { kind, rtpParameters, appData })
      .then(({ id }) => callback({ id }), errback);
  });
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
  const preview = document.getElementById('local');
  if (preview) preview.srcObject = stream;
  for (const track of stream.getTracks()) {
    const options = { track };
    if (track.kind === 'video') {
      if (encodings) options.encodings = encodings;
      if (codec) options.codec = device.rtpCapabilities.codecs.find((c) => c.mimeType.toLowerCase() === codec.toLowerCase());
    }
    state.producers.push(await transport.produce(options));
  }
  return { routerId: router.id, transportId: params.id, producerIds: state.producers.map((p) => p.id) };
}

// One tile per publisher (its send transport) holding its video and audio,
// so the page can mark who is speaking.
const tiles = new Map();
const tileOfProducer = new Map();

async function tileOf(producerId) {
  const remote = document.getElementById('remote');
  if (!remote) return null;
  const { transportId } = await api('GET', `/v1/producers/${producerId}`);
  let tile = tiles.get(transportId);
  if (!tile) {
    tile = document.createElement('div');
    tile.className = 'tile';
    remote.appendChild(tile);
    tiles.set(transportId, tile);
  }
  tileOfProducer.set(producerId, tile);
  return tile;
}

function markSpeaking(producerId) {
  for (const tile of tiles.values()) tile.classList.remove('speaking');
  tileOfProducer.get(producerId)?.classList.add('speaking');
}

async function consumeOne(device, transport, producerId, preferredLayers) {
  const info = await api('POST', `/v1/transports/${transport.id}/consumers`, {
    producerId,
    rtpCapabilities: device.recvRtpCapabilities ?? device.rtpCapabilities,
    paused: true,
  });
  const consumer = await transport.consume({
    id: info.id,
    producerId: info.producerId,
    kind: info.kind,
    rtpParameters: info.rtpParameters,
  });
  state.consumers.push(consumer);
  const element = document.createElement(consumer.kind === 'video' ? 'video' : 'audio');
  element.autoplay = true;
  element.playsInline = true;
  element.muted = consumer.kind === 'audio' ? false : true;
  element.srcObject = new MediaStream([consumer.track]);
  (await tileOf(producerId))?.appendChild(element);
  if (preferredLayers && consumer.kind === 'video') {
    await api('POST', `/v1/consumers/${info.id}/preferred-layers`, preferredLayers);
  }
  await api('POST', `/v1/consumers/${info.id}/resume`);
  return consumer;
}

export async function watch({ routerId, tcp = false, preferredLayers } = {}) {
  const router = await api('GET', `/v1/routers/${routerId}`);
  const device = new Device();
  await device.load({ routerRtpCapabilities: router.rtpCapabilities });
  const params = await api('POST', `/v1/routers/${routerId}/webrtc-transports`, transportOptions({ tcp }));
  const transport = device.createRecvTransport(params);
  state.recvTransport = transport;
  wireConnect(transport, params.id);
  const consumed = new Set();
  const consumeNew = async (producerIds) => {
    for (const producerId of producerIds) {
      if (consumed.has(producerId)) continue;
      consumed.add(producerId);
      await consumeOne(device, transport, producerId, preferredLayers);
    }
  };
  await consumeNew(Object.keys(router.mapProducerIdConsumerIds));
  // Producers that arrive later are announced on the events socket.
  const events = new WebSocket(`${location.origin.replace('http', 'ws')}/v1/events?routerId=${routerId}`);
  events.onmessage = (message) => {
    const n = JSON.parse(message.data);
    if (n.event === 'newproducer') consumeNew([n.data.producerId]).catch(console.error);
  };
  return { transportId: params.id, consumerIds: state.consumers.map((c) => c.id) };
}

/// What the receivers decoded so far and how it looks, as the browser
/// reports it, for tests and the page's status line. Only each consumer's
/// own stream (by SSRC): the receive transport also gets Troupe's probes.
export async function receiveStats() {
  const out = { framesDecoded: 0, audioPacketsReceived: 0, consumers: [] };
  for (const consumer of state.consumers) {
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    const report = await consumer.getStats();
    for (const s of report.values()) {
      if (s.type !== 'inbound-rtp' || (ssrc && s.ssrc !== ssrc)) continue;
      if (s.kind === 'video') out.framesDecoded += s.framesDecoded ?? 0;
      if (s.kind === 'audio') out.audioPacketsReceived += s.packetsReceived ?? 0;
      out.consumers.push({
        id: consumer.id,
        kind: s.kind,
        framesDecoded: s.framesDecoded ?? 0,
        packetsReceived: s.packetsReceived ?? 0,
        bytesReceived: s.bytesReceived ?? 0,
        frameWidth: s.frameWidth ?? 0,
        frameHeight: s.frameHeight ?? 0,
        framesPerSecond: s.framesPerSecond ?? 0,
        freezeCount: s.freezeCount ?? 0,
        totalFreezesDuration: s.totalFreezesDuration ?? 0,
        keyFramesDecoded: s.keyFramesDecoded ?? 0,
        nackCount: s.nackCount ?? 0,
        pliCount: s.pliCount ?? 0,
        packetsLost: s.packetsLost ?? 0,
      });
    }
  }
  return out;
}

/// What the publishing browser says about its own sending: Chrome's
/// congestion-controller estimate, and per encoding what it sends and why
/// it holds back.
export async function publishStats() {
  const out = { availableOutgoingBitrate: 0, layers: [] };
  const report = await state.sendTransport.getStats();
  for (const s of report.values()) {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      out.availableOutgoingBitrate = Math.max(out.availableOutgoingBitrate, s.availableOutgoingBitrate ?? 0);
    }
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.layers.push({
        rid: s.rid ?? null,
        ssrc: s.ssrc,
        frameWidth: s.frameWidth ?? 0,
        frameHeight: s.frameHeight ?? 0,
        framesPerSecond: s.framesPerSecond ?? 0,
        targetBitrate: s.targetBitrate ?? 0,
        bytesSent: s.bytesSent ?? 0,
        qualityLimitationReason: s.qualityLimitationReason ?? null,
        scalabilityMode: s.scalabilityMode ?? null,
        encoderImplementation: s.encoderImplementation ?? null,
      });
    }
  }
  out.layers.sort((a, b) => a.frameWidth - b.frameWidth);
  return out;
}

/// Mutes or unmutes this page's microphone the way a call app does: the
/// track stays, and the browser sends silence.
export function setMicrophone(enabled) {
  for (const producer of state.producers) {
    if (producer.kind === 'audio' && producer.track) producer.track.enabled = enabled;
  }
}

export function connectionStates() {
  return {
    send: state.sendTransport?.connectionState,
    recv: state.recvTransport?.connectionState,
  };
}

// The chat box: joins the room's chat once the page publishes or watches.
async function openChat(routerId) {
  const box = document.getElementById('chat');
  if (!box) return;
  const log = box.querySelector('.log');
  const input = box.querySelector('input');
  const name = `guest-${Math.random().toString(36).slice(2, 6)}`;
  const chat = await startChat({
    routerId,
    name,
    onMessage: ({ from, text, own }) => {
      const line = document.createElement('div');
      line.textContent = `${own ? 'me' : from}: ${text}`;
      log.appendChild(line);
      log.scrollTop = log.scrollHeight;
    },
  });
  box.hidden = false;
  box.querySelector('form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value.trim()) chat.send(input.value.trim());
    input.value = '';
  });
}

async function start() {
  const status = document.getElementById('status');
  const routerId = new URLSearchParams(location.search).get('room');
  const tcp = new URLSearchParams(location.search).get('tcp') === '1';
  const say = (text) => { if (status) status.textContent = text; };
  document.getElementById('publish')?.addEventListener('click', async () => {
    try {
      // As mediasoup-demo publishes a webcam: 720p in three simulcast
      // streams, so each watcher can get the one it can take.
      const { routerId: id } = await publish({
        routerId,
        tcp,
        video: { width: 1280, height: 720 },
        encodings: [
          { scaleResolutionDownBy: 4, maxBitrate: 500000 },
          { scaleResolutionDownBy: 2, maxBitrate: 1000000 },
          { scaleResolutionDownBy: 1, maxBitrate: 5000000 },
        ],
      });
      const audio = state.producers.find((p) => p.kind === 'audio');
      if (audio) await observeSpeaker(id, audio.id);
      if (!routerId) await openChat(id);
      const link = `${location.origin}${location.pathname}?room=${id}`;
      say('Publishing. Watch from another tab: ');
      const a = document.createElement('a');
      a.href = link;
      a.textContent = link;
      status.appendChild(a);
    } catch (e) {
      say(`Cannot publish: ${e.message}`);
    }
  });
  if (routerId) {
    try {
      await watch({ routerId, tcp });
      await followSpeaker(routerId, markSpeaking);
      await openChat(routerId);
      say(`Watching room ${routerId}.`);
      setInterval(async () => {
        const s = await receiveStats();
        const video = s.consumers.find((c) => c.kind === 'video');
        const picture = video ? `${video.frameWidth}x${video.frameHeight} at ${video.framesPerSecond} fps, ` : '';
        say(`Watching room ${routerId}: ${picture}${s.framesDecoded} video frames decoded, ${s.audioPacketsReceived} audio packets.`);
      }, 1000);
    } catch (e) {
      say(`Cannot watch: ${e.message}`);
    }
  }
}

if (typeof document !== 'undefined' && document.getElementById('status')) {
  start();
}
