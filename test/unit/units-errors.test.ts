// The bottom layer: one duration/size parser with explicit units, and the error kinds with
// their single mappings to gRPC codes and CLI exit codes.
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { describe, it } from 'node:test';
import { closest, errorJson, exitCodeOf, hintOf } from '../../src/cli/errors.js';
import { conflict, ERROR_KINDS, invalid, kindOf, LayerkeepError, notFound, UsageError } from '../../src/errors.js';
import { RefConflictError } from '../../src/ops/publish.js';
import { S3OpenError } from '../../src/s3/open.js';
import { parsePartSize } from '../../src/s3/options.js';
import { grpcCodeOf, grpcStatusOf } from '../../src/service/status.js';
import { PreconditionFailedError } from '../../src/store/types.js';
import { parseDuration, parseSize } from '../../src/units.js';

describe('units', () => {
  it('parses durations with units; a bare number is seconds', () => {
    assert.equal(parseDuration('500ms', 'x'), 500);
    assert.equal(parseDuration('90s', 'x'), 90_000);
    assert.equal(parseDuration('15m', 'x'), 900_000);
    assert.equal(parseDuration('24h', 'x'), 86_400_000);
    assert.equal(parseDuration('7d', 'x'), 7 * 86_400_000);
    assert.equal(parseDuration('1.5s', 'x'), 1500);
    assert.equal(parseDuration('30', 'x'), 30_000);
    assert.equal(parseDuration('0', 'x'), 0);
  });
  it('refuses malformed durations as invalid input naming the option', () => {
    for (const bad of ['', 's', '-1s', '10 parsecs', '1w', '1e3']) {
      assert.throws(() => parseDuration(bad, '--grace'), (e: unknown) => kindOf(e) === 'invalid' && /--grace: expected a duration/.test((e as Error).message), bad);
    }
  });
  it('parses sizes with binary units; a bare number is bytes', () => {
    assert.equal(parseSize('16MiB', 'x'), 16 * 1024 * 1024);
    assert.equal(parseSize('5GiB', 'x'), 5 * 1024 ** 3);
    assert.equal(parseSize('512k', 'x'), 512 * 1024);
    assert.equal(parseSize('4096', 'x'), 4096);
    assert.equal(parseSize('1 MB', 'x'), 1024 * 1024);
    for (const bad of ['', 'MiB', '5 parsecs', '-1', '1e3']) assert.throws(() => parseSize(bad, 'size'), /size: expected a size/, bad);
  });
  it('keeps the S3 part size limits on top of the shared parser', () => {
    assert.equal(parsePartSize('16MiB', 'p'), 16 * 1024 * 1024);
    assert.throws(() => parsePartSize('1MiB', 'p'), /at least 5MiB/);
    assert.throws(() => parsePartSize('6GiB', 'p'), /at most 5GiB/);
  });
});

describe('error kinds', () => {
  it('map to one gRPC code each, a ref conflict to ABORTED (not INTERNAL)', () => {
    const codes = new Set(ERROR_KINDS.map((k) => grpcCodeOf(new LayerkeepError(k, 'x'))));
    assert.equal(codes.size, ERROR_KINDS.length);
    assert.equal(grpcCodeOf(new RefConflictError('k', 'sha256:a', 'sha256:b')), grpc.status.ABORTED);
    assert.equal(grpcCodeOf(new PreconditionFailedError('refs/k')), grpc.status.ABORTED);
    assert.equal(grpcCodeOf(notFound('key k has no snapshot')), grpc.status.NOT_FOUND);
    assert.equal(grpcCodeOf(invalid('whatever the text says')), grpc.status.INVALID_ARGUMENT);
    assert.equal(grpcCodeOf(Object.assign(new Error('gone'), { code: 'ENOENT' })), grpc.status.NOT_FOUND);
    // message text no longer decides: a bare Error saying "not found" is internal
    assert.equal(grpcCodeOf(new Error('invalid thing not found')), grpc.status.INTERNAL);
    assert.equal(grpcCodeOf(new S3OpenError('no-bucket', 'cannot open s3://b: no such bucket')), grpc.status.NOT_FOUND);
    assert.equal(grpcCodeOf(new S3OpenError('access-denied', 'denied')), grpc.status.PERMISSION_DENIED);
    const st = grpcStatusOf(conflict('first line\nsecond', { hint: 'do this' }));
    assert.equal(st.details, 'first line');
    assert.deepEqual(st.metadata?.get('layerkeep-hint'), ['do this']);
  });
  it('map to CLI exit codes and hints without reading the message', () => {
    assert.equal(exitCodeOf(new UsageError('x')), 2);
    assert.equal(exitCodeOf(invalid('x')), 2);
    assert.equal(exitCodeOf(notFound('x')), 1);
    assert.equal(exitCodeOf(new Error('must be invalid')), 1);
    assert.match(hintOf(new RefConflictError('k', 'sha256:a', 'sha256:b'))!, /layerkeep ls --key k/);
    assert.match(hintOf(Object.assign(new Error('x'), { code: 'ENOSPC' }))!, /disk is full/);
    assert.match(hintOf(Object.assign(new Error('x'), { code: 'EACCES' }))!, /needs root/);
    assert.equal(hintOf(new Error('RefConflictError native addon not built')), undefined);
  });
  it('give one JSON shape that names the object', () => {
    assert.deepEqual(errorJson(notFound('no such thing', { object: '/srv/state', hint: 'h' })),
      { error: { kind: 'not-found', message: '/srv/state: no such thing', hint: 'h', object: '/srv/state' } });
    assert.deepEqual(errorJson(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: '/x' })).error.object, '/x');
  });
  it('suggest the closest name', () => {
    assert.equal(closest('kye', ['key', 'keep', 'store']), 'key');
    assert.equal(closest('snapshto', ['snapshot', 'restore']), 'snapshot');
    assert.equal(closest('zzzzzz', ['key', 'store']), undefined);
  });
});
