// WHIP and WHEP with no SFU SDK: a page publishes the fake camera and
// microphone with npm whip-whep's WHIPClient, a second page plays the room
// with its WHEPClient, a third with a bare RTCPeerConnection and fetch().
// Figures come from the pages' own getStats().
import { fileURLToPath } from 'node:url';

const BUNDLE = fileURLToPath(new URL('../../demo/dist/whip-whep.js', import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function openBarePage(browser, origin) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${origin}/v1/health`);
  await page.addScriptTag({ path: BUNDLE });
  page.logs = logs;
  return page;
}

// In the page: what its peer connection receives and sends.
export const PAGE_STATS = async () => {
  const report = await window.__pc.getStats();
  const out = { state: window.__pc.connectionState };
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.video = {
        frameWidth: s.frameWidth, frameHeight: s.frameHeight, framesDecoded: s.framesDecoded,
        framesPerSecond: s.framesPerSecond, totalFreezesDuration: s.totalFreezesDuration,
        freezeCount: s.freezeCount, codec: report.get(s.codecId)?.mimeType,
      };
    }
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.audio = { packetsReceived: s.packetsReceived, codec: report.get(s.codecId)?.mimeType };
    }
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.sentVideo = {
        frameWidth: s.frameWidth, framesPerSecond: s.framesPerSecond,
        qualityLimitationReason: s.qualityLimitationReason, packetsSent: s.packetsSent,
      };
    }
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      out.availableOutgoingBitrate = s.availableOutgoingBitrate;
    }
  });
  return out;
};

export async function waitForStats(page, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(PAGE_STATS);
    if (check(last)) return { ok: true, stats: last };
    await sleep(500);
  }
  return { ok: false, stats: last };
}

export async function whipWhep(browser, options) {
  const { room, publishToken, playToken, whipOrigin, whepOrigins, holdMs = 8000, adminToken } = options;
  // No publish token: another client (GStreamer) publishes; only play.
  const publisher = publishToken ? await openBarePage(browser, whipOrigin) : null;
  let published = null;
  if (publisher) {
    published = await publisher.evaluate(async ({ url, token }) => {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      const pc = new RTCPeerConnection();
      window.__pc = pc;
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
      const whip = new window.troupeWhipWhep.WHIPClient();
      window.__client = whip;
      await whip.publish(pc, url, token);
      return { resource: whip.resourceURL.href, etag: whip.etag };
    }, { url: `${whipOrigin}/v1/rooms/${room}/whip`, token: publishToken });
    const sending = await waitForStats(publisher, (s) => s.state === 'connected' && s.sentVideo?.packetsSent > 50, 15000);
    if (!sending.ok) return { ok: false, step: 'publish', published, sending, logs: publisher.logs };
  }

  // Players: the whip-whep WHEPClient, and a bare RTCPeerConnection (one of
  // each per origin given).
  const players = [];
  for (const origin of whepOrigins) {
    for (const bare of [false, true]) {
      const page = await openBarePage(browser, origin);
      const played = await page.evaluate(async ({ url, token, bare }) => {
        const pc = new RTCPeerConnection();
        window.__pc = pc;
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
        if (!bare) {
          const whep = new window.troupeWhipWhep.WHEPClient();
          window.__client = whep;
          await whep.view(pc, url, token);
          return { resource: whep.resourceURL.href };
        }
        await pc.setLocalDescription(await pc.createOffer());
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
          body: pc.localDescription.sdp,
        });
        if (response.status !== 201) return { error: `${response.status} ${await response.text()}` };
        const resource = new URL(response.headers.get('location'), url).href;
        window.__resource = resource;
        await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
        return { resource, contentType: response.headers.get('content-type') };
      }, { url: `${origin}/v1/rooms/${room}/whep`, token: playToken, bare });
      if (played.error) return { ok: false, step: 'whep', origin, bare, played, logs: page.logs };
      players.push({ page, origin, bare, played });
    }
  }
  const receiving = [];
  for (const player of players) {
    receiving.push(await waitForStats(player.page,
      (s) => s.state === 'connected' && s.video?.framesDecoded > 20 && s.audio?.packetsReceived > 20, 20000));
  }
  if (!receiving.every((r) => r.ok)) {
    return { ok: false, step: 'play', receiving, logs: players.map((p) => p.page.logs) };
  }
  await sleep(holdMs);
  // The room as the API shows it, fetched by the page (which trusts the
  // test's self-signed certificate).
  const headers = adminToken ? { Authorization: `Bearer ${adminToken}` } : {};
  const viewer = publisher ?? players[0].page;
  const viewRoom = () => viewer.evaluate(async ({ url, headers }) => (await fetch(url, { headers })).json(),
    { url: `${whipOrigin}/v1/rooms/${room}`, headers });
  const roomView = await viewRoom();
  const after = [];
  for (const player of players) {
    after.push({ origin: player.origin, bare: player.bare, ...(await player.page.evaluate(PAGE_STATS)) });
  }
  const sent = publisher ? await publisher.evaluate(PAGE_STATS) : null;
  // Ending: the clients' own stop() (a DELETE), the bare page by hand.
  const ended = [];
  for (const player of players) {
    ended.push(await player.page.evaluate(async ({ bare, token }) => {
      if (!bare) { await window.__client.stop(); return 200; }
      window.__pc.close();
      const response = await fetch(window.__resource, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
      return response.status;
    }, { bare: player.bare, token: playToken }));
  }
  if (publisher) await publisher.evaluate(() => window.__client.stop());
  const roomAfter = await viewRoom();
  return {
    ok: ended.every((s) => s === 200),
    published, sent, players: after, roomView, roomAfter, ended,
  };
}
