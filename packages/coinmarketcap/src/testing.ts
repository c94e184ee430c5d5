// The `@tributary/coinmarketcap/testing` entry: a loopback server that answers like the
// CoinMarketCap Pro API, for tests and examples. Kept out of the main entry, which is what an
// application ships.

export type { FixtureFault, FixtureServer, FixtureServerOptions, RecordedRequest } from './fixture-server.js';
export { startFixtureServer } from './fixture-server.js';
