// Original file: proto/layerkeep.proto


export interface GcRequest {
  'dryRun'?: (boolean);
}

export interface GcRequest__Output {
  'dryRun': (boolean);
}
