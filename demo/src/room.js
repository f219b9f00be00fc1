// The demo room: join a room by name with a room token (troupe-client over
// the room WebSocket), publish the camera and microphone when the token
// allows, and see everyone in the room, each tile with its name and what
// arrives of it (resolution, frames per second, bitrate).
// `window.troupeRoom` lets the end-to-end tests drive and read the page.
import { TroupeRoom } from './troupe_client.js';

const grid = document.getElementById('grid');
const status = document.getElementById('status');
const form = document.getElementById('join');
const leaveButton = document.getElementById('leave');
const say = (text) => { status.textContent = text; };

let room = null;
const tiles = new Map(); // session → { element, video, quality, consumers }
const speakers = []; // identities the room named as speaking, in order

// The room's dominant speaker gets a frame.
function markSpeaker({ session, identity }) {
  speakers.push(identity);
  for (const [id, tile] of tiles) tile.element.classList.toggle('speaking', id === session);
}

function tileFor(session, identity) {
  let tile = tiles.get(session);
  if (tile) return tile;
  const element = document.createElement('div');
  element.className = 'tile';
  element.dataset.session = session;
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = session === room?.peerId;
  video.srcObject = new MediaStream();
  const name = document.createElement('div');
  name.className = 'name';
  name.textContent = identity ?? session;
  const quality = document.createElement('div');
  quality.className = 'quality';
  element.append(video, name, quality);
  grid.append(element);
  tile = { element, video, quality, identity, consumers: new Map(), last: null };
  tiles.set(session, tile);
  return tile;
}

function dropTile(session) {
  const tile = tiles.get(session);
  if (!tile) return;
  tile.element.remove();
  tiles.delete(session);
}

async function receive(producer) {
  if (producer.session === room.peerId) return;
  const consumer = await room.consume(producer.id);
  const tile = tileFor(producer.session ?? producer.id, producer.identity);
  tile.video.srcObject.addTrack(consumer.track);
  tile.consumers.set(consumer.id, { consumer, producerId: producer.id, kind: producer.kind });
  consumer.on('trackended', () => tile.consumers.delete(consumer.id));
}

function forgetProducer(producerId) {
  for (const [session, tile] of tiles) {
    for (const [id, entry] of tile.consumers) {
      if (entry.producerId === producerId) {
        tile.video.srcObject.removeTrack(entry.consumer.track);
        tile.consumers.delete(id);
      }
    }
    if (tile.consumers.size === 0 && session !== room?.peerId) dropTile(session);
  }
}

// Each remote tile's video as the browser receives it.
async function measure() {
  for (const tile of tiles.values()) {
    const video = [...tile.consumers.values()].find((e) => e.kind === 'video');
    if (!video) continue;
    const report = await video.consumer.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const now = { at: s.timestamp, bytes: s.bytesReceived };
      const kbps = tile.last ? Math.round(((now.bytes - tile.last.bytes) * 8) / (now.at - tile.last.at)) : 0;
      tile.last = now;
      tile.stats = {
        frameWidth: s.frameWidth ?? 0, frameHeight: s.frameHeight ?? 0,
        framesPerSecond: s.framesPerSecond ?? 0, framesDecoded: s.framesDecoded ?? 0, kbps,
      };
      tile.quality.textContent = `${tile.stats.frameWidth}x${tile.stats.frameHeight} ${tile.stats.framesPerSecond} fps ${kbps} kb/s`;
    });
  }
}
setInterval(() => { measure().catch(() => {}); }, 1000);

export async function join({ name, token, me, publish = true, video = { width: 640, height: 480 } }) {
  if (room) await leave();
  say(`joining ${name}…`);
  room = await TroupeRoom.join({ room: name, token, name: me });
  room.addEventListener('newProducer', (e) => { receive(e.detail).catch((err) => say(err.message)); });
  room.addEventListener('producerClosed', (e) => forgetProducer(e.detail.id));
  room.addEventListener('peerLeft', (e) => dropTile(e.detail.id));
  room.addEventListener('activeSpeaker', (e) => markSpeaker(e.detail));
  room.addEventListener('closed', () => say('disconnected'));
  for (const producer of room.producers.values()) await receive(producer);
  if (publish) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
      const own = tileFor(room.peerId, `${room.identity} (you)`);
      own.video.srcObject = stream;
      for (const track of stream.getTracks()) await room.publish(track);
    } catch (e) {
      say(`watching only: ${e.message}`);
    }
  }
  leaveButton.disabled = false;
  say(`in ${name} as ${room.identity}`);
  return { peerId: room.peerId, identity: room.identity };
}

export async function leave() {
  if (!room) return;
  const leaving = room;
  room = null;
  await leaving.leave();
  for (const session of [...tiles.keys()]) dropTile(session);
  leaveButton.disabled = true;
  say('left');
}

// What the page shows, for tests.
export function view() {
  return [...tiles.entries()].map(([session, tile]) => ({
    session, identity: tile.identity, stats: tile.stats ?? null, overlay: tile.quality.textContent,
    speaking: tile.element.classList.contains('speaking'),
  }));
}

export function speakersSeen() {
  return [...speakers];
}

const params = new URLSearchParams(location.search);
form.room.value = params.get('room') ?? 'lobby';
form.token.value = params.get('token') ?? '';
form.me.value = params.get('name') ?? '';
form.addEventListener('submit', (e) => {
  e.preventDefault();
  join({ name: form.room.value, token: form.token.value, me: form.me.value }).catch((err) => say(err.message));
});
leaveButton.addEventListener('click', () => { leave().catch((err) => say(err.message)); });
if (params.get('room') && params.get('join') === '1') form.requestSubmit();
