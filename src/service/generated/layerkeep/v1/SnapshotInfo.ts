// Original file: proto/layerkeep.proto

import type { ImageRef as _layerkeep_v1_ImageRef, ImageRef__Output as _layerkeep_v1_ImageRef__Output } from '../../layerkeep/v1/ImageRef.js';
import type { Long } from '@grpc/proto-loader';

export interface SnapshotInfo {
  'key'?: (string);
  'manifestDigest'?: (string);
  'created'?: (string);
  'host'?: (string);
  'image'?: (_layerkeep_v1_ImageRef | null);
  'blobSize'?: (number | string | Long);
  'uncompressedSize'?: (number | string | Long);
  'files'?: (number | string | Long);
  'current'?: (boolean);
  'status'?: (string);
}

export interface SnapshotInfo__Output {
  'key': (string);
  'manifestDigest': (string);
  'created': (string);
  'host': (string);
  'image': (_layerkeep_v1_ImageRef__Output | null);
  'blobSize': (number);
  'uncompressedSize': (number);
  'files': (number);
  'current': (boolean);
  'status': (string);
}
