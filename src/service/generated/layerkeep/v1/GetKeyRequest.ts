// Original file: proto/layerkeep.proto


export interface GetKeyRequest {
  'key'?: (string);
}

export interface GetKeyRequest__Output {
  'key': (string);
}
