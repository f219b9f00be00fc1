// Who is speaking in the demo room: the room's ActiveSpeakerObserver (made
// by its first publisher, joined by later ones) and its `dominantspeaker`
// notifications.
import { api } from './api.js';

/// Adds a publisher's audio producer to the room's active speaker observer.
export async function observeSpeaker(routerId, audioProducerId) {
  const router = await api('GET', `/v1/routers/${routerId}`);
  let observerId = router.rtpObserverIds?.[0];
  if (!observerId) {
    observerId = (await api('POST', `/v1/routers/${routerId}/active-speaker-observers`, {})).id;
  }
  await api('POST', `/v1/rtp-observers/${observerId}/producers`, { producerId: audioProducerId });
}

/// Calls `onSpeaker(producerId)` with the room's speaker now, and again
/// whenever it changes.
export async function followSpeaker(routerId, onSpeaker) {
  const events = new WebSocket(`${location.origin.replace('http', 'ws')}/v1/events?routerId=${routerId}`);
  events.onmessage = (m) => {
    const n = JSON.parse(m.data);
    if (n.event === 'dominantspeaker') onSpeaker(n.data.producerId);
  };
  await new Promise((resolve) => { events.onopen = resolve; });
  const router = await api('GET', `/v1/routers/${routerId}`);
  const observerId = router.rtpObserverIds?.[0];
  if (!observerId) return;
  const observer = await api('GET', `/v1/rtp-observers/${observerId}`);
  if (observer.dominantProducerId) onSpeaker(observer.dominantProducerId);
}
