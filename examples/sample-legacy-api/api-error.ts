/**
 * An answer the fake API gives on purpose (404, 409, 400…), thrown from route code and rendered
 * as-is by the app's error handler. Keeps handlers linear: look up, throw if absent, answer.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`${statusCode} ${JSON.stringify(body)}`);
  }
}
