import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { redactSubmittedValues, scimErrorHandler } from '../../src/api/scim-errors.js';
import { StoreContentionError } from '../../src/store/types.js';

/** The SCIM error handler's logging and redaction, without a server. */

function capture() {
  const calls: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => calls.push({ level, fields, msg });
  const request = { id: 'req-1', log: { error: at('error'), warn: at('warn'), info: at('info') } } as unknown as FastifyRequest;
  const sent: { status?: number; headers?: Record<string, string>; body?: unknown } = {};
  const reply = {
    code(status: number) {
      sent.status = status;
      return this;
    },
    headers(headers: Record<string, string>) {
      sent.headers = headers;
      return this;
    },
    type() {
      return this;
    },
    send(body: unknown) {
      sent.body = body;
      return this;
    },
  } as unknown as FastifyReply;
  return { calls, request, reply, sent };
}

describe('scimErrorHandler', () => {
  it('logs a Redis outage as one warning line with a code and no stack, and answers 503 + Retry-After', () => {
    const { calls, request, reply, sent } = capture();
    scimErrorHandler(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' }), request, reply);
    expect(sent.status).toBe(503);
    expect(sent.headers).toEqual({ 'retry-after': '30' });
    expect(calls).toEqual([{ level: 'warn', fields: { code: 'GW_STORE_UNAVAILABLE', reason: 'ECONNREFUSED' }, msg: 'store unavailable' }]);
  });

  it('answers a write that kept losing its race on a membership set 503 + Retry-After: 1', () => {
    const { request, reply, sent } = capture();
    scimErrorHandler(new StoreContentionError(), request, reply);
    expect(sent.status).toBe(503);
    expect(sent.headers).toEqual({ 'retry-after': '1' });
    expect(sent.body).toMatchObject({ status: '503', detail: 'the resource is being changed by other requests; retry later' });
  });

  it('still logs unexpected errors with their stack', () => {
    const { calls, request, reply, sent } = capture();
    scimErrorHandler(new TypeError('boom'), request, reply);
    expect(sent.status).toBe(500);
    expect(calls[0]!.level).toBe('error');
    expect(calls[0]!.fields.err).toBeInstanceOf(TypeError);
  });
});

describe('redactSubmittedValues', () => {
  it('hides quoted literals and email-shaped tokens, and keeps the reason', () => {
    expect(redactSubmittedValues('Invalid filter: unexpected "ada@example.com" near bob@example.org (x)')).toBe(
      'Invalid filter: unexpected "…" near … (x)',
    );
    expect(redactSubmittedValues('unterminated "abc\\')).toBe('unterminated "…"');
  });

  it('takes linear time on long runs without quotes or @', () => {
    const long = `path ${'a'.repeat(200_000)}! ${'"\\"'.repeat(50_000)}\\`;
    expect(redactSubmittedValues(long).startsWith('path aaa')).toBe(true);
  });
});
