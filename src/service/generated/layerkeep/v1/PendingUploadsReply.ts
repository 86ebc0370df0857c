// Original file: proto/layerkeep.proto

import type { UploadInfo as _layerkeep_v1_UploadInfo, UploadInfo__Output as _layerkeep_v1_UploadInfo__Output } from '../../layerkeep/v1/UploadInfo.js';

export interface PendingUploadsReply {
  'uploads'?: (_layerkeep_v1_UploadInfo)[];
}

export interface PendingUploadsReply__Output {
  'uploads': (_layerkeep_v1_UploadInfo__Output)[];
}
