// Original file: proto/layerkeep.proto


export interface DeleteSnapshotReply {
  'deleted'?: (string)[];
}

export interface DeleteSnapshotReply__Output {
  'deleted': (string)[];
}
