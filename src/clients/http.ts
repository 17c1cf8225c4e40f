// The clients' HTTP: fetch, with the whole body read as bytes (the protocol's answers are
// protobuf or short text, and a client always reads the body before the status).

export interface HttpResult {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpResult> {
  const response = await fetch(url, init);
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes, text: bytes.toString('utf8') };
}

/** A POST as the app sends it: protobuf bytes, unless the caller says otherwise. */
export function post(url: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<HttpResult> {
  // fetch's types take bytes backed by an ArrayBuffer: a copy is one.
  const bytes = typeof body === 'string' ? body : new Uint8Array(body);
  return request(url, { method: 'POST', body: bytes, headers: { 'content-type': 'application/x-protobuf', ...headers } });
}
