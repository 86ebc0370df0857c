// Reading the S3 options from flags and the environment (no server involved).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { s3OptionsFrom } from '../../src/s3/options.js';

test('flags win over LAYERKEEP_S3_* which win over AWS_*; sizes, counts and modes are parsed', () => {
  const opts = s3OptionsFrom(
    { 's3-region': 'eu-west-3', 's3-part-size': '32MiB', 's3-concurrency': '8', 's3-checksum': 'when_supported' },
    {
      AWS_REGION: 'us-east-2', AWS_ENDPOINT_URL: 'http://127.0.0.1:9000/', LAYERKEEP_S3_STORAGE_CLASS: 'STANDARD_IA',
      LAYERKEEP_S3_PART_SIZE: '8MiB', LAYERKEEP_S3_SSE: 'kms', LAYERKEEP_S3_SSE_KMS_KEY_ID: 'testkey-1',
    },
  );
  assert.deepEqual(opts, {
    region: 'eu-west-3', endpoint: 'http://127.0.0.1:9000', partSize: 32 * 1024 * 1024, concurrency: 8, storageClass: 'STANDARD_IA',
    sse: 'aws:kms', sseKmsKeyId: 'testkey-1', checksumMode: 'WHEN_SUPPORTED',
  });
  assert.deepEqual(s3OptionsFrom({}, { AWS_ENDPOINT_URL_S3: 'https://s3.example.test', AWS_ENDPOINT_URL: 'http://other' }), {
    endpoint: 'https://s3.example.test',
  });
  assert.deepEqual(s3OptionsFrom({}, {}), {});
});

test('bad values name the flag or variable and what was expected', () => {
  assert.throws(() => s3OptionsFrom({ 's3-part-size': '1MiB' }, {}), /--s3-part-size: part size must be at least 5MiB/);
  assert.throws(() => s3OptionsFrom({}, { LAYERKEEP_S3_PART_SIZE: 'big' }), /LAYERKEEP_S3_PART_SIZE: expected a size like 16MiB/);
  assert.throws(() => s3OptionsFrom({ 's3-concurrency': '0' }, {}), /--s3-concurrency: expected an integer from 1 to 64/);
  assert.throws(() => s3OptionsFrom({ 's3-sse': 'rot13' }, {}), /--s3-sse: expected AES256 or aws:kms/);
  assert.throws(() => s3OptionsFrom({ 's3-checksum': 'always' }, {}), /--s3-checksum: expected when_supported or when_required/);
  assert.throws(() => s3OptionsFrom({}, { AWS_ENDPOINT_URL: 'not a url' }), /AWS_ENDPOINT_URL: not a URL/);
  assert.throws(() => s3OptionsFrom({ 's3-endpoint': 'http://user:pw@127.0.0.1:1' }, {}), /credentials do not belong in the endpoint URL/);
});

test('the SSE-C key file holds 32 raw bytes or their base64; errors never show the key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lk-ssec-'));
  try {
    const key = randomBytes(32);
    await writeFile(join(dir, 'raw'), key);
    await writeFile(join(dir, 'b64'), `${key.toString('base64')}\n`);
    assert.equal(s3OptionsFrom({ 's3-sse-c-key-file': join(dir, 'raw') }, {}).sseCustomerKey, key.toString('base64'));
    assert.equal(s3OptionsFrom({}, { LAYERKEEP_S3_SSE_C_KEY_FILE: join(dir, 'b64') }).sseCustomerKey, key.toString('base64'));
    const short = randomBytes(16).toString('base64');
    await writeFile(join(dir, 'short'), short);
    assert.throws(() => s3OptionsFrom({ 's3-sse-c-key-file': join(dir, 'short') }, {}), (err: Error) => {
      assert.match(err.message, /expected 32 bytes/);
      assert.ok(!err.message.includes(short));
      return true;
    });
    assert.throws(() => s3OptionsFrom({ 's3-sse-c-key-file': join(dir, 'missing') }, {}), /cannot read .*missing: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
