// The demo room page (troupe-client over the room WebSocket): two browsers
// join a room by name with room tokens and see each other's tiles with
// names and quality; a WHIP publisher shows up in both; a WHEP player
// plays one browser's tracks; leaving and rejoining is seen by the other.
import { openBarePage, waitForStats } from './whip_whep.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function openRoomPage(browser, origin) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${origin}/room`);
  await page.waitForFunction(() => typeof window.troupeRoom !== 'undefined');
  page.logs = logs;
  return page;
}

// Until `page` shows a tile of `identity` with decoded video at full size
// (Chrome starts a new stream small and grows it as its estimate grows).
async function waitForTile(page, identity, timeoutMs, gone = false) {
  const deadline = Date.now() + timeoutMs;
  let tiles;
  while (Date.now() < deadline) {
    tiles = await page.evaluate(() => window.troupeRoom.view());
    const tile = tiles.find((t) => t.identity === identity);
    if (gone ? !tile : tile?.stats?.framesDecoded > 10 && tile.stats.frameWidth >= 640) return { ok: true, tile, tiles };
    await sleep(500);
  }
  return { ok: false, tiles };
}

async function waitInPage(page, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await page.evaluate(check)) return true;
    await sleep(250);
  }
  return false;
}

export async function roomPage(browser, options) {
  const { origin, room, alice, bob, whipToken, whepToken, adminToken } = options;
  const pages = { alice: await openRoomPage(browser, origin), bob: await openRoomPage(browser, origin) };
  const joined = {};
  for (const [name, token] of [['alice', alice], ['bob', bob]]) {
    joined[name] = await pages[name].evaluate(({ room, token }) => window.troupeRoom.join({ name: room, token }), { room, token });
  }
  const seen = {
    aliceSeesBob: await waitForTile(pages.alice, 'bob', 30000),
    bobSeesAlice: await waitForTile(pages.bob, 'alice', 30000),
  };
  if (!seen.aliceSeesBob.ok || !seen.bobSeesAlice.ok) {
    return { ok: false, step: 'tiles', joined, seen, logs: [pages.alice.logs, pages.bob.logs] };
  }
  // The room names a speaker (Chromium's fake microphone beeps).
  const spoke = await waitInPage(pages.alice, () => window.troupeRoom.speakersSeen().length > 0, 10000);
  // A WHIP publisher joins the room: both pages show it.
  const whip = await openBarePage(browser, origin);
  await whip.evaluate(async ({ url, token }) => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    const pc = new RTCPeerConnection();
    window.__pc = pc;
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
    window.__client = new window.troupeWhipWhep.WHIPClient();
    await window.__client.publish(pc, url, token);
  }, { url: `${origin}/v1/rooms/${room}/whip`, token: whipToken });
  const whipSeen = {
    byAlice: await waitForTile(pages.alice, 'obs', 20000),
    byBob: await waitForTile(pages.bob, 'obs', 20000),
  };
  if (!whipSeen.byAlice.ok || !whipSeen.byBob.ok) return { ok: false, step: 'whip', whipSeen };
  // A WHEP player plays alice's tracks, named by `?producer=`.
  const headers = { Authorization: `Bearer ${adminToken}` };
  const view = await pages.alice.evaluate(async ({ url, headers }) => (await fetch(url, { headers })).json(),
    { url: `${origin}/v1/rooms/${room}`, headers });
  const aliceProducers = view.producers.filter((p) => p.identity === 'alice').map((p) => p.id);
  const player = await openBarePage(browser, origin);
  const played = await player.evaluate(async ({ url, token }) => {
    const pc = new RTCPeerConnection();
    window.__pc = pc;
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const response = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 201) return { error: `${response.status} ${await response.text()}` };
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    return { ok: true };
  }, { url: `${origin}/v1/rooms/${room}/whep?producer=${aliceProducers.join(',')}`, token: whepToken });
  if (played.error) return { ok: false, step: 'whep', played, view };
  const playing = await waitForStats(player, (s) => s.video?.framesDecoded > 20, 20000);
  // Bob leaves: alice's page drops his tile; he comes back: it returns.
  await pages.bob.evaluate(() => window.troupeRoom.leave());
  const bobGone = await waitForTile(pages.alice, 'bob', 10000, true);
  await pages.bob.evaluate(({ room, token }) => window.troupeRoom.join({ name: room, token }), { room, token: bob });
  const bobBack = await waitForTile(pages.alice, 'bob', 20000);
  const tiles = await pages.alice.evaluate(() => window.troupeRoom.view());
  return {
    ok: playing.ok && bobGone.ok && bobBack.ok && spoke,
    speakers: await pages.alice.evaluate(() => window.troupeRoom.speakersSeen()),
    joined, seen: { aliceSeesBob: seen.aliceSeesBob.tile, bobSeesAlice: seen.bobSeesAlice.tile },
    whipSeen: whipSeen.byAlice.tile, whep: playing.stats, view, bobGone: bobGone.ok, bobBack: bobBack.tile, tiles,
  };
}
