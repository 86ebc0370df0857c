// Original file: proto/layerkeep.proto


export interface SyncRequest {
  'key'?: (string);
  'containerId'?: (string);
  'noWait'?: (boolean);
}

export interface SyncRequest__Output {
  'key': (string);
  'containerId': (string);
  'noWait': (boolean);
}
