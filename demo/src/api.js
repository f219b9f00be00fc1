// Troupe's HTTP API as the demo page calls it, and the connect callback
// every mediasoup-client transport needs.

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${json?.error?.message ?? response.statusText}`);
  }
  return json;
}

// The connect callback every transport needs; `tamper` breaks the
// fingerprint on purpose (for the DTLS failure test).
export function wireConnect(transport, id, { tamper } = {}) {
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    if (tamper) {
      dtlsParameters.fingerprints = dtlsParameters.fingerprints.map((f) => ({
        ...f,
        value: f.value.replace(/^../, f.value.startsWith('00') ? '11' : '00'),
      }));
    }
    api('POST', `/v1/transports/${id}/connect`, { dtlsParameters }).then(callback, errback);
  });
}

