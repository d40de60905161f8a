import { describe, expect, it } from 'vitest';
import { createTenantTurns } from './tenant-turns.js';

describe('tenant turns', () => {
  it("books a flooding tenant's turns one after another and another tenant's next request at the clock", () => {
    const turns = createTenantTurns();
    expect(Array.from({ length: 5 }, () => turns.book('flooder', 'realtime'))).toEqual([0, 1, 2, 3, 4]);
    turns.served('realtime', 2);
    expect(turns.book('steady', 'realtime')).toBe(2);
    expect(turns.book('steady', 'realtime')).toBe(3);
    expect(turns.book('flooder', 'realtime')).toBe(5);
  });

  it('gives a tenant that was quiet no credit for it, and keeps tiers apart', () => {
    const turns = createTenantTurns();
    turns.book('quiet', 'realtime');
    for (let i = 0; i < 100; i++) turns.served('realtime', turns.book('busy', 'realtime'));
    expect(turns.book('quiet', 'realtime')).toBe(99);
    expect(turns.book('quiet', 'internal')).toBe(0);
  });

  it('forgets tenants the clock has passed and still books them at the clock', () => {
    const turns = createTenantTurns();
    for (let t = 0; t < 300; t++) turns.book(`t${t}`, 'batch');
    turns.served('batch', 10);
    expect(turns.book('t7', 'batch')).toBe(10);
    expect(turns.book('t7', 'batch')).toBe(11);
  });
});
