/**
 * The options of the registry on Redis that need no ioredis types: `RegistryClient.layerRedis` takes
 * them, so that the package's types reach ioredis's only through `RedisRegistry` (a TypeScript
 * project without ioredis still type-checks without `skipLibCheck`). `RedisRegistry` adds an ioredis
 * client or client options of one's own.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"

/**
 * Where Redis is, and the keys and timeout used there.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). Default `redis://127.0.0.1:6379`. */
  readonly url?: string | undefined
  /** The prefix of every key, so that several registries share a Redis. Default `rpyc:registry:`. */
  readonly prefix?: string | undefined
  /** How long Redis may take to answer an operation. Default 2 seconds (the other registrars' timeout). */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * Options of the Redis registrar.
 *
 * @since 0.1.0
 * @category models
 */
export interface RegistrarOptions extends ConnectionOptions {
  /** How long an entry lives after its last registration. Default 240 seconds (RPyC's pruning timeout). */
  readonly ttl?: Duration.DurationInput | undefined
  /**
   * How often a server registered through this registrar re-registers (`Server.autoRegister` reads it).
   * Default a quarter of `ttl`: 60 seconds by default, RPyC's REGISTER interval.
   */
  readonly refreshInterval?: Duration.DurationInput | undefined
  /**
   * The host servers are registered under when they register without a listen address of their own.
   * Default: the address Redis sees this client connect from, as a registry records a REGISTER's
   * source address.
   */
  readonly host?: string | undefined
}
