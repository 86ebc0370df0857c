import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CaptureStopReply as _layerkeep_v1_CaptureStopReply, CaptureStopReply__Output as _layerkeep_v1_CaptureStopReply__Output } from './layerkeep/v1/CaptureStopReply.js';
import type { ContainerHookRequest as _layerkeep_v1_ContainerHookRequest, ContainerHookRequest__Output as _layerkeep_v1_ContainerHookRequest__Output } from './layerkeep/v1/ContainerHookRequest.js';
import type { ContainerInfo as _layerkeep_v1_ContainerInfo, ContainerInfo__Output as _layerkeep_v1_ContainerInfo__Output } from './layerkeep/v1/ContainerInfo.js';
import type { DeleteSnapshotReply as _layerkeep_v1_DeleteSnapshotReply, DeleteSnapshotReply__Output as _layerkeep_v1_DeleteSnapshotReply__Output } from './layerkeep/v1/DeleteSnapshotReply.js';
import type { DeleteSnapshotRequest as _layerkeep_v1_DeleteSnapshotRequest, DeleteSnapshotRequest__Output as _layerkeep_v1_DeleteSnapshotRequest__Output } from './layerkeep/v1/DeleteSnapshotRequest.js';
import type { Event as _layerkeep_v1_Event, Event__Output as _layerkeep_v1_Event__Output } from './layerkeep/v1/Event.js';
import type { EventsRequest as _layerkeep_v1_EventsRequest, EventsRequest__Output as _layerkeep_v1_EventsRequest__Output } from './layerkeep/v1/EventsRequest.js';
import type { GcReply as _layerkeep_v1_GcReply, GcReply__Output as _layerkeep_v1_GcReply__Output } from './layerkeep/v1/GcReply.js';
import type { GcRequest as _layerkeep_v1_GcRequest, GcRequest__Output as _layerkeep_v1_GcRequest__Output } from './layerkeep/v1/GcRequest.js';
import type { GetKeyRequest as _layerkeep_v1_GetKeyRequest, GetKeyRequest__Output as _layerkeep_v1_GetKeyRequest__Output } from './layerkeep/v1/GetKeyRequest.js';
import type { HealthReply as _layerkeep_v1_HealthReply, HealthReply__Output as _layerkeep_v1_HealthReply__Output } from './layerkeep/v1/HealthReply.js';
import type { HealthRequest as _layerkeep_v1_HealthRequest, HealthRequest__Output as _layerkeep_v1_HealthRequest__Output } from './layerkeep/v1/HealthRequest.js';
import type { ImageRef as _layerkeep_v1_ImageRef, ImageRef__Output as _layerkeep_v1_ImageRef__Output } from './layerkeep/v1/ImageRef.js';
import type { KeyState as _layerkeep_v1_KeyState, KeyState__Output as _layerkeep_v1_KeyState__Output } from './layerkeep/v1/KeyState.js';
import type { LayerKeepClient as _layerkeep_v1_LayerKeepClient, LayerKeepDefinition as _layerkeep_v1_LayerKeepDefinition } from './layerkeep/v1/LayerKeep.js';
import type { ListKeysReply as _layerkeep_v1_ListKeysReply, ListKeysReply__Output as _layerkeep_v1_ListKeysReply__Output } from './layerkeep/v1/ListKeysReply.js';
import type { ListKeysRequest as _layerkeep_v1_ListKeysRequest, ListKeysRequest__Output as _layerkeep_v1_ListKeysRequest__Output } from './layerkeep/v1/ListKeysRequest.js';
import type { ListSnapshotsReply as _layerkeep_v1_ListSnapshotsReply, ListSnapshotsReply__Output as _layerkeep_v1_ListSnapshotsReply__Output } from './layerkeep/v1/ListSnapshotsReply.js';
import type { ListSnapshotsRequest as _layerkeep_v1_ListSnapshotsRequest, ListSnapshotsRequest__Output as _layerkeep_v1_ListSnapshotsRequest__Output } from './layerkeep/v1/ListSnapshotsRequest.js';
import type { PendingUploadsReply as _layerkeep_v1_PendingUploadsReply, PendingUploadsReply__Output as _layerkeep_v1_PendingUploadsReply__Output } from './layerkeep/v1/PendingUploadsReply.js';
import type { PendingUploadsRequest as _layerkeep_v1_PendingUploadsRequest, PendingUploadsRequest__Output as _layerkeep_v1_PendingUploadsRequest__Output } from './layerkeep/v1/PendingUploadsRequest.js';
import type { PrepareStartReply as _layerkeep_v1_PrepareStartReply, PrepareStartReply__Output as _layerkeep_v1_PrepareStartReply__Output } from './layerkeep/v1/PrepareStartReply.js';
import type { RestoreProgress as _layerkeep_v1_RestoreProgress, RestoreProgress__Output as _layerkeep_v1_RestoreProgress__Output } from './layerkeep/v1/RestoreProgress.js';
import type { RestoreRequest as _layerkeep_v1_RestoreRequest, RestoreRequest__Output as _layerkeep_v1_RestoreRequest__Output } from './layerkeep/v1/RestoreRequest.js';
import type { RestoreResult as _layerkeep_v1_RestoreResult, RestoreResult__Output as _layerkeep_v1_RestoreResult__Output } from './layerkeep/v1/RestoreResult.js';
import type { SnapshotInfo as _layerkeep_v1_SnapshotInfo, SnapshotInfo__Output as _layerkeep_v1_SnapshotInfo__Output } from './layerkeep/v1/SnapshotInfo.js';
import type { SnapshotReply as _layerkeep_v1_SnapshotReply, SnapshotReply__Output as _layerkeep_v1_SnapshotReply__Output } from './layerkeep/v1/SnapshotReply.js';
import type { SnapshotRequest as _layerkeep_v1_SnapshotRequest, SnapshotRequest__Output as _layerkeep_v1_SnapshotRequest__Output } from './layerkeep/v1/SnapshotRequest.js';
import type { SyncReply as _layerkeep_v1_SyncReply, SyncReply__Output as _layerkeep_v1_SyncReply__Output } from './layerkeep/v1/SyncReply.js';
import type { SyncRequest as _layerkeep_v1_SyncRequest, SyncRequest__Output as _layerkeep_v1_SyncRequest__Output } from './layerkeep/v1/SyncRequest.js';
import type { UploadInfo as _layerkeep_v1_UploadInfo, UploadInfo__Output as _layerkeep_v1_UploadInfo__Output } from './layerkeep/v1/UploadInfo.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  layerkeep: {
    v1: {
      CaptureStopReply: MessageTypeDefinition<_layerkeep_v1_CaptureStopReply, _layerkeep_v1_CaptureStopReply__Output>
      ContainerHookRequest: MessageTypeDefinition<_layerkeep_v1_ContainerHookRequest, _layerkeep_v1_ContainerHookRequest__Output>
      ContainerInfo: MessageTypeDefinition<_layerkeep_v1_ContainerInfo, _layerkeep_v1_ContainerInfo__Output>
      DeleteSnapshotReply: MessageTypeDefinition<_layerkeep_v1_DeleteSnapshotReply, _layerkeep_v1_DeleteSnapshotReply__Output>
      DeleteSnapshotRequest: MessageTypeDefinition<_layerkeep_v1_DeleteSnapshotRequest, _layerkeep_v1_DeleteSnapshotRequest__Output>
      Event: MessageTypeDefinition<_layerkeep_v1_Event, _layerkeep_v1_Event__Output>
      EventsRequest: MessageTypeDefinition<_layerkeep_v1_EventsRequest, _layerkeep_v1_EventsRequest__Output>
      GcReply: MessageTypeDefinition<_layerkeep_v1_GcReply, _layerkeep_v1_GcReply__Output>
      GcRequest: MessageTypeDefinition<_layerkeep_v1_GcRequest, _layerkeep_v1_GcRequest__Output>
      GetKeyRequest: MessageTypeDefinition<_layerkeep_v1_GetKeyRequest, _layerkeep_v1_GetKeyRequest__Output>
      HealthReply: MessageTypeDefinition<_layerkeep_v1_HealthReply, _layerkeep_v1_HealthReply__Output>
      HealthRequest: MessageTypeDefinition<_layerkeep_v1_HealthRequest, _layerkeep_v1_HealthRequest__Output>
      ImageRef: MessageTypeDefinition<_layerkeep_v1_ImageRef, _layerkeep_v1_ImageRef__Output>
      KeyState: MessageTypeDefinition<_layerkeep_v1_KeyState, _layerkeep_v1_KeyState__Output>
      LayerKeep: SubtypeConstructor<typeof grpc.Client, _layerkeep_v1_LayerKeepClient> & { service: _layerkeep_v1_LayerKeepDefinition }
      ListKeysReply: MessageTypeDefinition<_layerkeep_v1_ListKeysReply, _layerkeep_v1_ListKeysReply__Output>
      ListKeysRequest: MessageTypeDefinition<_layerkeep_v1_ListKeysRequest, _layerkeep_v1_ListKeysRequest__Output>
      ListSnapshotsReply: MessageTypeDefinition<_layerkeep_v1_ListSnapshotsReply, _layerkeep_v1_ListSnapshotsReply__Output>
      ListSnapshotsRequest: MessageTypeDefinition<_layerkeep_v1_ListSnapshotsRequest, _layerkeep_v1_ListSnapshotsRequest__Output>
      PendingUploadsReply: MessageTypeDefinition<_layerkeep_v1_PendingUploadsReply, _layerkeep_v1_PendingUploadsReply__Output>
      PendingUploadsRequest: MessageTypeDefinition<_layerkeep_v1_PendingUploadsRequest, _layerkeep_v1_PendingUploadsRequest__Output>
      PrepareStartReply: MessageTypeDefinition<_layerkeep_v1_PrepareStartReply, _layerkeep_v1_PrepareStartReply__Output>
      RestoreProgress: MessageTypeDefinition<_layerkeep_v1_RestoreProgress, _layerkeep_v1_RestoreProgress__Output>
      RestoreRequest: MessageTypeDefinition<_layerkeep_v1_RestoreRequest, _layerkeep_v1_RestoreRequest__Output>
      RestoreResult: MessageTypeDefinition<_layerkeep_v1_RestoreResult, _layerkeep_v1_RestoreResult__Output>
      SnapshotInfo: MessageTypeDefinition<_layerkeep_v1_SnapshotInfo, _layerkeep_v1_SnapshotInfo__Output>
      SnapshotReply: MessageTypeDefinition<_layerkeep_v1_SnapshotReply, _layerkeep_v1_SnapshotReply__Output>
      SnapshotRequest: MessageTypeDefinition<_layerkeep_v1_SnapshotRequest, _layerkeep_v1_SnapshotRequest__Output>
      SyncReply: MessageTypeDefinition<_layerkeep_v1_SyncReply, _layerkeep_v1_SyncReply__Output>
      SyncRequest: MessageTypeDefinition<_layerkeep_v1_SyncRequest, _layerkeep_v1_SyncRequest__Output>
      UploadInfo: MessageTypeDefinition<_layerkeep_v1_UploadInfo, _layerkeep_v1_UploadInfo__Output>
    }
  }
}

