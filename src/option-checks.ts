/**
 * Checks of one option or argument each (a number in a range, a boolean, a function, a timeout), with
 * the messages and Node-style codes every misuse error carries: what was expected, the value received.
 * @module
 */
import { describe, invalidArgType, outOfRange } from './errors.js';

/** Largest delay Node's timers accept; longer ones fire at once, so we refuse them. */
export const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * Checks a method's `timeout` argument in ms: a number >= 0, `Infinity` meaning none.
 * @returns the timeout, `Infinity` when it is left out.
 * @throws TypeError for a value that is not a number, RangeError for a negative one.
 */
export function checkTimeout(timeout: unknown): number {
  if (timeout === undefined) return Number.POSITIVE_INFINITY;
  const message = `Expected \`timeout\` to be a number >= 0 or Infinity, got ${describe(timeout)}`;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw invalidArgType(message);
  if (timeout < 0) throw outOfRange(message);
  return timeout;
}

/** What {@link number} allows. */
export interface NumberRule {
  min: number;
  max?: number;
  integer?: boolean;
  /** Whether `Infinity` is allowed (meaning "no limit"). */
  infinite?: boolean;
}

/** The option `name` of `options`: a number under `rule`, or `fallback` when left out. */
export function number(options: object, name: string, fallback: number, rule: NumberRule): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  const allowed = [
    rule.integer ? 'an integer' : 'a finite number',
    `>= ${rule.min}`,
    rule.max === undefined ? '' : `and <= ${rule.max}`,
    rule.infinite ? 'or Infinity' : '',
  ]
    .filter(Boolean)
    .join(' ');
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw invalidArgType(`Expected \`${name}\` to be ${allowed}, got ${describe(value)}`);
  }
  if (value === Number.POSITIVE_INFINITY && rule.infinite) return value;
  const fits =
    Number.isFinite(value) &&
    value >= rule.min &&
    (rule.max === undefined || value <= rule.max) &&
    (!rule.integer || Number.isInteger(value));
  if (!fits) throw outOfRange(`Expected \`${name}\` to be ${allowed}, got ${describe(value)}`);
  return value;
}

/** The option `name` of `options`: a boolean, or `fallback` when left out. */
export function boolean(options: object, name: string, fallback: boolean): boolean {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw invalidArgType(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  return value;
}

/** The option `name` of `options`: a function, or `undefined` when left out. */
export function optionalFunction<T>(options: object, name: string): T | undefined {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw invalidArgType(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
  return value as T;
}
