// Drives headless Chromium (Debian's) with playwright-core through one
// scenario against a running Troupe, using the demo page's real
// mediasoup-client. Prints one JSON line: {"ok": bool, ...details}.
// Usage: node driver.mjs BASE_URL SCENARIO
import { createRequire } from 'node:module';
import { whipWhep } from './whip_whep.mjs';
import { roomPage } from './room.mjs';

const require = createRequire(new URL('../../demo/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [baseUrl, scenario, argument] = process.argv.slice(2);
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  // HTTPS tests serve a self-signed certificate.
  '--ignore-certificate-errors',
  // getUserMedia and mediasoup-client need a secure context; a node on a
  // test host's address is served over plain HTTP.
  `--unsafely-treat-insecure-origin-as-secure=${baseUrl}`,
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Off loopback the API wants the admin token: the driver and its pages
// send it (TROUPE_API_TOKEN in the driver's environment).
const token = process.env.TROUPE_API_TOKEN;
const authorization = token ? { Authorization: `Bearer ${token}` } : {};

async function api(method, path) {
  const response = await fetch(`${baseUrl}${path}`, { method, headers: authorization });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

async function openPage(browser, origin = baseUrl) {
  const context = await browser.newContext({ extraHTTPHeaders: authorization });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${origin}/classic`);
  await page.waitForFunction(() => typeof window.troupeDemo !== 'undefined');
  page.logs = logs;
  return page;
}

const stats = (page) => page.evaluate(() => window.troupeDemo.receiveStats());

// Waits until `check(stats)` holds, sampling every 500 ms.
async function waitFor(page, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await stats(page);
    if (check(last)) return { ok: true, stats: last };
    await sleep(500);
  }
  return { ok: false, stats: last };
}

async function publishAndWatch(browser, { tcp }) {
  const publisher = await openPage(browser);
  const published = await publisher.evaluate((tcp) => window.troupeDemo.publish({ tcp }), tcp);
  const watchers = [await openPage(browser), await openPage(browser)];
  const results = [];
  for (const watcher of watchers) {
    await watcher.evaluate(([routerId, tcp]) => window.troupeDemo.watch({ routerId, tcp }), [published.routerId, tcp]);
  }
  for (const watcher of watchers) {
    const first = await waitFor(watcher, (s) => s.framesDecoded > 0 && s.audioPacketsReceived > 0, 15000);
    await sleep(1000);
    const second = await stats(watcher);
    results.push({
      ok: first.ok && second.framesDecoded > first.stats.framesDecoded,
      first: first.stats,
      second,
      logs: watcher.logs.slice(-10),
    });
  }
  return { ok: results.every((r) => r.ok), published, results, publisherLogs: publisher.logs.slice(-10) };
}

async function pauseResume(browser) {
  const publisher = await openPage(browser);
  const published = await publisher.evaluate(() => window.troupeDemo.publish({}));
  const watcher = await openPage(browser);
  await watcher.evaluate((routerId) => window.troupeDemo.watch({ routerId }), published.routerId);
  const flowing = await waitFor(watcher, (s) => s.framesDecoded > 0, 15000);
  if (!flowing.ok) return { ok: false, stage: 'flowing', flowing };
  const video = flowing.stats.consumers.find((c) => c.kind === 'video');
  await api('POST', `/v1/consumers/${video.id}/pause`);
  await sleep(1000);
  const pausedA = await stats(watcher);
  await sleep(1500);
  const pausedB = await stats(watcher);
  const stalled = pausedB.framesDecoded - pausedA.framesDecoded <= 1;
  const resumedAt = Date.now();
  await api('POST', `/v1/consumers/${video.id}/resume`);
  const resumed = await waitFor(watcher, (s) => s.framesDecoded > pausedB.framesDecoded + 2, 2000);
  return {
    ok: stalled && resumed.ok,
    stalled,
    pausedA: pausedA.framesDecoded,
    pausedB: pausedB.framesDecoded,
    resumed: resumed.stats.framesDecoded,
    resumedWithinMs: Date.now() - resumedAt,
  };
}

async function wrongFingerprint(browser) {
  const page = await openPage(browser);
  const outcome = await page.evaluate(async () => {
    const events = [];
    const socket = new WebSocket(`${location.origin.replace('http', 'ws')}/v1/events`);
    await new Promise((resolve) => { socket.onopen = resolve; });
    socket.onmessage = (m) => events.push(JSON.parse(m.data));
    const attempt = window.troupeDemo.publish({ tamperFingerprint: true }).catch((e) => e.message);
    // The transport's close follows its DTLS failure: wait for both, not
    // just the first (checking between the two made this test flaky).
    const failed = () => events.some((e) => e.event === 'dtlsstatechange' && e.data.dtlsState === 'failed');
    const closed = () => events.some((e) => e.event === 'close' && e.targetKind === 'transport');
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && !(failed() && closed())) {
      await new Promise((r) => setTimeout(r, 200));
    }
    return { events, states: window.troupeDemo.connectionStates(), attempt: await Promise.race([attempt, new Promise((r) => setTimeout(() => r('pending'), 100))]) };
  });
  const failed = outcome.events.find((e) => e.event === 'dtlsstatechange' && e.data.dtlsState === 'failed');
  const closed = outcome.events.find((e) => e.event === 'close' && e.targetKind === 'transport');
  return { ok: Boolean(failed && closed), failed, closed, states: outcome.states, events: outcome.events.map((e) => e.event) };
}

// Publishes through one node's page and watches through another node's
// page: the watching node pipes the media from the publishing node.
async function publishHereWatchThere(browser, watchOrigin) {
  const publisher = await openPage(browser);
  const published = await publisher.evaluate(() => window.troupeDemo.publish({}));
  const watcher = await openPage(browser, watchOrigin);
  await watcher.evaluate((routerId) => window.troupeDemo.watch({ routerId }), published.routerId);
  const first = await waitFor(watcher, (s) => s.framesDecoded > 0 && s.audioPacketsReceived > 0, 20000);
  await sleep(1000);
  const second = await stats(watcher);
  return {
    ok: first.ok && second.framesDecoded > first.stats.framesDecoded,
    published,
    first: first.stats,
    second,
    logs: watcher.logs.slice(-10),
  };
}

// Watches a room through another node before anyone publishes in it: the
// watcher hears of the new producers on its own node and consumes them.
async function watchThereThenPublishHere(browser, watchOrigin) {
  const response = await fetch(`${baseUrl}/v1/routers`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  const routerId = (await response.json()).id;
  const watcher = await openPage(browser, watchOrigin);
  await watcher.evaluate((id) => window.troupeDemo.watch({ routerId: id }), routerId);
  const publisher = await openPage(browser);
  await publisher.evaluate((id) => window.troupeDemo.publish({ routerId: id }), routerId);
  const first = await waitFor(watcher, (s) => s.framesDecoded > 0 && s.audioPacketsReceived > 0, 20000);
  return { ok: first.ok, routerId, first: first.stats, logs: watcher.logs.slice(-10) };
}

// Watches a room whose producers something else (ffmpeg) feeds.
async function watchExisting(browser, routerId) {
  const watcher = await openPage(browser);
  await watcher.evaluate((id) => window.troupeDemo.watch({ routerId: id }), routerId);
  const first = await waitFor(watcher, (s) => s.framesDecoded > 0 && s.audioPacketsReceived > 0, 15000);
  await sleep(1000);
  const second = await stats(watcher);
  return { ok: first.ok && second.framesDecoded > first.stats.framesDecoded, first: first.stats, second, logs: watcher.logs.slice(-10) };
}

// Publishes as an app would (camera size, simulcast encodings or an SVC
// scalability mode, codec), watches with receivers preferring given layers,
// and after `seconds` reports what the browsers themselves measure: the
// publisher's estimate and layers, each receiver's resolution, frame rate
// over the last 5 s and freezes, and the consumer's layers as Troupe says.
async function quality(browser, options) {
  const { video, encodings, codec, remb, maxIncomingBitrate, receivers = [{}], seconds = 20 } = options;
  const publisher = await openPage(browser);
  const published = await publisher.evaluate((o) => window.troupeDemo.publish(o), { video, encodings, codec, remb, maxIncomingBitrate });
  const watchers = [];
  const joinedAt = [];
  for (const receiver of receivers) {
    const watcher = await openPage(browser);
    const watching = await watcher.evaluate(
      ([routerId, preferredLayers]) => window.troupeDemo.watch({ routerId, preferredLayers }),
      [published.routerId, receiver.preferredLayers],
    );
    watcher.transportId = watching.transportId;
    watchers.push(watcher);
    joinedAt.push(Date.now());
  }
  const windowSecs = 5;
  const videoOf = (s) => s.consumers.find((c) => c.kind === 'video') ?? {};
  // How long each receiver waited for its first picture.
  const firstFrameMs = receivers.map(() => null);
  const watchFirstFrames = (async () => {
    const deadline = Date.now() + (seconds - windowSecs) * 1000;
    while (Date.now() < deadline && firstFrameMs.some((t) => t === null)) {
      for (const [i, watcher] of watchers.entries()) {
        if (firstFrameMs[i] === null && (videoOf(await stats(watcher)).framesDecoded ?? 0) > 0) {
          firstFrameMs[i] = Date.now() - joinedAt[i];
        }
      }
      await sleep(100);
    }
  })();
  // Receivers with `switchTo` change their preferred layers half way.
  const halfWay = ((seconds - windowSecs) * 1000) / 2;
  await sleep(halfWay);
  for (const [i, receiver] of receivers.entries()) {
    if (!receiver.switchTo) continue;
    const { id } = videoOf(await stats(watchers[i]));
    await fetch(`${baseUrl}/v1/consumers/${id}/preferred-layers`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(receiver.switchTo),
    });
  }
  await sleep(halfWay);
  await watchFirstFrames;
  const before = await Promise.all(watchers.map(async (w) => videoOf(await stats(w))));
  await sleep(windowSecs * 1000);
  const after = await Promise.all(watchers.map(async (w) => videoOf(await stats(w))));
  const sender = await publisher.evaluate(() => window.troupeDemo.publishStats());
  const results = receivers.map((receiver, i) => ({
    preferredLayers: receiver.switchTo ?? receiver.preferredLayers ?? null,
    frameWidth: after[i].frameWidth,
    frameHeight: after[i].frameHeight,
    framesPerSecond: (after[i].framesDecoded - before[i].framesDecoded) / windowSecs,
    freezeCount: after[i].freezeCount,
    totalFreezesDuration: after[i].totalFreezesDuration,
    windowFreezesDuration: after[i].totalFreezesDuration - (before[i].totalFreezesDuration ?? 0),
    kbps: Math.round(((after[i].bytesReceived - before[i].bytesReceived) * 8) / windowSecs / 1000),
    consumerId: after[i].id,
    firstFrameMs: firstFrameMs[i],
    logs: watchers[i].logs.slice(-5),
  }));
  for (const [i, result] of results.entries()) {
    const response = await fetch(`${baseUrl}/v1/consumers/${result.consumerId}`);
    result.currentLayers = (await response.json()).currentLayers ?? null;
    const transport = await (await fetch(`${baseUrl}/v1/transports/${watchers[i].transportId}/stats`)).json();
    result.availableOutgoingBitrate = transport[0]?.availableOutgoingBitrate ?? null;
  }
  // What Troupe itself says about the publisher's streams.
  const producerStats = [];
  for (const id of published.producerIds) {
    const response = await fetch(`${baseUrl}/v1/producers/${id}/stats`);
    for (const s of await response.json()) {
      if (s.kind === 'video') producerStats.push({ rid: s.rid ?? null, bitrate: s.bitrate, score: s.score, pliCount: s.pliCount, nackCount: s.nackCount });
    }
  }
  const transport = await (await fetch(`${baseUrl}/v1/transports/${published.transportId}/stats`)).json();
  return { ok: true, published, sender, receivers: results, producerStats, transportStats: transport[0], publisherLogs: publisher.logs.slice(-5) };
}

// A person's path through the demo page: press Publish, open the watch
// link it shows, and read the picture the watcher's status line reports.
async function demoPage(browser) {
  const publisher = await openPage(browser);
  await publisher.click('#publish');
  const link = await publisher.waitForSelector('#status a', { timeout: 15000 });
  const watchUrl = await link.getAttribute('href');
  const context = await browser.newContext();
  const watcher = await context.newPage();
  await watcher.goto(watchUrl);
  const deadline = Date.now() + 20000;
  let status = '';
  let width = 0;
  while (Date.now() < deadline) {
    status = await watcher.textContent('#status');
    width = Number(/(\d+)x\d+ at/.exec(status)?.[1] ?? 0);
    if (width >= 640) break;
    await sleep(500);
  }
  // The chat box works both ways, and the publisher's tile is framed as
  // the speaker (its fake microphone beeps).
  const say = async (page, text) => {
    await page.fill('#chat input', text);
    await page.press('#chat input', 'Enter');
  };
  const heard = async (page, text) => {
    try {
      await page.waitForFunction((t) => document.querySelector('#chat .log')?.textContent.includes(t), text, { timeout: 10000 });
      return true;
    } catch {
      return false;
    }
  };
  await watcher.waitForSelector('#chat:not([hidden])', { timeout: 10000 });
  await say(watcher, 'hello from the watcher');
  const publisherHeard = await heard(publisher, 'hello from the watcher');
  await say(publisher, 'hello back');
  const watcherHeard = await heard(watcher, 'hello back');
  const speaking = await watcher.waitForSelector('.tile.speaking', { timeout: 10000 }).then(() => true, () => false);
  return {
    ok: width >= 640 && publisherHeard && watcherHeard && speaking,
    status, width, publisherHeard, watcherHeard, speaking,
    publisherStatus: await publisher.textContent('#status'),
    logs: watcher.logs?.slice(-5),
  };
}

// A receiver on a link that changes: the publisher's browser on the host,
// the receiver's in a network namespace (`chromium` is the wrapper that
// starts it there), and the link's rate set with tc on `veth` (the host
// side, which shapes what Troupe sends it) at each phase. Samples the
// receiver once a second.
// Sets (or with no rate, clears) the token bucket that limits a link:
// what reaches the test host's namespace (the host's end of its veth pair),
// or with `uplink` what leaves it (the end inside, set from within).
async function shaper({ veth, namespace, innerVeth }, uplink) {
  const { execFileSync } = await import('node:child_process');
  const tc = (args, options) => (uplink
    ? execFileSync('ip', ['netns', 'exec', namespace, 'tc', ...args], options)
    : execFileSync('tc', args, options));
  const device = uplink ? innerVeth : veth;
  return (rate) => {
    if (rate) {
      tc(['qdisc', 'replace', 'dev', device, 'root', 'tbf', 'rate', rate, 'burst', '16kb', 'latency', '200ms']);
    } else {
      try { tc(['qdisc', 'del', 'dev', device, 'root'], { stdio: 'ignore' }); } catch { /* none set */ }
    }
  };
}

const apiGet = async (path) => (await fetch(`${baseUrl}${path}`, { headers: authorization })).json();

// Runs the phases ({seconds, rate?, untilWidth?, maxSeconds?}) on the
// viewer's link, sampling each video consumer every second: the viewer's
// figures and Troupe's.
async function sampleThroughPhases(shape, phases, watcher, transportId, publisher) {
  const timeline = [];
  const start = Date.now();
  const previous = new Map();
  for (const [index, phase] of phases.entries()) {
    shape(phase.rate);
    const phaseStart = Date.now();
    // `untilWidth` keeps the phase going, up to `maxSeconds`, until the
    // viewer gets that width: how fast a publisher's Chromium ramps up at
    // the start is its own (its initial probe may find no video to pad yet).
    const goOn = () => {
      const elapsed = Date.now() - phaseStart;
      if (elapsed < phase.seconds * 1000) return true;
      const width = timeline.at(-1)?.frameWidth ?? 0;
      return phase.untilWidth !== undefined && width < phase.untilWidth && elapsed < (phase.maxSeconds ?? phase.seconds) * 1000;
    };
    while (goOn()) {
      await sleep(1000);
      const videos = (await stats(watcher)).consumers.filter((c) => c.kind === 'video');
      const transport = await apiGet(`/v1/transports/${transportId}/stats`);
      const t = (Date.now() - start) / 1000;
      const consumers = [];
      for (const video of videos) {
        const consumer = await apiGet(`/v1/consumers/${video.id}`);
        const sample = {
          id: video.id,
          producerId: consumer.producerId,
          frameWidth: video.frameWidth ?? 0,
          framesDecoded: video.framesDecoded ?? 0,
          freezes: video.totalFreezesDuration ?? 0,
          bytesReceived: video.bytesReceived ?? 0,
          spatialLayer: consumer.currentLayers?.spatialLayer ?? null,
          priority: consumer.priority ?? null,
          keyFrames: video.keyFramesDecoded ?? 0,
          nacks: video.nackCount ?? 0,
          plis: video.pliCount ?? 0,
          lost: video.packetsLost ?? 0,
        };
        const before = previous.get(video.id);
        if (before) {
          const seconds = t - before.t;
          sample.kbps = Math.round(((sample.bytesReceived - before.bytesReceived) * 8) / seconds / 1000);
          sample.fps = Math.round(((sample.framesDecoded - before.framesDecoded) / seconds) * 10) / 10;
        }
        previous.set(video.id, { ...sample, t });
        consumers.push(sample);
      }
      const sent = await publisher.evaluate(() => window.troupeDemo.publishStats());
      timeline.push({
        t,
        phase: index,
        availableOutgoingBitrate: transport[0]?.availableOutgoingBitrate ?? null,
        publisherEstimate: sent.availableOutgoingBitrate,
        publisherSends: sent.layers.filter((l) => l.framesPerSecond > 0).map((l) => l.frameWidth),
        ...(consumers[0] ?? {}),
        consumers,
      });
    }
  }
  return timeline;
}

// One viewer on a link that changes through `phases`, watching one
// publisher or several (`priorities`: one per publisher, the priority of
// the viewer's consumer of its video). The viewer's Chromium runs in the
// test host's namespace; with `thinSide: 'publisher'` the (one) publisher's
// does instead, and its uplink is what changes.
async function shapedLink(browser, options) {
  const { chromium: wrapper, phases, video, encodings, codec, preferredLayers } = options;
  const priorities = options.priorities ?? [null];
  const thinPublisher = options.thinSide === 'publisher';
  const shape = await shaper(options, thinPublisher);
  shape(null);
  const namespaced = await chromium.launch({ executablePath: wrapper, args: FLAGS });
  try {
    const publishers = [];
    const publisherPages = [];
    let routerId;
    for (const _ of priorities) {
      const page = await openPage(thinPublisher ? namespaced : browser);
      const published = await page.evaluate((o) => window.troupeDemo.publish(o), { routerId, video, encodings, codec });
      routerId = published.routerId;
      publishers.push(published);
      publisherPages.push(page);
    }
    const watcher = await openPage(thinPublisher ? browser : namespaced);
    const watching = await watcher.evaluate(
      ([id, layers]) => window.troupeDemo.watch({ routerId: id, preferredLayers: layers }),
      [routerId, preferredLayers],
    );
    for (const consumerId of watching.consumerIds) {
      const consumer = await apiGet(`/v1/consumers/${consumerId}`);
      const publisher = publishers.findIndex((p) => p.producerIds.includes(consumer.producerId));
      const priority = priorities[publisher];
      if (consumer.kind === 'video' && priority) {
        const response = await fetch(`${baseUrl}/v1/consumers/${consumerId}/priority`, {
          method: 'POST',
          headers: { ...authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ priority }),
        });
        if (!response.ok) throw new Error(`priority: ${response.status} ${await response.text()}`);
      }
    }
    const timeline = await sampleThroughPhases(shape, phases, watcher, watching.transportId, publisherPages[0]);
    return { ok: true, published: publishers[0], publishers, timeline };
  } finally {
    shape(null);
    await namespaced.close();
  }
}

async function apiJson(method, path, body) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...authorization, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Waits until `check()` (run in the page) holds.
async function waitInPage(page, check, argument, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await page.evaluate(check, argument)) return true;
    await sleep(200);
  }
  return false;
}

// One page opens two data channels into a room (ordered and reliable;
// unordered with no retransmissions); two pages (on `watchOrigin`, another
// node, if given) consume both. Ordered text, a 200 KiB and a tiny binary,
// empty messages, then the data producer closes.
async function dataChannels(browser, options = {}) {
  const router = await apiJson('POST', '/v1/routers', {});
  const producerPage = await openPage(browser);
  const chat = await producerPage.evaluate((routerId) => window.troupeDemo.produceData({ routerId, label: 'chat', protocol: 'text/plain' }), router.id);
  const lossy = await producerPage.evaluate((routerId) => window.troupeDemo.produceData({ routerId, label: 'state', ordered: false, maxRetransmits: 0 }), router.id);
  const watchers = [];
  for (let i = 0; i < 2; i += 1) {
    const page = await openPage(browser, options.watchOrigin ?? baseUrl);
    // The page's notifications, to see its data consumers' `dataproducerclose`.
    await page.evaluate(async () => {
      window.__events = [];
      const socket = new WebSocket(`${location.origin.replace('http', 'ws')}/v1/events`);
      await new Promise((resolve) => { socket.onopen = resolve; });
      socket.onmessage = (m) => window.__events.push(JSON.parse(m.data));
    });
    const consumed = [];
    for (const producer of [chat, lossy]) {
      consumed.push(await page.evaluate(([routerId, dataProducerId]) => window.troupeDemo.consumeData({ routerId, dataProducerId }), [router.id, producer.id]));
    }
    watchers.push({ page, consumed });
  }
  const sent = [];
  for (let i = 0; i < 300; i += 1) sent.push(`message ${i} ${'x'.repeat(i % 50)}`);
  // The unreliable ticks go first: sent once and never again
  // (maxRetransmits 0), any of them still queued behind the 200 KiB message
  // when one of its packets needs a retransmission is abandoned, as
  // PR-SCTP says; on a loaded machine that took all 50 toward one page.
  await producerPage.evaluate((messages) => {
    for (let i = 0; i < 50; i += 1) window.troupeDemo.sendData(1, `tick ${i}`);
    for (const m of messages) window.troupeDemo.sendData(0, m);
    window.troupeDemo.sendData(0, { bytes: 200 * 1024 });
    window.troupeDemo.sendData(0, { bytes: 3 });
    window.troupeDemo.sendData(0, '');
  }, sent);
  const expected = sent.length + 3;
  const results = [];
  for (const { page, consumed } of watchers) {
    const arrived = await waitInPage(page, ([n]) => window.troupeDemo.dataReceived()[0].messages.length >= n, [expected], 20000);
    await sleep(500);
    const [ordered, unordered] = await page.evaluate(() => window.troupeDemo.dataReceived());
    const texts = ordered.messages.filter((m) => m.type === 'string').map((m) => m.text);
    const binaries = ordered.messages.filter((m) => m.type === 'binary');
    results.push({
      arrived,
      count: ordered.messages.length,
      inOrder: JSON.stringify(texts.slice(0, sent.length)) === JSON.stringify(sent),
      emptyText: texts[sent.length] === '',
      binaries,
      label: ordered.label,
      protocol: ordered.protocol,
      unorderedCount: unordered.messages.length,
      consumed,
      logs: page.logs.slice(-5),
    });
  }
  // Closing the data producer closes its data consumers on the pages.
  await apiJson('DELETE', `/v1/data-producers/${chat.id}`);
  const closed = [];
  for (const { page, consumed } of watchers) {
    closed.push(await waitInPage(page, () => window.troupeDemo.dataReceived()[0].closed, null, 10000)
      && await waitInPage(page, ([id]) => window.__events.some((e) => e.event === 'dataproducerclose' && e.targetId === id), [consumed[0].id], 10000));
  }
  const stats = await apiJson('GET', `/v1/data-producers/${lossy.id}/stats`);
  const ok = results.every((r) => r.arrived && r.inOrder && r.emptyText && r.count === expected
    && r.binaries.length === 2 && r.binaries.every((b) => b.intact)
    && r.binaries[0].length === 200 * 1024 && r.binaries[1].length === 3
    && r.label === 'chat' && r.protocol === 'text/plain' && r.unorderedCount >= 45)
    && closed.every(Boolean);
  return { ok, routerId: router.id, chat, lossy, results, closed, lossyStats: stats, producerLogs: producerPage.logs.slice(-5) };
}

// Two pages publish their fake microphones into a room; one is muted
// (track.enabled = false). An active speaker observer must name the other
// within 2 s, and follow when the mute moves; an audio level observer
// reports volumes meanwhile.
async function activeSpeaker(browser) {
  const pages = [await openPage(browser), await openPage(browser)];
  const first = await pages[0].evaluate(() => window.troupeDemo.publish({}));
  const second = await pages[1].evaluate((routerId) => window.troupeDemo.publish({ routerId }), first.routerId);
  const audioOf = async (published) => {
    for (const id of published.producerIds) {
      if ((await apiJson('GET', `/v1/producers/${id}`)).kind === 'audio') return id;
    }
    throw new Error('no audio producer');
  };
  const audio = [await audioOf(first), await audioOf(second)];
  // Notifications, collected in the first page.
  await pages[0].evaluate(async () => {
    window.__events = [];
    const socket = new WebSocket(`${location.origin.replace('http', 'ws')}/v1/events`);
    await new Promise((resolve) => { socket.onopen = resolve; });
    socket.onmessage = (m) => window.__events.push({ ...JSON.parse(m.data), at: Date.now() });
  });
  await pages[1].evaluate(() => window.troupeDemo.setMicrophone(false));
  const speaker = await apiJson('POST', `/v1/routers/${first.routerId}/active-speaker-observers`, { interval: 300 });
  const levels = await apiJson('POST', `/v1/routers/${first.routerId}/audio-level-observers`, { maxEntries: 2, threshold: -70, interval: 500 });
  for (const observer of [speaker, levels]) {
    for (const producerId of audio) {
      await fetch(`${baseUrl}/v1/rtp-observers/${observer.id}/producers`, {
        method: 'POST', headers: { ...authorization, 'content-type': 'application/json' }, body: JSON.stringify({ producerId }),
      });
    }
  }
  const dominantAfter = async (since, producerId, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = await pages[0].evaluate(([id, since, observerId]) => window.__events.find((e) => e.event === 'dominantspeaker'
        && e.targetId === observerId && e.at >= since && e.data.producerId === id), [producerId, since, speaker.id]);
      if (hit) return hit.at - since;
      await sleep(100);
    }
    return null;
  };
  const start = Date.now();
  const firstNamedMs = await dominantAfter(start, audio[0], 5000);
  await sleep(3000);
  // The mute moves.
  const moved = Date.now();
  await pages[1].evaluate(() => window.troupeDemo.setMicrophone(true));
  await pages[0].evaluate(() => window.troupeDemo.setMicrophone(false));
  const switchedMs = await dominantAfter(moved, audio[1], 5000);
  const events = await pages[0].evaluate((ids) => window.__events.filter((e) => ids.includes(e.targetId)).map((e) => ({ event: e.event, data: e.data })), [speaker.id, levels.id]);
  const volumes = events.filter((e) => e.event === 'volumes');
  const dump = await apiJson('GET', `/v1/rtp-observers/${speaker.id}`);
  return {
    ok: firstNamedMs !== null && firstNamedMs <= 2000 && switchedMs !== null && switchedMs <= 2000
      && volumes.some((v) => v.data.volumes.some((e) => audio.includes(e.producerId))),
    audio, firstNamedMs, switchedMs, dump, volumes: volumes.slice(0, 6), events: events.slice(0, 30),
  };
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
let result;
try {
  switch (scenario) {
    case 'publish-and-watch': result = await publishAndWatch(browser, { tcp: false }); break;
    case 'publish-and-watch-tcp': result = await publishAndWatch(browser, { tcp: true }); break;
    case 'pause-resume': result = await pauseResume(browser); break;
    case 'wrong-fingerprint': result = await wrongFingerprint(browser); break;
    case 'shaped-link': result = await shapedLink(browser, JSON.parse(argument)); break;
    case 'demo-page': result = await demoPage(browser); break;
    case 'active-speaker': result = await activeSpeaker(browser); break;
    case 'data-channels': result = await dataChannels(browser, argument ? JSON.parse(argument) : {}); break;
    case 'quality': result = await quality(browser, JSON.parse(argument)); break;
    case 'whip-whep': result = await whipWhep(browser, JSON.parse(argument)); break;
    case 'room-page': result = await roomPage(browser, JSON.parse(argument)); break;
    case 'watch-existing': result = await watchExisting(browser, argument); break;
    case 'publish-here-watch-there': result = await publishHereWatchThere(browser, argument); break;
    case 'watch-there-then-publish-here': result = await watchThereThenPublishHere(browser, argument); break;
    default: result = { ok: false, error: `unknown scenario ${scenario}` };
  }
} catch (e) {
  result = { ok: false, error: String(e?.stack ?? e) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
