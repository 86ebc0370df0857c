// Original file: proto/layerkeep.proto

import type { SnapshotInfo as _layerkeep_v1_SnapshotInfo, SnapshotInfo__Output as _layerkeep_v1_SnapshotInfo__Output } from '../../layerkeep/v1/SnapshotInfo.js';
import type { ContainerInfo as _layerkeep_v1_ContainerInfo, ContainerInfo__Output as _layerkeep_v1_ContainerInfo__Output } from '../../layerkeep/v1/ContainerInfo.js';
import type { UploadInfo as _layerkeep_v1_UploadInfo, UploadInfo__Output as _layerkeep_v1_UploadInfo__Output } from '../../layerkeep/v1/UploadInfo.js';
import type { Long } from '@grpc/proto-loader';

export interface KeyState {
  'key'?: (string);
  'exists'?: (boolean);
  'currentManifest'?: (string);
  'generation'?: (number | string | Long);
  'snapshots'?: (number);
  'current'?: (_layerkeep_v1_SnapshotInfo | null);
  'containers'?: (_layerkeep_v1_ContainerInfo)[];
  'pendingUploads'?: (_layerkeep_v1_UploadInfo)[];
  'captureInProgress'?: (boolean);
}

export interface KeyState__Output {
  'key': (string);
  'exists': (boolean);
  'currentManifest': (string);
  'generation': (number);
  'snapshots': (number);
  'current': (_layerkeep_v1_SnapshotInfo__Output | null);
  'containers': (_layerkeep_v1_ContainerInfo__Output)[];
  'pendingUploads': (_layerkeep_v1_UploadInfo__Output)[];
  'captureInProgress': (boolean);
}
