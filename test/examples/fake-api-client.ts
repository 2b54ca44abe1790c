/** A tiny fetch wrapper for the fake-API tests: one call, status + headers + parsed JSON body. */
export interface FakeApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
}

export interface CallOptions {
  body?: unknown;
  /** Raw body text, sent as-is with a JSON content type (for malformed-JSON tests). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export function createFakeApiClient(baseUrl: string, defaultHeaders: Record<string, string>) {
  return async function call(method: string, path: string, options: CallOptions = {}): Promise<FakeApiResponse> {
    const headers: Record<string, string> = { ...defaultHeaders, ...options.headers };
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
}
