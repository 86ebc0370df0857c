// Original file: proto/layerkeep.proto


export interface ListSnapshotsRequest {
  'key'?: (string);
}

export interface ListSnapshotsRequest__Output {
  'key': (string);
}
