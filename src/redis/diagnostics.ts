/**
 * The Redis store's `node:diagnostics_channel` channels: an outage and its end. Every publish is
 * guarded by `hasSubscribers`.
 *
 * | channel | payload | when |
 * |---|---|---|
 * | `data-buffer:redis:outage` | {@link RedisOutageMessage} | a write to Redis failed and will be retried (once per outage) |
 * | `data-buffer:redis:recovered` | {@link RedisRecoveredMessage} | the first write that succeeded after an outage |
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** Names of the Redis store's channels. */
export const redisChannelNames = Object.freeze({
  /** A write to Redis failed (or got no reply for a second) and will be retried: {@link RedisOutageMessage}. */
  outage: 'data-buffer:redis:outage',
  /** The first write that succeeded after an outage: {@link RedisRecoveredMessage}. */
  recovered: 'data-buffer:redis:recovered',
});

/** Payload of `data-buffer:redis:outage`. */
export interface RedisOutageMessage {
  /** The store (as `redisStore` returned it). */
  readonly store: object;
  /** Its namespace. */
  readonly namespace: string;
  /** What the failed write ran into. */
  readonly error: unknown;
  /** Items held in this process, waiting to be written. */
  readonly pendingItems: number;
}

/** Payload of `data-buffer:redis:recovered`. */
export interface RedisRecoveredMessage {
  /** The store (as `redisStore` returned it). */
  readonly store: object;
  /** Its namespace. */
  readonly namespace: string;
  /** From the first failed write to the first one that succeeded, in ms. */
  readonly downtime: number;
  /** Writes sent again during the outage. */
  readonly retries: number;
}

/** The channels, created once. */
export const redisChannels = {
  outage: diagnosticsChannel.channel(redisChannelNames.outage),
  recovered: diagnosticsChannel.channel(redisChannelNames.recovered),
};
