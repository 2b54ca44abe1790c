import type { IncomingHttpHeaders } from 'node:http';

/**
 * The `X-Forwarded-*` headers a reverse proxy adds so the application behind it still knows
 * who called and under which host and scheme (the de-facto standard nginx and most frameworks
 * read). An `X-Forwarded-For` that came in is extended, not replaced: the bridge may itself sit
 * behind a load balancer.
 */
/** The request fields read here (any Fastify request, HTTP/1 or HTTP/2). */
export interface ForwardedSource {
  headers: IncomingHttpHeaders;
  protocol: string;
  ip: string;
}

export function forwardedHeaders(request: ForwardedSource): Record<string, string> {
  const incoming = request.headers['x-forwarded-for'];
  const previous = Array.isArray(incoming) ? incoming.join(', ') : incoming;
  // Without trustProxy, `ip` is the peer address of the socket.
  const client = request.ip;
  return {
    'x-forwarded-for': previous ? `${previous}, ${client}` : client,
    'x-forwarded-proto': request.protocol,
    'x-forwarded-host': request.headers.host ?? '',
  };
}
