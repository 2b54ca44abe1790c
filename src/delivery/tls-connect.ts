import type { Socket } from 'node:net';
import { buildConnector } from 'undici';
import type { TargetTlsMaterial } from '../config/target-tls.js';

/**
 * undici `connect` options for a target, with its TLS material. With TLS 1.3 a server checks the
 * client certificate after the handshake has completed on the client's side, so a refusal shows
 * up in undici as "other side closed": with an alert (no certificate: "certificate required")
 * or without one (a certificate it does not trust). The connector remembers the alert a socket
 * received, and `explain` turns such a socket error into a TargetTlsError that says what
 * happened, which the classifier reports as GW_DELIVERY_TLS.
 */

/** A TLS failure the bridge inferred from how the target closed the session. */
export class TargetTlsError extends Error {
  override readonly name = 'TargetTlsError';
  constructor(
    /** The alert's OpenSSL code, or TLS_CLOSED_AFTER_HANDSHAKE without one. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TargetConnect {
  connect: buildConnector.BuildOptions | buildConnector.connector;
  /** The error, or one carrying the TLS alert the socket received before it closed. */
  explain(error: unknown): unknown;
}

/** Most remembered alerts; older ones are dropped (each is normally read at once). */
const MAX_ALERTS = 256;

export function targetConnect(tls: TargetTlsMaterial | undefined, timeoutMs: number): TargetConnect {
  if (tls === undefined) return { connect: { timeout: timeoutMs }, explain: (error) => error };
  const build = buildConnector({ timeout: timeoutMs, ...tls });
  /** Alerts by `<localPort>:<remotePort>` of the socket that received them. */
  const alerts = new Map<string, { code: string; reason?: string }>();

  const connect: buildConnector.connector = (options, callback) =>
    build(options, (error, socket) => {
      if (socket) {
        const s = socket as Socket;
        const key = `${s.localPort ?? ''}:${s.remotePort ?? ''}`;
        s.on('error', (err: NodeJS.ErrnoException & { reason?: string }) => {
          if (typeof err.code !== 'string' || !err.code.startsWith('ERR_SSL_')) return;
          if (alerts.size >= MAX_ALERTS) alerts.delete(alerts.keys().next().value!);
          alerts.set(key, { code: err.code, ...(typeof err.reason === 'string' ? { reason: err.reason } : {}) });
        });
      }
      // The connector's callback is overloaded on its first argument; forward it as received.
      (callback as (...args: unknown[]) => void)(error, socket);
    });

  return {
    connect,
    explain(error) {
      const info = socketInfo(error);
      if (!info) return error;
      const key = `${info.localPort ?? ''}:${info.remotePort ?? ''}`;
      const alert = alerts.get(key);
      alerts.delete(key);
      if (alert) return new TargetTlsError(alert.code, `the target ended the TLS session: ${alert.reason ?? alert.code}`, { cause: error });
      // Closed after the handshake and before one byte of an answer: a refused client certificate.
      if (info.code === 'UND_ERR_SOCKET' && info.bytesRead === 0) {
        return new TargetTlsError(
          'TLS_CLOSED_AFTER_HANDSHAKE',
          'the target closed the connection right after the TLS handshake, without answering (it probably refused the client certificate)',
          { cause: error },
        );
      }
      return error;
    },
  };
}

/** The `socket` facts undici puts on a SocketError (possibly as the cause of a fetch TypeError). */
interface SocketFacts {
  code?: unknown;
  localPort?: number;
  remotePort?: number;
  bytesRead?: number;
}

function socketInfo(error: unknown): SocketFacts | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    const { socket, cause, code } = current as { socket?: unknown; cause?: unknown; code?: unknown };
    if (socket && typeof socket === 'object' && 'localPort' in socket) return { ...(socket as SocketFacts), code };
    current = cause;
  }
  return undefined;
}
