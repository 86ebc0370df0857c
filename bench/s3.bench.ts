// S3 benchmark against the S3 server in AWS_ENDPOINT_URL (run it through test/infra/with-rgw.sh):
//   snapshot+upload of a generated ~1 GiB layer (LAYERKEEP_BENCH_MB) vs `tar | zstd -T0 > /dev/null`,
//   restore from S3, an upload of the same compressed blob with s3cmd (Debian's client), and the
//   bytes re-sent when an upload is killed at ~90 % and resumed. Prints ratios and peak RSS;
//   asserts nothing (only ratios mean something on a shared machine).
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFaultProxy } from '../test/support/faultProxy.js';
import { generateMixedLayer, type Timed, timeCommand } from './data.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const CHILD = fileURLToPath(new URL('../test/support/s3UploadChild.js', import.meta.url));
const MIB = 1024 * 1024;
const totalMb = Number(process.env.LAYERKEEP_BENCH_MB ?? 1024);
const root = join(process.env.LAYERKEEP_BENCH_DIR ?? tmpdir(), `layerkeep-s3bench-${process.pid}`);
const PART = 16 * MIB;

function ensureTools(): void {
  const missing = ['s3cmd', 'zstd'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (spawnSync('/usr/bin/time', ['true']).status !== 0) missing.push('time');
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(' ')} ...`);
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

// The S3 server's own processes when it runs on this machine (the throwaway Ceph: radosgw,
// ceph-osd, ceph-mon): their CPU time shares the cores with the client being measured.
const SERVER_PROCS = new RegExp(process.env.LAYERKEEP_BENCH_SERVER_PROCS ?? '^(radosgw|ceph-osd|ceph-mon)$');
const TICKS = 100; // USER_HZ, the unit of utime/stime in /proc/PID/stat on Linux

/** CPU seconds used so far by the local S3 server's processes, or null if none runs here. */
function serverCpuS(): number | null {
  let ticks = 0;
  let found = false;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!SERVER_PROCS.test(comm)) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
      found = true;
    } catch { /* exited meanwhile */ }
  }
  return found ? ticks / TICKS : null;
}

/** A timed run and the server CPU it caused. */
function withServerCpu(run: () => Timed): Timed & { serverCpuS: number | null } {
  const before = serverCpuS();
  const t = run();
  const after = serverCpuS();
  return { ...t, serverCpuS: before === null || after === null ? null : after - before };
}

function runChild(args: Record<string, unknown>): Promise<number | null> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('close', (code) => resolve(code));
  });
}

async function main(): Promise<void> {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) throw new Error('AWS_ENDPOINT_URL and test credentials are not set: run through test/infra/with-rgw.sh');
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  ensureTools();
  const bucket = `lk-bench-${randomBytes(4).toString('hex')}`;
  const client = new S3Client({
    endpoint, region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = `s3://${bucket}/bench`;
  const cli = (args: string[], state: string) => timeCommand(process.execPath, [CLI, ...args, '--quiet', '--store', store, '--state-dir', state]);
  rmSync(root, { recursive: true, force: true });
  try {
    const layer = join(root, 'layer');
    console.log(`generating a ~${totalMb} MiB layer ...`);
    generateMixedLayer(layer, totalMb);
    execFileSync('sh', ['-c', `tar -cf - -C ${layer} . > /dev/null`]); // warm the page cache

    const tarZstd = timeCommand('sh', ['-c', `tar --xattrs -cf - -C ${layer} . | zstd -3 -T0 -q > /dev/null`]);
    // The same snapshot into a local directory store: what packing alone costs, for attribution.
    const local = timeCommand(process.execPath, [CLI, 'snapshot', '--quiet', '--key', 'bench', '--store', join(root, 'local-store'), '--state-dir', join(root, 'state-l'), layer]);
    rmSync(join(root, 'local-store'), { recursive: true, force: true });
    const snap = withServerCpu(() => cli(['snapshot', '--key', 'bench', layer], join(root, 'state-a')));
    const restore = withServerCpu(() => cli(['restore', '--key', 'bench', join(root, 'restored')], join(root, 'state-b')));
    const blobFile = join(root, 'blob.tar.zst');
    cli(['export', '--key', 'bench', '-o', blobFile], join(root, 'state-b'));
    const blobSize = statSync(blobFile).size;
    rmSync(join(root, 'restored'), { recursive: true, force: true });

    // The same compressed blob uploaded by s3cmd (multipart, 16 MiB chunks like ours).
    const host = new URL(endpoint).host;
    const cfg = join(root, 's3cmd.cfg');
    writeFileSync(cfg, [
      '[default]', `access_key = ${accessKeyId}`, `secret_key = ${secretAccessKey}`, `host_base = ${host}`, `host_bucket = ${host}`,
      `use_https = ${endpoint.startsWith('https') ? 'True' : 'False'}`, 'signature_v2 = False', 'multipart_chunk_size_mb = 16', '',
    ].join('\n'), { mode: 0o600 });
    const s3cmd = withServerCpu(() => timeCommand('s3cmd', ['-c', cfg, '--no-progress', '-q', 'put', blobFile, `s3://${bucket}/s3cmd/blob`]));
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 's3cmd/blob' }));

    // Resume after a kill at ~90 %: a blob of the same size, killed once 90 % of its parts are
    // journaled, then resumed; the proxy counts the part bytes sent in total.
    const proxy = await startFaultProxy({ target: endpoint });
    const parts = Math.ceil(blobSize / PART);
    const childArgs = {
      stateDir: join(root, 'state-kill'), bucket, prefix: 'resume', endpoint: proxy.url, seed: 'bench', size: blobSize,
      partSize: PART, concurrency: 4, killAfterParts: Math.floor(parts * 0.9),
    };
    mkdirSync(childArgs.stateDir, { recursive: true });
    await runChild(childArgs);
    const code = await runChild({ ...childArgs, killAfterParts: undefined, resumeOnly: true });
    await proxy.close();
    const resent = proxy.stat('UploadPart').bytesIn - blobSize;

    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    const mb = (n: number) => `${(n / MIB).toFixed(0)} MiB`;
    console.log(`\nlayer ${totalMb} MiB -> blob ${mb(blobSize)}; S3 ${endpoint}; part size ${PART / MIB} MiB, concurrency 4`);
    const cores = availableParallelism();
    const cpu = (t: Timed & { serverCpuS?: number | null }) => {
      const server = t.serverCpuS;
      return `${t.cpuS.toFixed(2)} | ${server == null ? '-' : server.toFixed(2)} | ${server == null ? '-' : ((t.cpuS + server) / cores).toFixed(2)}`;
    };
    console.log(`CPU s = user + system; server = the local S3 server's processes; floor = (client + server CPU) / ${cores} cores, the least wall time those cores allow`);
    console.log('| step | seconds | peak RSS | ratio | client CPU s | server CPU s | floor s |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(`| tar \\| zstd -3 -T0 > /dev/null | ${tarZstd.s.toFixed(2)} | ${tarZstd.rssMiB.toFixed(0)} MiB | 1.00x | ${cpu(tarZstd)} |`);
    console.log(`| layerkeep snapshot -> local dir | ${local.s.toFixed(2)} | ${local.rssMiB.toFixed(0)} MiB | ${ratio(local.s, tarZstd.s)} of tar\\|zstd | ${cpu(local)} |`);
    console.log(`| layerkeep snapshot -> S3 | ${snap.s.toFixed(2)} | ${snap.rssMiB.toFixed(0)} MiB | ${ratio(snap.s, tarZstd.s)} of tar\\|zstd, ${ratio(snap.s, local.s)} of local | ${cpu(snap)} |`);
    console.log(`| s3cmd put (same blob) | ${s3cmd.s.toFixed(2)} | ${s3cmd.rssMiB.toFixed(0)} MiB | snapshot = ${ratio(snap.s, s3cmd.s)} of s3cmd | ${cpu(s3cmd)} |`);
    console.log(`| layerkeep restore <- S3 | ${restore.s.toFixed(2)} | ${restore.rssMiB.toFixed(0)} MiB | ${ratio(restore.s, tarZstd.s)} of tar\\|zstd | ${cpu(restore)} |`);
    console.log(`\nkill at 90 % (${childArgs.killAfterParts} of ${parts} parts journaled), resume ${code === 0 ? 'completed' : `FAILED (exit ${code})`}: ` +
      `re-sent ${mb(resent)} (${(resent / PART).toFixed(1)} parts; in flight at most 4)`);
  } finally {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const { ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    const ups = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of ups.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    client.destroy();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`s3 bench failed: ${err.message}`);
  process.exitCode = 1;
});
