// The demo room's chat: each page opens one `chat` data channel into the
// room and consumes every other page's, found in the router dump and then
// announced by `newdataproducer` notifications.
import { api } from './api.js';
import { produceData, consumeData, sendData } from './data_channels.js';

export async function startChat({ routerId, name, onMessage }) {
  const own = await produceData({ routerId, label: 'chat', protocol: 'json' });
  const joined = new Set([own.id]);
  const join = async (dataProducerId) => {
    if (joined.has(dataProducerId)) return;
    joined.add(dataProducerId);
    const producer = await api('GET', `/v1/data-producers/${dataProducerId}`);
    if (producer.label !== 'chat') return;
    await consumeData({
      routerId,
      dataProducerId,
      onMessage: (message) => {
        try {
          const { from, text } = JSON.parse(message);
          onMessage({ from: String(from), text: String(text) });
        } catch {
          // Not a chat message: ignore it.
        }
      },
    });
  };
  const router = await api('GET', `/v1/routers/${routerId}`);
  for (const id of Object.keys(router.mapDataProducerIdDataConsumerIds ?? {})) await join(id);
  const events = new WebSocket(`${location.origin.replace('http', 'ws')}/v1/events?routerId=${routerId}`);
  events.onmessage = (m) => {
    const n = JSON.parse(m.data);
    if (n.event === 'newdataproducer') join(n.data.dataProducerId).catch(console.error);
  };
  return {
    send(text) {
      sendData(own.index, JSON.stringify({ from: name, text }));
      onMessage({ from: name, text, own: true });
    },
  };
}
