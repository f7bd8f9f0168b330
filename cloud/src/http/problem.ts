/**
 * RFC 9457 problem details. `type` is a stable identifier clients may switch on; `title` is the same for
 * every occurrence of a type, `detail` explains this occurrence. docs/problems.md lists every type.
 */
export type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
};

export const PROBLEM_TYPES = {
  'validation-failed': { status: 400, title: 'The request is not valid' },
  'malformed-json': { status: 400, title: 'The request body is not valid JSON' },
  'unsupported-media-type': { status: 415, title: 'The request body has an unsupported media type' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  unauthenticated: { status: 401, title: 'Authentication is required' },
  'invalid-credentials': { status: 401, title: 'The credentials are not valid' },
  'invalid-token': { status: 401, title: 'The token is not valid' },
  forbidden: { status: 403, title: 'You are not allowed to do this' },
  'not-found': { status: 404, title: 'The resource does not exist' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  locked: { status: 423, title: 'Temporarily locked after repeated failures' },
  'sms-code-invalid': { status: 400, title: 'The SMS code is wrong or has expired' },
  'binding-refused': { status: 422, title: 'The house, owner name and ID number do not match the roster' },
  'roster-invalid': { status: 422, title: 'The roster file has invalid rows' },
  'unreadable-file': { status: 422, title: 'The file cannot be read' },
  'sms-delivery-failed': { status: 502, title: 'The SMS provider did not accept the message' },
  'service-unavailable': { status: 503, title: 'A dependency is not reachable' },
  'door-denied': { status: 403, title: 'The key does not open this door' },
  'door-failed': { status: 502, title: 'The door did not open' },
  'door-unreachable': { status: 503, title: 'The door cannot be reached online' },
  'door-state-unknown': { status: 504, title: 'The door did not answer in time; whether it opened is unknown' },
  internal: { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export const PROBLEM_BASE = '/problems/';

/**
 * The one exception routes throw; `app.onError` renders it as application/problem+json.
 *
 * @example
 * throw new Problem('forbidden', 'Staff of community A cannot read community B');
 */
export class Problem extends Error {
  constructor(
    readonly kind: ProblemType,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? PROBLEM_TYPES[kind].title);
    this.name = 'Problem';
  }

  get status(): number {
    return PROBLEM_TYPES[this.kind].status;
  }

  toBody(instance?: string): ProblemBody {
    const { title, status } = PROBLEM_TYPES[this.kind];
    return { type: `${PROBLEM_BASE}${this.kind}`, title, status, ...(this.detail ? { detail: this.detail } : {}), ...(instance ? { instance } : {}), ...this.extensions };
  }
}
