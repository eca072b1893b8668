/**
 * The protocol config: RPyC's `protocol_config` keys in camelCase, with RPyC's defaults, and how
 * they combine.
 *
 * @since 0.1.0
 */
export {
  apply,
  CLASSIC_OVERRIDES,
  type ConfigInput,
  DEFAULT_CONFIG,
  LIMIT_KEYS,
  make,
  type ProtocolConfig,
  SAFE_ATTRS
} from "../internal/base/Config.js"
