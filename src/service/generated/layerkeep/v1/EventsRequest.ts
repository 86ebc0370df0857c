// Original file: proto/layerkeep.proto


export interface EventsRequest {
  'key'?: (string);
}

export interface EventsRequest__Output {
  'key': (string);
}
