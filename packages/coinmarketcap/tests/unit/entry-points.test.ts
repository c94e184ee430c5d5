import { describe, expect, it } from 'vitest';
import * as dms from '../../src/dms.js';
import * as main from '../../src/index.js';
import * as testing from '../../src/testing.js';

// Test utilities and internal helpers are not part of the main entry: the fixture server is on
// `@tributary/coinmarketcap/testing`, the rate limiter's clock and token bucket stay internal.

describe('coinmarketcap entry points', () => {
  describe('@tributary/coinmarketcap', () => {
    it('exports the client and no test utility or internal helper', () => {
      const names = Object.keys(main);

      expect(names).toContain('CoinMarketCapClient');
      expect(
        names.filter((name) =>
          ['startFixtureServer', 'TokenBucket', 'systemClock', 'createDmsS3TargetEndpointInput'].includes(
            name,
          ),
        ),
      ).toEqual([]);
    });
  });

  describe('@tributary/coinmarketcap/dms', () => {
    it('exports the DMS setup builders, which are typed by the optional DMS client', () => {
      expect(Object.keys(dms).sort()).toEqual([
        'DmsSetupError',
        'createDmsReplicationTaskInput',
        'createDmsS3TargetEndpointInput',
        'dmsTableMappings',
      ]);
    });
  });

  describe('@tributary/coinmarketcap/testing', () => {
    it('exports the fixture server', () => {
      expect(Object.keys(testing)).toEqual(['startFixtureServer']);
    });
  });
});
