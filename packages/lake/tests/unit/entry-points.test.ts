import { describe, expect, it } from 'vitest';
import * as main from '../../src/index.js';

describe('lake entry points', () => {
  describe('@tributary/lake', () => {
    it('exports storage and no internal helper of the storages', () => {
      const names = Object.keys(main);

      expect(names).toContain('LocalStorage');
      expect(names.filter((name) => ['bodyToBytes', 'checkRange'].includes(name))).toEqual([]);
    });
  });
});
