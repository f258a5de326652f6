/**
 * The error classes are branded, so `instanceof` holds across two copies of the package in one process
 * (its ESM and CommonJS builds), while a user's own subclass still checks its own prototype chain.
 */
import { describe, expect, it, vi } from 'vitest';

/** A second, separate copy of the errors module, as a second build of the package would load. */
async function twoCopies() {
  const a = await import('../src/errors.js');
  vi.resetModules();
  const b = await import('../src/errors.js');
  return { a, b };
}

describe('error brands', () => {
  it('makes instanceof hold across copies, class by class', async () => {
    const { a, b } = await twoCopies();
    expect(a.NonRetryableError).not.toBe(b.NonRetryableError);
    expect(new a.NonRetryableError('x')).toBeInstanceOf(b.NonRetryableError);
    expect(new a.NonRetryableError('x')).toBeInstanceOf(b.DataBufferError);
    expect(new a.ShutdownError(1)).toBeInstanceOf(b.ShutdownError);
    expect(new a.ShutdownError(1)).not.toBeInstanceOf(b.NonRetryableError);
    expect(new a.BufferFullError('x')).not.toBeInstanceOf(b.BufferClosedError);
    expect(new a.ShutdownError(1)).toBeInstanceOf(Error);
  });

  it('is not fooled by look-alikes, and never throws', async () => {
    const { b } = await twoCopies();
    expect({ code: 'ERR_NON_RETRYABLE' }).not.toBeInstanceOf(b.NonRetryableError);
    expect(Object.assign(new Error('x'), { code: 'ERR_NON_RETRYABLE' })).not.toBeInstanceOf(
      b.DataBufferError,
    );
    for (const value of [null, undefined, 42, 'ERR_NON_RETRYABLE']) {
      expect(b.NonRetryableError[Symbol.hasInstance](value)).toBe(false);
    }
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(proxy instanceof b.NonRetryableError).toBe(false);
  });

  it("keeps a user's subclass to its own prototype chain", async () => {
    const { a, b } = await twoCopies();
    class ConstraintViolation extends a.NonRetryableError {}
    expect(new ConstraintViolation('dup')).toBeInstanceOf(ConstraintViolation);
    expect(new ConstraintViolation('dup')).toBeInstanceOf(b.NonRetryableError);
    expect(new a.NonRetryableError('x')).not.toBeInstanceOf(ConstraintViolation);
    expect(new ConstraintViolation('dup').name).toBe('ConstraintViolation');
    expect(new ConstraintViolation('dup').code).toBe('ERR_NON_RETRYABLE');
  });
});
