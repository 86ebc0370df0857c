// The S3 server the tests run against (test/infra/with-rgw.sh starts a throwaway Ceph RGW
// and exports its coordinates) and a throwaway bucket per test file, emptied and deleted after.
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';

// Never let the SDK's credential chain reach for instance metadata from a test.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export interface S3TestEnv {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** The test server's coordinates; throws (failing the test) when they are not set. */
export function s3TestEnv(): S3TestEnv {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    throw new Error(
      'AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set: the S3 tests need a test S3 server; ' +
        'run them with `make test-s3` (test/infra/with-rgw.sh starts a throwaway Ceph RGW and exports these)',
    );
  }
  return { endpoint, accessKeyId, secretAccessKey, region: process.env.AWS_REGION ?? 'us-east-1' };
}

export function adminClient(env: S3TestEnv, endpoint = env.endpoint): S3Client {
  return new S3Client({
    region: env.region,
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
  });
}

export interface TestBucket {
  name: string;
  client: S3Client;
  /** Every object key in the bucket (full keys). */
  keys(prefix?: string): Promise<string[]>;
  /** Deletes every object and multipart upload, then the bucket. */
  destroy(): Promise<void>;
}

export async function createTestBucket(env: S3TestEnv, label: string): Promise<TestBucket> {
  const client = adminClient(env);
  const name = `lk-${label}-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  const keys = async (prefix?: string): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: name, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  };
  return {
    name,
    client,
    keys,
    destroy: async () => {
      const ups = await client.send(new ListMultipartUploadsCommand({ Bucket: name }));
      for (const u of ups.Uploads ?? []) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.Key, UploadId: u.UploadId }));
      }
      for (const k of await keys()) await client.send(new DeleteObjectCommand({ Bucket: name, Key: k }));
      await client.send(new DeleteBucketCommand({ Bucket: name }));
      client.destroy();
    },
  };
}

/**
 * Registers the file's before/after hooks: a bucket named after `label` is created before the
 * tests (and `set` given the server and the bucket) and destroyed after them.
 */
export function useTestBucket(label: string, set: (fixture: { env: S3TestEnv; bucket: TestBucket }) => void): void {
  let bucket: TestBucket | undefined;
  before(async () => {
    const env = s3TestEnv();
    bucket = await createTestBucket(env, label);
    set({ env, bucket });
  });
  after(async () => {
    await bucket?.destroy();
  });
}
