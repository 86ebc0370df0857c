// Original file: proto/layerkeep.proto


export interface DeleteSnapshotRequest {
  'key'?: (string);
  'manifestDigest'?: (string);
}

export interface DeleteSnapshotRequest__Output {
  'key': (string);
  'manifestDigest': (string);
}
