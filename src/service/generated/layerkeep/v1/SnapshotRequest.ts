// Original file: proto/layerkeep.proto

import type { ImageRef as _layerkeep_v1_ImageRef, ImageRef__Output as _layerkeep_v1_ImageRef__Output } from '../../layerkeep/v1/ImageRef.js';

export interface SnapshotRequest {
  'key'?: (string);
  'dir'?: (string);
  'image'?: (_layerkeep_v1_ImageRef | null);
  'allowDevices'?: (boolean);
  'force'?: (boolean);
}

export interface SnapshotRequest__Output {
  'key': (string);
  'dir': (string);
  'image': (_layerkeep_v1_ImageRef__Output | null);
  'allowDevices': (boolean);
  'force': (boolean);
}
