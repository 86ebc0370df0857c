// A small CRI v1 client (what the kubelet calls), from the proto subset in cri.proto, and the pod
// life cycle the containerd tests drive: a host-network pod under a runtime handler.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { REPO, sleep } from '../oci/helpers.js';

type Call = (req: object, opts: { deadline: Date }, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export interface CriClient {
  call<T = Record<string, unknown>>(method: string, req: object, timeoutMs?: number): Promise<T>;
  close(): void;
}

export function criClient(socket: string): CriClient {
  const def = protoLoader.loadSync(join(REPO, 'test', 'containerd', 'cri.proto'), { keepCase: true, longs: Number, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
  const client = new pkg.runtime.v1.RuntimeService(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as Record<string, Call> & grpc.Client;
  return {
    call<T>(method: string, req: object, timeoutMs = 120_000): Promise<T> {
      return new Promise((resolve, reject) => {
        client[method].call(client, req, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => (err ? reject(err) : resolve(res as T)));
      });
    },
    close: () => client.close(),
  };
}

const HOST_NS = { namespace_options: { network: 'NODE', pid: 'POD', ipc: 'POD' } };

export function podConfig(name: string, namespace: string, annotations: Record<string, string>): object {
  return {
    metadata: { name, uid: `${name}-${Math.random().toString(36).slice(2, 10)}`, namespace, attempt: 0 },
    // no hostname: with the host's network the pod shares the host's UTS namespace (runc refuses one)
    annotations,
    linux: { security_context: HOST_NS },
  };
}

export function containerConfig(name: string, image: string, script: string, mounts: { container_path: string; host_path: string }[] = []): object {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command: ['/bin/sh', '-c', script],
    envs: [{ key: 'PATH', value: '/bin' }],
    mounts,
    linux: { security_context: { namespace_options: HOST_NS.namespace_options } },
  };
}

/** Polls ContainerStatus until the container has exited; returns its status. */
export async function waitExited(cri: CriClient, id: string, timeoutMs = 60_000): Promise<{ exit_code: number; reason: string; message: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cri.call<{ status: { state: string; exit_code: number; reason: string; message: string } }>('ContainerStatus', { container_id: id });
    if (r.status.state === 'CONTAINER_EXITED') return r.status;
    if (Date.now() > deadline) throw new Error(`container ${id} did not exit within ${timeoutMs} ms (state ${r.status.state})`);
    await sleep(100);
  }
}

/** StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox — what the kubelet does on pod delete. */
export async function deletePod(cri: CriClient, podId: string, containerIds: string[]): Promise<void> {
  for (const id of containerIds) {
    await cri.call('StopContainer', { container_id: id, timeout: 10 });
    await cri.call('RemoveContainer', { container_id: id });
  }
  await cri.call('StopPodSandbox', { pod_sandbox_id: podId });
  await cri.call('RemovePodSandbox', { pod_sandbox_id: podId });
}
