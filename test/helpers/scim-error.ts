import { ScimError } from '../../src/scim/errors.js';

/** The ScimError `fn` throws; fails the test when it throws nothing or something else. */
export function errorOf(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw error;
  }
  throw new Error('expected a ScimError');
}
