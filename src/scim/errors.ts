import { SCHEMA_ERROR } from './types.js';

/**
 * SCIM protocol errors (RFC 7644 §3.12). The only way an error reaches Entra: the SCIM error
 * handler renders any ScimError as-is and turns everything else into a generic 500/503.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.12
 */

export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/** scimType values allowed per status (scimmy's pairing rule; RFC 7644 Table 9). */
const ALLOWED_SCIM_TYPES: Record<number, readonly ScimType[]> = {
  400: ['invalidFilter', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidVers', 'mutability', 'sensitive', 'tooMany'],
  409: ['uniqueness'],
  413: ['tooMany'],
};

export class ScimError extends Error {
  override readonly name = 'ScimError';
  readonly status: number;
  readonly scimType: ScimType | undefined;
  /** Extra response headers (e.g. Retry-After on 503, WWW-Authenticate on 401). */
  readonly headers: Record<string, string>;
  /** The catalogue code (error-catalog.ts) and the parameters its fixed detail was filled with. */
  readonly code: string | undefined;
  readonly params: Readonly<Record<string, string | number>>;

  constructor(
    status: number,
    scimType: ScimType | undefined,
    detail: string,
    headers: Record<string, string> = {},
    catalogued?: { code: string; params: Readonly<Record<string, string | number>> },
  ) {
    super(detail);
    this.code = catalogued?.code;
    this.params = catalogued?.params ?? {};
    if (scimType && !ALLOWED_SCIM_TYPES[status]?.includes(scimType)) {
      throw new TypeError(`scimType ${scimType} is not allowed with status ${status}`);
    }
    this.status = status;
    this.scimType = scimType;
    this.headers = headers;
  }

  get detail(): string {
    return this.message;
  }

  toBody(): ScimErrorBody {
    return renderErrorBody(this.status, this.detail, this.scimType);
  }
}

export interface ScimErrorBody {
  schemas: [typeof SCHEMA_ERROR];
  status: string;
  scimType?: ScimType;
  detail?: string;
}

export function renderErrorBody(status: number, detail?: string, scimType?: ScimType): ScimErrorBody {
  const body: ScimErrorBody = { schemas: [SCHEMA_ERROR], status: String(status) };
  if (scimType) body.scimType = scimType;
  if (detail) body.detail = detail;
  return body;
}

export const badRequest = (scimType: ScimType, detail: string): ScimError => new ScimError(400, scimType, detail);
export const notFound = (detail: string): ScimError => new ScimError(404, undefined, detail);
export const conflict = (detail: string): ScimError => new ScimError(409, 'uniqueness', detail);
