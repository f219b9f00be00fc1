// Data channels with mediasoup-client: produceData / consumeData against
// Troupe's data producer and consumer API.
import { Device } from 'mediasoup-client';
import { api, wireConnect } from './api.js';

// Data channels: a send transport with SCTP carries this page's data
// producers, a receive transport its data consumers (each made on first use).
const data = { device: null, routerId: null, send: null, recv: null, producers: [], consumers: [] };

async function dataDevice(routerId) {
  if (data.device && data.routerId === routerId) return data.device;
  const router = await api('GET', `/v1/routers/${routerId}`);
  data.device = new Device();
  await data.device.load({ routerRtpCapabilities: router.rtpCapabilities });
  data.routerId = routerId;
  return data.device;
}

async function dataTransport(routerId, direction) {
  if (data[direction]) return data[direction];
  const device = await dataDevice(routerId);
  const params = await api('POST', `/v1/routers/${routerId}/webrtc-transports`, {
    enableSctp: true,
    numSctpStreams: device.sctpCapabilities.numStreams,
  });
  const transport = direction === 'send'
    ? device.createSendTransport(params)
    : device.createRecvTransport(params);
  wireConnect(transport, params.id);
  if (direction === 'send') {
    transport.on('producedata', ({ sctpStreamParameters, label, protocol, appData }, callback, errback) => {
      api('POST', `/v1/transports/${params.id}/data-producers`, { sctpStreamParameters, label, protocol, appData })
        .then(({ id }) => callback({ id }), errback);
    });
  }
  data[direction] = transport;
  return transport;
}

/// Opens a data channel into the room (mediasoup-client's produceData);
/// `ordered` / `maxRetransmits` / `maxPacketLifeTime` as the browser takes them.
export async function produceData({ routerId, label = 'chat', protocol = '', ...reliability }) {
  const transport = await dataTransport(routerId, 'send');
  const producer = await transport.produceData({ label, protocol, ...reliability });
  await new Promise((resolve) => {
    if (producer.readyState === 'open') resolve();
    else producer.on('open', resolve);
  });
  data.producers.push(producer);
  return { id: producer.id, label: producer.label, protocol: producer.protocol, index: data.producers.length - 1 };
}

/// Sends on this page's n-th data producer: a string, or bytes given as
/// `{ bytes: length }` (a fixed pattern the receiver can check).
export function sendData(index, message) {
  const producer = data.producers[index];
  if (typeof message === 'string') producer.send(message);
  else producer.send(patternBytes(message.bytes));
}

function patternBytes(length) {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (i * 7 + 3) % 251;
  return bytes;
}

function describeMessage(message) {
  if (typeof message === 'string') return { type: 'string', text: message };
  const bytes = new Uint8Array(message);
  const expected = patternBytes(bytes.length);
  return { type: 'binary', length: bytes.length, intact: bytes.every((b, i) => b === expected[i]) };
}

/// Receives a data producer's messages (mediasoup-client's consumeData);
/// they are kept for `dataReceived()` and passed to `onMessage`.
export async function consumeData({ routerId, dataProducerId, onMessage, ...reliability }) {
  const transport = await dataTransport(routerId, 'recv');
  const info = await api('POST', `/v1/transports/${transport.id}/data-consumers`, { dataProducerId, ...reliability });
  const consumer = await transport.consumeData({
    id: info.id,
    dataProducerId: info.dataProducerId,
    sctpStreamParameters: info.sctpStreamParameters,
    label: info.label,
    protocol: info.protocol,
  });
  consumer.binaryType = 'arraybuffer';
  const entry = { id: consumer.id, label: consumer.label, protocol: consumer.protocol, messages: [], closed: false };
  consumer.on('message', (message) => {
    entry.messages.push(describeMessage(message));
    onMessage?.(message, consumer);
  });
  consumer.observer.on('close', () => { entry.closed = true; });
  data.consumers.push({ consumer, entry });
  return { id: info.id, sctpStreamParameters: info.sctpStreamParameters, label: info.label, protocol: info.protocol };
}

export function dataReceived() {
  return data.consumers.map(({ entry }) => entry);
}

