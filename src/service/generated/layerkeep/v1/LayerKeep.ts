// Original file: proto/layerkeep.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CaptureStopReply as _layerkeep_v1_CaptureStopReply, CaptureStopReply__Output as _layerkeep_v1_CaptureStopReply__Output } from '../../layerkeep/v1/CaptureStopReply.js';
import type { ContainerHookRequest as _layerkeep_v1_ContainerHookRequest, ContainerHookRequest__Output as _layerkeep_v1_ContainerHookRequest__Output } from '../../layerkeep/v1/ContainerHookRequest.js';
import type { DeleteSnapshotReply as _layerkeep_v1_DeleteSnapshotReply, DeleteSnapshotReply__Output as _layerkeep_v1_DeleteSnapshotReply__Output } from '../../layerkeep/v1/DeleteSnapshotReply.js';
import type { DeleteSnapshotRequest as _layerkeep_v1_DeleteSnapshotRequest, DeleteSnapshotRequest__Output as _layerkeep_v1_DeleteSnapshotRequest__Output } from '../../layerkeep/v1/DeleteSnapshotRequest.js';
import type { Event as _layerkeep_v1_Event, Event__Output as _layerkeep_v1_Event__Output } from '../../layerkeep/v1/Event.js';
import type { EventsRequest as _layerkeep_v1_EventsRequest, EventsRequest__Output as _layerkeep_v1_EventsRequest__Output } from '../../layerkeep/v1/EventsRequest.js';
import type { GcReply as _layerkeep_v1_GcReply, GcReply__Output as _layerkeep_v1_GcReply__Output } from '../../layerkeep/v1/GcReply.js';
import type { GcRequest as _layerkeep_v1_GcRequest, GcRequest__Output as _layerkeep_v1_GcRequest__Output } from '../../layerkeep/v1/GcRequest.js';
import type { GetKeyRequest as _layerkeep_v1_GetKeyRequest, GetKeyRequest__Output as _layerkeep_v1_GetKeyRequest__Output } from '../../layerkeep/v1/GetKeyRequest.js';
import type { HealthReply as _layerkeep_v1_HealthReply, HealthReply__Output as _layerkeep_v1_HealthReply__Output } from '../../layerkeep/v1/HealthReply.js';
import type { HealthRequest as _layerkeep_v1_HealthRequest, HealthRequest__Output as _layerkeep_v1_HealthRequest__Output } from '../../layerkeep/v1/HealthRequest.js';
import type { KeyState as _layerkeep_v1_KeyState, KeyState__Output as _layerkeep_v1_KeyState__Output } from '../../layerkeep/v1/KeyState.js';
import type { ListKeysReply as _layerkeep_v1_ListKeysReply, ListKeysReply__Output as _layerkeep_v1_ListKeysReply__Output } from '../../layerkeep/v1/ListKeysReply.js';
import type { ListKeysRequest as _layerkeep_v1_ListKeysRequest, ListKeysRequest__Output as _layerkeep_v1_ListKeysRequest__Output } from '../../layerkeep/v1/ListKeysRequest.js';
import type { ListSnapshotsReply as _layerkeep_v1_ListSnapshotsReply, ListSnapshotsReply__Output as _layerkeep_v1_ListSnapshotsReply__Output } from '../../layerkeep/v1/ListSnapshotsReply.js';
import type { ListSnapshotsRequest as _layerkeep_v1_ListSnapshotsRequest, ListSnapshotsRequest__Output as _layerkeep_v1_ListSnapshotsRequest__Output } from '../../layerkeep/v1/ListSnapshotsRequest.js';
import type { PendingUploadsReply as _layerkeep_v1_PendingUploadsReply, PendingUploadsReply__Output as _layerkeep_v1_PendingUploadsReply__Output } from '../../layerkeep/v1/PendingUploadsReply.js';
import type { PendingUploadsRequest as _layerkeep_v1_PendingUploadsRequest, PendingUploadsRequest__Output as _layerkeep_v1_PendingUploadsRequest__Output } from '../../layerkeep/v1/PendingUploadsRequest.js';
import type { PrepareStartReply as _layerkeep_v1_PrepareStartReply, PrepareStartReply__Output as _layerkeep_v1_PrepareStartReply__Output } from '../../layerkeep/v1/PrepareStartReply.js';
import type { RestoreProgress as _layerkeep_v1_RestoreProgress, RestoreProgress__Output as _layerkeep_v1_RestoreProgress__Output } from '../../layerkeep/v1/RestoreProgress.js';
import type { RestoreRequest as _layerkeep_v1_RestoreRequest, RestoreRequest__Output as _layerkeep_v1_RestoreRequest__Output } from '../../layerkeep/v1/RestoreRequest.js';
import type { SnapshotReply as _layerkeep_v1_SnapshotReply, SnapshotReply__Output as _layerkeep_v1_SnapshotReply__Output } from '../../layerkeep/v1/SnapshotReply.js';
import type { SnapshotRequest as _layerkeep_v1_SnapshotRequest, SnapshotRequest__Output as _layerkeep_v1_SnapshotRequest__Output } from '../../layerkeep/v1/SnapshotRequest.js';
import type { SyncReply as _layerkeep_v1_SyncReply, SyncReply__Output as _layerkeep_v1_SyncReply__Output } from '../../layerkeep/v1/SyncReply.js';
import type { SyncRequest as _layerkeep_v1_SyncRequest, SyncRequest__Output as _layerkeep_v1_SyncRequest__Output } from '../../layerkeep/v1/SyncRequest.js';

export interface LayerKeepClient extends grpc.Client {
  CaptureStop(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  CaptureStop(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  CaptureStop(argument: _layerkeep_v1_ContainerHookRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  CaptureStop(argument: _layerkeep_v1_ContainerHookRequest, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  captureStop(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  captureStop(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  captureStop(argument: _layerkeep_v1_ContainerHookRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  captureStop(argument: _layerkeep_v1_ContainerHookRequest, callback: grpc.requestCallback<_layerkeep_v1_CaptureStopReply__Output>): grpc.ClientUnaryCall;
  
  DeleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  DeleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  DeleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  DeleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _layerkeep_v1_DeleteSnapshotRequest, callback: grpc.requestCallback<_layerkeep_v1_DeleteSnapshotReply__Output>): grpc.ClientUnaryCall;
  
  Events(argument: _layerkeep_v1_EventsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_Event__Output>;
  Events(argument: _layerkeep_v1_EventsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_Event__Output>;
  events(argument: _layerkeep_v1_EventsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_Event__Output>;
  events(argument: _layerkeep_v1_EventsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_Event__Output>;
  
  Gc(argument: _layerkeep_v1_GcRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  Gc(argument: _layerkeep_v1_GcRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  Gc(argument: _layerkeep_v1_GcRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  Gc(argument: _layerkeep_v1_GcRequest, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  gc(argument: _layerkeep_v1_GcRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  gc(argument: _layerkeep_v1_GcRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  gc(argument: _layerkeep_v1_GcRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  gc(argument: _layerkeep_v1_GcRequest, callback: grpc.requestCallback<_layerkeep_v1_GcReply__Output>): grpc.ClientUnaryCall;
  
  GetKey(argument: _layerkeep_v1_GetKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  GetKey(argument: _layerkeep_v1_GetKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  GetKey(argument: _layerkeep_v1_GetKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  GetKey(argument: _layerkeep_v1_GetKeyRequest, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  getKey(argument: _layerkeep_v1_GetKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  getKey(argument: _layerkeep_v1_GetKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  getKey(argument: _layerkeep_v1_GetKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  getKey(argument: _layerkeep_v1_GetKeyRequest, callback: grpc.requestCallback<_layerkeep_v1_KeyState__Output>): grpc.ClientUnaryCall;
  
  Health(argument: _layerkeep_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _layerkeep_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _layerkeep_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  Health(argument: _layerkeep_v1_HealthRequest, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _layerkeep_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _layerkeep_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _layerkeep_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  health(argument: _layerkeep_v1_HealthRequest, callback: grpc.requestCallback<_layerkeep_v1_HealthReply__Output>): grpc.ClientUnaryCall;
  
  ListKeys(argument: _layerkeep_v1_ListKeysRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _layerkeep_v1_ListKeysRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _layerkeep_v1_ListKeysRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  ListKeys(argument: _layerkeep_v1_ListKeysRequest, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _layerkeep_v1_ListKeysRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _layerkeep_v1_ListKeysRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _layerkeep_v1_ListKeysRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  listKeys(argument: _layerkeep_v1_ListKeysRequest, callback: grpc.requestCallback<_layerkeep_v1_ListKeysReply__Output>): grpc.ClientUnaryCall;
  
  ListSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _layerkeep_v1_ListSnapshotsRequest, callback: grpc.requestCallback<_layerkeep_v1_ListSnapshotsReply__Output>): grpc.ClientUnaryCall;
  
  PendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  PendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  PendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  PendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  pendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  pendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  pendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  pendingUploads(argument: _layerkeep_v1_PendingUploadsRequest, callback: grpc.requestCallback<_layerkeep_v1_PendingUploadsReply__Output>): grpc.ClientUnaryCall;
  
  PrepareStart(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  PrepareStart(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  PrepareStart(argument: _layerkeep_v1_ContainerHookRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  PrepareStart(argument: _layerkeep_v1_ContainerHookRequest, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  prepareStart(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  prepareStart(argument: _layerkeep_v1_ContainerHookRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  prepareStart(argument: _layerkeep_v1_ContainerHookRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  prepareStart(argument: _layerkeep_v1_ContainerHookRequest, callback: grpc.requestCallback<_layerkeep_v1_PrepareStartReply__Output>): grpc.ClientUnaryCall;
  
  Restore(argument: _layerkeep_v1_RestoreRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_RestoreProgress__Output>;
  Restore(argument: _layerkeep_v1_RestoreRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_RestoreProgress__Output>;
  restore(argument: _layerkeep_v1_RestoreRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_RestoreProgress__Output>;
  restore(argument: _layerkeep_v1_RestoreRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_layerkeep_v1_RestoreProgress__Output>;
  
  Snapshot(argument: _layerkeep_v1_SnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  Snapshot(argument: _layerkeep_v1_SnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  Snapshot(argument: _layerkeep_v1_SnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  Snapshot(argument: _layerkeep_v1_SnapshotRequest, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  snapshot(argument: _layerkeep_v1_SnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  snapshot(argument: _layerkeep_v1_SnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  snapshot(argument: _layerkeep_v1_SnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  snapshot(argument: _layerkeep_v1_SnapshotRequest, callback: grpc.requestCallback<_layerkeep_v1_SnapshotReply__Output>): grpc.ClientUnaryCall;
  
  Sync(argument: _layerkeep_v1_SyncRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  Sync(argument: _layerkeep_v1_SyncRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  Sync(argument: _layerkeep_v1_SyncRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  Sync(argument: _layerkeep_v1_SyncRequest, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  sync(argument: _layerkeep_v1_SyncRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  sync(argument: _layerkeep_v1_SyncRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  sync(argument: _layerkeep_v1_SyncRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  sync(argument: _layerkeep_v1_SyncRequest, callback: grpc.requestCallback<_layerkeep_v1_SyncReply__Output>): grpc.ClientUnaryCall;
  
}

export interface LayerKeepHandlers extends grpc.UntypedServiceImplementation {
  CaptureStop: grpc.handleUnaryCall<_layerkeep_v1_ContainerHookRequest__Output, _layerkeep_v1_CaptureStopReply>;
  
  DeleteSnapshot: grpc.handleUnaryCall<_layerkeep_v1_DeleteSnapshotRequest__Output, _layerkeep_v1_DeleteSnapshotReply>;
  
  Events: grpc.handleServerStreamingCall<_layerkeep_v1_EventsRequest__Output, _layerkeep_v1_Event>;
  
  Gc: grpc.handleUnaryCall<_layerkeep_v1_GcRequest__Output, _layerkeep_v1_GcReply>;
  
  GetKey: grpc.handleUnaryCall<_layerkeep_v1_GetKeyRequest__Output, _layerkeep_v1_KeyState>;
  
  Health: grpc.handleUnaryCall<_layerkeep_v1_HealthRequest__Output, _layerkeep_v1_HealthReply>;
  
  ListKeys: grpc.handleUnaryCall<_layerkeep_v1_ListKeysRequest__Output, _layerkeep_v1_ListKeysReply>;
  
  ListSnapshots: grpc.handleUnaryCall<_layerkeep_v1_ListSnapshotsRequest__Output, _layerkeep_v1_ListSnapshotsReply>;
  
  PendingUploads: grpc.handleUnaryCall<_layerkeep_v1_PendingUploadsRequest__Output, _layerkeep_v1_PendingUploadsReply>;
  
  PrepareStart: grpc.handleUnaryCall<_layerkeep_v1_ContainerHookRequest__Output, _layerkeep_v1_PrepareStartReply>;
  
  Restore: grpc.handleServerStreamingCall<_layerkeep_v1_RestoreRequest__Output, _layerkeep_v1_RestoreProgress>;
  
  Snapshot: grpc.handleUnaryCall<_layerkeep_v1_SnapshotRequest__Output, _layerkeep_v1_SnapshotReply>;
  
  Sync: grpc.handleUnaryCall<_layerkeep_v1_SyncRequest__Output, _layerkeep_v1_SyncReply>;
  
}

export interface LayerKeepDefinition extends grpc.ServiceDefinition {
  CaptureStop: MethodDefinition<_layerkeep_v1_ContainerHookRequest, _layerkeep_v1_CaptureStopReply, _layerkeep_v1_ContainerHookRequest__Output, _layerkeep_v1_CaptureStopReply__Output>
  DeleteSnapshot: MethodDefinition<_layerkeep_v1_DeleteSnapshotRequest, _layerkeep_v1_DeleteSnapshotReply, _layerkeep_v1_DeleteSnapshotRequest__Output, _layerkeep_v1_DeleteSnapshotReply__Output>
  Events: MethodDefinition<_layerkeep_v1_EventsRequest, _layerkeep_v1_Event, _layerkeep_v1_EventsRequest__Output, _layerkeep_v1_Event__Output>
  Gc: MethodDefinition<_layerkeep_v1_GcRequest, _layerkeep_v1_GcReply, _layerkeep_v1_GcRequest__Output, _layerkeep_v1_GcReply__Output>
  GetKey: MethodDefinition<_layerkeep_v1_GetKeyRequest, _layerkeep_v1_KeyState, _layerkeep_v1_GetKeyRequest__Output, _layerkeep_v1_KeyState__Output>
  Health: MethodDefinition<_layerkeep_v1_HealthRequest, _layerkeep_v1_HealthReply, _layerkeep_v1_HealthRequest__Output, _layerkeep_v1_HealthReply__Output>
  ListKeys: MethodDefinition<_layerkeep_v1_ListKeysRequest, _layerkeep_v1_ListKeysReply, _layerkeep_v1_ListKeysRequest__Output, _layerkeep_v1_ListKeysReply__Output>
  ListSnapshots: MethodDefinition<_layerkeep_v1_ListSnapshotsRequest, _layerkeep_v1_ListSnapshotsReply, _layerkeep_v1_ListSnapshotsRequest__Output, _layerkeep_v1_ListSnapshotsReply__Output>
  PendingUploads: MethodDefinition<_layerkeep_v1_PendingUploadsRequest, _layerkeep_v1_PendingUploadsReply, _layerkeep_v1_PendingUploadsRequest__Output, _layerkeep_v1_PendingUploadsReply__Output>
  PrepareStart: MethodDefinition<_layerkeep_v1_ContainerHookRequest, _layerkeep_v1_PrepareStartReply, _layerkeep_v1_ContainerHookRequest__Output, _layerkeep_v1_PrepareStartReply__Output>
  Restore: MethodDefinition<_layerkeep_v1_RestoreRequest, _layerkeep_v1_RestoreProgress, _layerkeep_v1_RestoreRequest__Output, _layerkeep_v1_RestoreProgress__Output>
  Snapshot: MethodDefinition<_layerkeep_v1_SnapshotRequest, _layerkeep_v1_SnapshotReply, _layerkeep_v1_SnapshotRequest__Output, _layerkeep_v1_SnapshotReply__Output>
  Sync: MethodDefinition<_layerkeep_v1_SyncRequest, _layerkeep_v1_SyncReply, _layerkeep_v1_SyncRequest__Output, _layerkeep_v1_SyncReply__Output>
}
