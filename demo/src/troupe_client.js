// troupe-client: join a Troupe room from a browser with a room token and
// nothing else (no application server). A thin layer over mediasoup-client
// and the room WebSocket (`/v1/rooms/{room}/ws`, protocol in
// docs/rooms.md): it makes the transports, publishes tracks, consumes what
// others publish, and reports the room's events.
//
//   const room = await TroupeRoom.join({ room: 'lobby', token });
//   room.addEventListener('newProducer', (e) => room.consume(e.detail.id));
//   await room.publish(track);
import { Device } from 'mediasoup-client';

const REQUEST_TIMEOUT_MS = 15000;

export class TroupeRoom extends EventTarget {
  // `origin` defaults to the page's; the token goes in the URL because a
  // browser cannot set headers on a WebSocket.
  // `name` is what to go by without a token (a loopback node needs none);
  // a token's identity wins.
  static async join({ room, token, name, origin = location.origin, forceTcp = false, dataChannels = true }) {
    const url = new URL(`/v1/rooms/${encodeURIComponent(room)}/ws`, origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('token', token);
    if (name) url.searchParams.set('name', name);
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot open ${url.pathname}: refused or unreachable`));
    });
    const self = new TroupeRoom(socket, { forceTcp, dataChannels });
    const joined = await self.request('join');
    self.peerId = joined.peerId;
    self.identity = joined.identity;
    self.room = joined.room;
    self.device = new Device();
    await self.device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
    for (const peer of joined.peers) self.peers.set(peer.id, peer);
    for (const producer of joined.producers) self.producers.set(producer.id, producer);
    for (const producer of joined.dataProducers) self.dataProducers.set(producer.id, producer);
    return self;
  }

  constructor(socket, { forceTcp, dataChannels }) {
    super();
    this.socket = socket;
    this.options = { forceTcp, dataChannels };
    this.pending = new Map();
    this.nextId = 1;
    this.peers = new Map();
    this.producers = new Map();
    this.dataProducers = new Map();
    this.consumers = new Map();
    this.sendTransport = null;
    this.recvTransport = null;
    socket.onmessage = (message) => this.onMessage(JSON.parse(message.data));
    socket.onclose = () => {
      for (const { reject } of this.pending.values()) reject(new Error('the room socket closed'));
      this.pending.clear();
      this.dispatchEvent(new CustomEvent('closed'));
    };
  }

  request(method, data = {}) {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, data }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer in ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  }

  onMessage(message) {
    if (message.id !== undefined && message.id !== null && this.pending.has(message.id)) {
      const { resolve, reject } = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) resolve(message.data);
      else reject(new Error(`${message.error.code}: ${message.error.message}`));
      return;
    }
    if (!message.notification) return;
    const { notification, data } = message;
    switch (notification) {
      case 'peerJoined': this.peers.set(data.id, data); break;
      case 'peerLeft': this.peers.delete(data.id); break;
      case 'newProducer': this.producers.set(data.id, data); break;
      case 'producerClosed': this.producers.delete(data.id); break;
      case 'newDataProducer': this.dataProducers.set(data.id, data); break;
      case 'dataProducerClosed': this.dataProducers.delete(data.id); break;
      case 'producerclose': {
        // One of our consumers lost its producer.
        const consumer = this.consumers.get(data.id);
        if (consumer) { consumer.close(); this.consumers.delete(data.id); }
        break;
      }
      default: break;
    }
    this.dispatchEvent(new CustomEvent(notification, { detail: data }));
  }

  async transport(direction) {
    const key = direction === 'send' ? 'sendTransport' : 'recvTransport';
    if (this[key]) return this[key];
    const params = await this.request('createTransport', {
      sctp: this.options.dataChannels, forceTcp: this.options.forceTcp,
    });
    const transport = direction === 'send'
      ? this.device.createSendTransport(params)
      : this.device.createRecvTransport(params);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId: params.id, dtlsParameters }).then(callback, errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.request('produce', { transportId: params.id, kind, rtpParameters, appData })
          .then(({ id }) => callback({ id }), errback);
      });
      transport.on('producedata', ({ sctpStreamParameters, label, protocol }, callback, errback) => {
        this.request('produceData', { transportId: params.id, sctpStreamParameters, label, protocol })
          .then(({ id }) => callback({ id }), errback);
      });
    }
    this[key] = transport;
    return transport;
  }

  // Publishes a track; `options` are mediasoup-client's produce() options
  // (encodings for simulcast, codec, appData).
  async publish(track, options = {}) {
    const transport = await this.transport('send');
    return transport.produce({ track, ...options });
  }

  // Receives a producer of the room; resolves with the mediasoup-client
  // consumer (its `track` goes into a <video> or <audio>).
  async consume(producerId, { preferredLayers } = {}) {
    const transport = await this.transport('recv');
    const params = await this.request('consume', {
      transportId: transport.id, producerId, rtpCapabilities: this.device.rtpCapabilities,
      ...(preferredLayers ? { preferredLayers } : {}),
    });
    const consumer = await transport.consume({
      id: params.id, producerId: params.producerId, kind: params.kind, rtpParameters: params.rtpParameters,
    });
    this.consumers.set(consumer.id, consumer);
    await this.request('resumeConsumer', { id: consumer.id });
    return consumer;
  }

  async produceData(options = {}) {
    const transport = await this.transport('send');
    return transport.produceData(options);
  }

  async consumeData(dataProducerId) {
    const transport = await this.transport('recv');
    const params = await this.request('consumeData', { transportId: transport.id, dataProducerId });
    return transport.consumeData({
      id: params.id, dataProducerId: params.dataProducerId,
      sctpStreamParameters: params.sctpStreamParameters, label: params.label, protocol: params.protocol,
    });
  }

  // Leaves the room: the server closes everything this peer made.
  async leave() {
    try { await this.request('leave'); } catch { /* closing anyway */ }
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.socket.close();
  }
}
