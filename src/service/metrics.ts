// Prometheus metrics in the text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/), served on an opt-in port.
import { createServer, type Server } from 'node:http';
import { invalid } from '../errors.js';

type Labels = Record<string, string>;
const labelText = (l: Labels): string => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export interface Counter { inc(labels?: Labels, by?: number): void }
export interface Gauge { set(value: number, labels?: Labels): void }
export interface Histogram { observe(value: number, labels?: Labels): void }

export interface Metrics {
  counter(name: string, help: string): Counter;
  gauge(name: string, help: string, collect?: () => number): Gauge;
  histogram(name: string, help: string, buckets?: number[]): Histogram;
  render(): string;
}

export function createMetrics(): Metrics {
  const families: Family[] = [];
  return {
    counter(name, help) {
      const values = new Map<string, number>();
      families.push({ name, help, type: 'counter', render: () => [...values].map(([l, v]) => `${name}${l} ${v}`) });
      return { inc: (labels = {}, by = 1) => values.set(labelText(labels), (values.get(labelText(labels)) ?? 0) + by) };
    },
    gauge(name, help, collect) {
      const values = new Map<string, number>();
      families.push({
        name, help, type: 'gauge',
        render: () => (collect ? [`${name} ${collect()}`] : [...values].map(([l, v]) => `${name}${l} ${v}`)),
      });
      return { set: (value, labels = {}) => values.set(labelText(labels), value) };
    },
    histogram(name, help, buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]) {
      const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
      families.push({
        name, help, type: 'histogram',
        render: () => {
          const out: string[] = [];
          for (const s of series.values()) {
            buckets.forEach((b, i) => out.push(`${name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`));
            out.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
            out.push(`${name}_sum${labelText(s.labels)} ${s.sum}`);
            out.push(`${name}_count${labelText(s.labels)} ${s.count}`);
          }
          return out;
        },
      });
      return {
        observe(value, labels = {}) {
          const k = labelText(labels);
          let s = series.get(k);
          if (!s) series.set(k, (s = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 }));
          buckets.forEach((b, i) => { if (value <= b) s.counts[i]++; });
          s.sum += value;
          s.count++;
        },
      };
    },
    render() {
      return families.map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.render()].join('\n')).join('\n') + '\n';
    },
  };
}

/** The metrics every daemon exposes; callers record into these. */
export function daemonMetrics(m: Metrics, sources: { pendingUploads: () => number; pendingCaptures: () => number }) {
  return {
    snapshots: m.counter('layerkeep_snapshots_total', 'Snapshots by result (changed, unchanged, failed).'),
    restores: m.counter('layerkeep_restores_total', 'Restores by result (restored, failed).'),
    bytesUp: m.counter('layerkeep_bytes_uploaded_total', 'Compressed bytes written to the store.'),
    bytesDown: m.counter('layerkeep_bytes_downloaded_total', 'Compressed bytes read from the store.'),
    partRetries: m.counter('layerkeep_part_retries_total', 'Upload part attempts that were retried.'),
    snapshotSeconds: m.histogram('layerkeep_snapshot_duration_seconds', 'Snapshot duration (pack + upload).'),
    restoreSeconds: m.histogram('layerkeep_restore_duration_seconds', 'Restore duration (download + unpack).'),
    captureSeconds: m.histogram('layerkeep_capture_duration_seconds', 'Stop-time capture (link copy) duration.'),
    pendingUploads: m.gauge('layerkeep_pending_uploads', 'Uploads journaled but not finished.', sources.pendingUploads),
    pendingCaptures: m.gauge('layerkeep_pending_captures', 'Captures waiting to be snapshotted.', sources.pendingCaptures),
  };
}
export type DaemonMetrics = ReturnType<typeof daemonMetrics>;

export function serveMetrics(m: Metrics, hostPort: string): Promise<Server> {
  const idx = hostPort.lastIndexOf(':');
  if (idx < 0) throw invalid(`invalid metrics-listen ${JSON.stringify(hostPort)}: use host:port`);
  const host = hostPort.slice(0, idx).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(hostPort.slice(idx + 1));
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(m.render());
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot serve metrics on ${hostPort}: ${e.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}
