// Daemon configuration: one table of options, read from (highest first) command-line flags,
// LAYERKEEP_* environment variables, a JSON config file, then defaults. The same table drives
// `layerkeep serve --help` and the README's configuration table.
import { readFileSync } from 'node:fs';
import { invalid } from '../errors.js';

export interface OptionSpec {
  name: string;          // flag --name, env LAYERKEEP_NAME (dashes -> underscores), file key "name"
  default: string;
  help: string;
}

export const OPTIONS: OptionSpec[] = [
  { name: 'config', default: '', help: 'JSON config file with any of these options as keys' },
  { name: 'store', default: 'file:///var/lib/layerkeep/store', help: 'object store: file:///dir or s3://bucket/prefix' },
  { name: 'state-dir', default: '/var/lib/layerkeep/state', help: 'local state DB directory (cache + upload journal)' },
  { name: 'socket', default: '/run/layerkeep/layerkeep.sock', help: 'gRPC unix socket, full API (mode 0600, root only; 0660 root:socket-group with socket-group-writes)' },
  { name: 'socket-group', default: '', help: 'group (name or gid) that may use the read-only socket; empty = root only' },
  { name: 'read-only-socket', default: '', help: 'unix socket serving only read-only calls (Health, GetKey, ListKeys, ListSnapshots, PendingUploads, Events), mode 0660 root:socket-group; default <socket dir>/<socket name>-ro.sock when socket-group is set' },
  { name: 'socket-group-writes', default: 'false', help: 'true: the socket group may also use the full API on the main socket (every member can then have the daemon write as root)' },
  { name: 'listen', default: '', help: 'also serve gRPC on host:port over mutual TLS (needs tls-cert, tls-key and tls-client-ca; refuses to start otherwise)' },
  { name: 'tls-cert', default: '', help: 'PEM certificate for --listen' },
  { name: 'tls-key', default: '', help: 'PEM private key for --listen' },
  { name: 'tls-client-ca', default: '', help: 'PEM CA bundle for --listen (required): TCP clients must present a certificate it signed' },
  { name: 'run-dir', default: '/run/layerkeep', help: 'runtime files shared with the hooks (pid file, hook spool, name patterns); must match the wrapper\'s --layerkeep-run-dir' },
  { name: 'docker', default: 'auto', help: 'Docker integration: auto (when Docker\'s socket or data root exists), on, off' },
  { name: 'docker-host', default: 'unix:///var/run/docker.sock', help: 'Docker API endpoint (unix:// or tcp://)' },
  { name: 'docker-root', default: '/var/lib/docker', help: "dockerd's --data-root (config.v2.json, overlay2)" },
  { name: 'wrapper-runtimes', default: 'layerkeep', help: 'comma-separated Docker runtime names that are layerkeep-runc (their hooks capture; events do not)' },
  { name: 'containerd-socket', default: '', help: "containerd's gRPC socket: at start, capture opted-in containers that stopped while the daemon was down (off when empty)" },
  { name: 'containerd-namespaces', default: 'k8s.io,default', help: 'comma-separated containerd namespaces to reconcile' },
  { name: 'containerd-root', default: '/var/lib/containerd', help: "containerd's root (its overlayfs snapshotter keeps the containers' upper dirs there)" },
  { name: 'capture-dir', default: '', help: 'staging for stop-time captures; hard links need it on the file system of the upper dirs (default <docker-root>/overlay2/layerkeep-captures; with --docker=off <containerd-root>/io.containerd.snapshotter.v1.overlayfs/layerkeep-captures)' },
  { name: 'name-patterns', default: '', help: 'comma-separated globs: containers whose name matches are kept under key = name' },
  { name: 'key-scope', default: 'namespace', help: 'keys from Kubernetes pod annotations: namespace (prefixed "<pod namespace>.") or none (as written; every namespace may name every key)' },
  { name: 'image-policy', default: 'refuse', help: 'restore onto a different image: refuse, warn, allow' },
  { name: 'failed-capture-policy', default: 'start', help: 'after a capture of a key failed permanently: start (restore the last good snapshot, with an error in the log) or refuse (until `layerkeep clear-failure --key KEY`)' },
  { name: 'authz-socket', default: '', help: 'serve the Docker authorization plugin protocol on this unix socket (managed plugin mode)' },
  { name: 'authz-timeout', default: '25s', help: 'longest hold of a Docker request by the authz plugin; then it is allowed (a start whose restore still runs is refused)' },
  { name: 'sync-interval', default: '0', help: 'live sync of running opted-in containers: interval (e.g. 30s) for Docker containers without a layerkeep.sync label; 0 = only containers that ask for it' },
  { name: 'sync-freeze-timeout', default: '1s', help: 'longest a live sync keeps a container frozen; past it the container is thawed and the sync retried at the next tick' },
  { name: 'sync-dir', default: '', help: 'live sync mirrors (a copy of each synced upper dir; reflinks where the filesystem has them); must be on the upper dirs\' filesystem (default <docker-root>/overlay2/layerkeep-sync)' },
  { name: 'metrics-listen', default: '', help: 'serve Prometheus /metrics on host:port (off when empty)' },
  { name: 'log-level', default: 'info', help: 'debug, info, warn, error (JSON lines on stderr)' },
  { name: 'shutdown-timeout', default: '20s', help: 'on SIGTERM, how long to let in-flight work finish before journaling it and exiting' },
  { name: 'host', default: '', help: 'host name recorded in manifests (default: os.hostname())' },
];

export type Config = Record<string, string>;

export function envName(name: string): string {
  return 'LAYERKEEP_' + name.toUpperCase().replace(/-/g, '_');
}

export interface ParsedArgs {
  config: Config;
  help: boolean;
}

/** Resolves every option; throws one line naming the bad flag, variable or file. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const known = new Map(OPTIONS.map((o) => [o.name, o]));
  const flags: Config = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      help = true;
      continue;
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(a);
    if (!m || !known.has(m[1])) throw invalid(`unknown option ${a} (see layerkeep serve --help)`);
    let value = m[2];
    if (value === undefined) {
      if (i + 1 >= argv.length) throw invalid(`option --${m[1]} needs a value`);
      value = argv[++i];
    }
    flags[m[1]] = value;
  }
  const fromEnv: Config = {};
  for (const o of OPTIONS) {
    const v = env[envName(o.name)];
    if (v !== undefined) fromEnv[o.name] = v;
  }
  const file = flags.config ?? fromEnv.config ?? '';
  const fromFile: Config = {};
  if (file) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw invalid(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid(`config file ${file} must hold a JSON object`);
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      if (!known.has(k) || k === 'config') throw invalid(`config file ${file}: unknown option "${k}"`);
      fromFile[k] = Array.isArray(v) ? v.join(',') : String(v);
    }
  }
  const config: Config = {};
  for (const o of OPTIONS) config[o.name] = flags[o.name] ?? fromEnv[o.name] ?? fromFile[o.name] ?? o.default;
  if (!config['capture-dir']) {
    config['capture-dir'] = config.docker === 'off'
      ? config['containerd-root'].replace(/\/+$/, '') + '/io.containerd.snapshotter.v1.overlayfs/layerkeep-captures'
      : config['docker-root'].replace(/\/+$/, '') + '/overlay2/layerkeep-captures';
  }
  return { config, help };
}

export function helpText(): string {
  const lines = ['Usage: layerkeep serve [--option=value ...]', '', 'Runs the layerkeep daemon. Each option can also be set as an environment', 'variable (shown) or as a key in the --config JSON file. Flags win over', 'the environment, which wins over the file.', ''];
  for (const o of OPTIONS) {
    lines.push(`  --${o.name}  (${envName(o.name)})`);
    lines.push(`      ${o.help}`);
    lines.push(`      default: ${o.default === '' ? '(empty)' : o.default}`);
  }
  return lines.join('\n') + '\n';
}

/** Markdown table for the README. */
export function markdownTable(): string {
  const rows = OPTIONS.map((o) => `| \`--${o.name}\` | \`${envName(o.name)}\` | ${o.default === '' ? '' : '`' + o.default + '`'} | ${o.help} |`);
  return ['| flag / file key | environment | default | meaning |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}
