// Live sync intervals from the daemon flag and from container labels (hostile input).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { intervalFor } from '../../src/sync/docker-sync.js';
import { sameSigs } from '../../src/sync/mirror.js';
import { parseSyncInterval } from '../../src/sync/sync.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('live sync interval', () => {
  it('parses durations, plain seconds and 0 (off)', () => {
    assert.equal(parseSyncInterval('30s', 'x'), 30_000);
    assert.equal(parseSyncInterval('2m', 'x'), 120_000);
    assert.equal(parseSyncInterval('45', 'x'), 45_000);
    assert.equal(parseSyncInterval('1500ms', 'x'), 1500);
    assert.equal(parseSyncInterval('0', 'x'), 0);
  });
  it('refuses garbage and intervals under a second', () => {
    for (const v of ['', 'soon', '-5s', '1e3', '500ms', '0.5s', '30s; rm -rf /']) assert.throws(() => parseSyncInterval(v, 'x'), /sync interval/);
  });
  it('a label wins over the default; a bad label means off, never the default', () => {
    const warnings: string[] = [];
    const log = { ...quiet, warn: (m: string) => { warnings.push(m); } };
    assert.equal(intervalFor({}, 'layerkeep.sync', 30_000, log), 30_000);
    assert.equal(intervalFor({ 'layerkeep.sync': '2s' }, 'layerkeep.sync', 0, log), 2000);
    assert.equal(intervalFor({ 'layerkeep.sync': '0' }, 'layerkeep.sync', 30_000, log), 0);
    assert.equal(intervalFor({ 'layerkeep.sync': '\u0000bad' }, 'layerkeep.sync', 30_000, log), 0);
    assert.equal(warnings.length, 1);
  });
  it('signatures with a racy entry are never "unchanged"', () => {
    const a = new Map([['', 'r'], ['f', '1']]);
    assert.ok(sameSigs(a, new Map(a)));
    assert.ok(!sameSigs(new Map([['', 'r'], ['f', 'racy:1']]), new Map([['', 'r'], ['f', 'racy:1']])));
    assert.ok(!sameSigs(a, new Map([['', 'r'], ['f', '2']])));
    assert.ok(!sameSigs(a, new Map([['', 'r']])));
  });
});
