/**
 * The few logger methods delivery needs, in pino's `(obj, msg)` shape so a Fastify or pino
 * logger can be passed as is. Callers log ids and codes only: never bodies, headers or tokens.
 * @see https://getpino.io/#/docs/api?id=logging-method-parameters
 */
export interface DeliveryLogger {
  debug(obj: DeliveryLogFields, msg: string): void;
  info(obj: DeliveryLogFields, msg: string): void;
  warn(obj: DeliveryLogFields, msg: string): void;
  error(obj: DeliveryLogFields, msg: string): void;
}

/** The fixed log keys of delivery (see house-style §3.3). */
export interface DeliveryLogFields {
  jobId?: string | undefined;
  connectionId?: string;
  type?: string;
  resourceId?: string;
  revision?: number;
  code?: string;
  [key: string]: unknown;
}

/** A logger that drops everything, for callers that do not care (tests, one-off tools). */
export const silentLogger: DeliveryLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
