// mediasoup under troupe-bench's load (`troupe-bench --mediasoup`): the
// same room the bench builds in Troupe through its HTTP API — a producer on
// a comedia plain transport, one plain transport per consumer connected to
// its sink — so that Troupe's figures can be taken beside mediasoup's in
// one sitting.
//
// Starts a worker and writes {"workerPid"} on stdout (the bench takes its
// idle memory then); reads {"sinkPorts": [...], "ssrc": n, "rtx": bool} on
// stdin (RTX: consumers keep packets to resend, as a browser's do), builds
// the room, writes {"producerPort", "payloadType"}, and keeps the room
// until stdin closes. The worker binary is the package's own, or
// MEDIASOUP_WORKER_BIN's.

import * as readline from 'node:readline';

// stdout carries the protocol: mediasoup's debug log (DEBUG=mediasoup*),
// which goes to console.debug, goes to stderr instead. Its loggers take
// console.debug when its modules load, hence the import after this.
console.debug = console.error;
const mediasoup = await import('mediasoup');

const LOOPBACK = { protocol: 'udp', ip: '127.0.0.1' };

async function main() {
	const lines = readline.createInterface({ input: process.stdin });
	const iterator = lines[Symbol.asyncIterator]();

	const worker = await mediasoup.createWorker({ logLevel: 'warn' });
	worker.on('died', () => process.exit(2));
	process.stdout.write(JSON.stringify({ workerPid: worker.pid }) + '\n');

	const first = await iterator.next();
	if (first.done) {
		throw new Error('no room description on stdin');
	}
	const { sinkPorts, ssrc, rtx } = JSON.parse(first.value);
	const router = await worker.createRouter({
		mediaCodecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }],
	});
	const payloadType = router.rtpCapabilities.codecs.find(
		(c) => c.mimeType === 'video/VP8'
	).preferredPayloadType;

	const ingest = await router.createPlainTransport({
		listenInfo: LOOPBACK,
		rtcpMux: true,
		comedia: true,
	});
	const producer = await ingest.produce({
		kind: 'video',
		rtpParameters: {
			codecs: [
				{
					mimeType: 'video/VP8',
					payloadType,
					clockRate: 90000,
					rtcpFeedback: [{ type: 'nack', parameter: 'pli' }],
				},
			],
			encodings: [{ ssrc }],
		},
	});

	// Plain legs, as the bench's Troupe consumers have: no header extension
	// asks the worker for send-side bandwidth estimation (transport-cc,
	// abs-send-time), which a plain far end never feeds back to.
	const plainCapabilities = {
		codecs: router.rtpCapabilities.codecs
			.filter((c) => c.mimeType === 'video/VP8')
			.map((c) => ({
				...c,
				rtcpFeedback: c.rtcpFeedback.filter(
					(f) => f.type === 'nack' || f.type === 'ccm'
				),
			})),
		headerExtensions: [],
	};

	for (const port of sinkPorts) {
		const transport = await router.createPlainTransport({
			listenInfo: LOOPBACK,
			rtcpMux: true,
			comedia: false,
		});
		await transport.connect({ ip: '127.0.0.1', port });
		await transport.consume({
			producerId: producer.id,
			rtpCapabilities: plainCapabilities,
			// As the bench's Troupe consumers.
			enableRtx: Boolean(rtx),
		});
	}

	process.stdout.write(
		JSON.stringify({
			producerPort: ingest.tuple.localPort,
			payloadType,
		}) + '\n'
	);
	// The room lives until the bench closes our stdin.
	while (!(await iterator.next()).done) {
		// Further lines mean nothing.
	}
	worker.close();
}

main().catch((error) => {
	process.stderr.write(`fanout.mjs: ${error.stack ?? error}\n`);
	process.exit(1);
});
